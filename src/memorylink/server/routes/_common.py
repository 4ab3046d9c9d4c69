"""What every route module shares: the store of the app, JSON responses, JSON query parameters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from memorylink.errors import ValidationError

if TYPE_CHECKING:
    from memorylink import MemoryStore

__all__ = ["json_response", "parse_json_object", "store_of"]


def store_of(request: Request) -> MemoryStore:
    """The store the app serves (``app.state.store``)."""
    store: MemoryStore = request.app.state.store
    return store


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
    if not isinstance(value, dict):
        raise ValidationError(f"{field} must be a JSON object", field=field)
    return value
