"""What every route module shares: the store of the app, scoped body arguments, JSON responses and parameters."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from memorylink.errors import ValidationError
from memorylink.server.errors import ApiError
from memorylink.server.principal import Principal, resolve_user

if TYPE_CHECKING:
    from memorylink import MemoryStore

__all__ = ["json_response", "parse_json_object", "refuse_repeated_query", "scoped_arguments", "store_of"]


def store_of(request: Request) -> MemoryStore:
    """The store the app serves (``app.state.store``)."""
    store: MemoryStore = request.app.state.store
    return store


def scoped_arguments(
    body: BaseModel, principal: Principal, *, exclude: str | None = None, write: bool = False
) -> dict[str, Any]:
    """A request body as the keyword arguments of the store call it maps onto, for this caller.

    ``user_id`` is resolved by :func:`~memorylink.server.principal.resolve_user` (non-admins: only
    their own); with ``write``, a body naming no user acts for the caller's own user. ``exclude``
    names the field the store takes positionally (``text``, ``query``, ``url`` ...).
    """
    values = body.model_dump(exclude={exclude} if exclude else None)
    named = values.get("user_id")
    if write and named == "":
        named = None  # the store reads an empty user_id on a write as "not given"
    user_id = resolve_user(principal, named)
    values["user_id"] = (user_id or principal.user_id) if write else user_id
    return values


def json_response(value: BaseModel | Sequence[BaseModel] | dict[str, Any], status_code: int = 200) -> Response:
    """A JSON response of a library model as the model serializes itself.

    The store's models are already validated; returning a Response skips FastAPI's second
    validation pass of the response model (which stays declared, for the OpenAPI schema).
    """
    if isinstance(value, BaseModel):
        body = value.model_dump_json().encode()
    elif isinstance(value, Sequence):
        body = b"[" + b",".join(item.model_dump_json().encode() for item in value) + b"]"
    else:
        body = json.dumps(value).encode()
    return Response(body, status_code=status_code, media_type="application/json")


def parse_json_object(raw: str | None, field: str) -> dict[str, Any] | None:
    """A JSON object given as a query parameter (``?filter={"tags":{"any":["x"]}}``)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValidationError(f"{field} is not valid JSON: {error.msg}", field=field) from None
    except (ValueError, RecursionError):
        # Valid JSON the parser still refuses: an integer past Python's digit limit, or nesting
        # past the recursion limit (the filter language allows far less of either).
        raise ValidationError(f"{field} is too large or too deeply nested to read", field=field) from None
    if not isinstance(value, dict):
        raise ValidationError(f"{field} must be a JSON object", field=field)
    return value


async def refuse_repeated_query(request: Request) -> None:
    """A router dependency: a single-valued query parameter given twice is a 422, not its last value.

    ``?user_id=a&user_id=b`` would otherwise act on ``b`` alone; only parameters the schema
    declares as arrays (``tags``) may repeat.
    """
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = [name for name, count in counts.items() if count > 1]
    if not repeated:
        return
    route = request.scope.get("route")
    single = _single_valued(request.app).get((getattr(route, "path_format", ""), request.method.lower()), ())
    for name in repeated:
        if name in single:
            error = {"loc": ["query", name], "msg": "given more than once; give it once", "type": "repeated"}
            raise ApiError(422, "validation_error", f"query.{name}: {error['msg']}", {"errors": [error]})


def _single_valued(app: Any) -> Mapping[tuple[str, str], frozenset[str]]:
    """Per (path, method), the query parameters the OpenAPI document does not declare as arrays (built once)."""
    found: dict[tuple[str, str], frozenset[str]] | None = getattr(app.state, "single_valued_query", None)
    if found is None:
        found = {
            (path, method): frozenset(
                p["name"] for p in operation.get("parameters", ()) if p["in"] == "query" and not _is_array(p["schema"])
            )
            for path, item in app.openapi()["paths"].items()
            for method, operation in item.items()
        }
        app.state.single_valued_query = found
    return found


def _is_array(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "array" or any(branch.get("type") == "array" for branch in schema.get("anyOf", ()))
