"""How the OpenAPI document is built: error responses, security schemes, the request-id header.

Public names are re-exported by :mod:`memorylink.server.openapi`, which also prints the
document (a separate module so ``python -m memorylink.server.openapi`` runs it fresh).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from memorylink.server._constraints import apply_constraints
from memorylink.server.auth.settings import AuthSettings
from memorylink.server.errors import REQUEST_ID_HEADER, ErrorResponse

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["PUBLIC_PATHS", "SECURITY_SCHEMES", "build_openapi", "error_responses", "schema_text"]

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key from `memorylink keys create` (shown once at creation).",
    },
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key or a JWT access token as `Authorization: Bearer <credential>`.",
    },
    "OAuth2": {
        "type": "oauth2",
        "description": "A JWT access token from the OAuth2 password flow, for users made with `memorylink users add`.",
        "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
    },
}
_SECURITY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}, {"OAuth2": []}]

PUBLIC_PATHS = frozenset({"/health", "/health/ready", "/api/v1/auth/token"})
"""Paths answered without credentials (``/docs`` and ``/openapi.json`` are not in the schema)."""

_ERRORS: dict[int, tuple[str, str, str, dict[str, Any]]] = {
    400: ("Bad request", "bad_request", "the request could not be read", {}),
    401: ("No valid credentials", "unauthenticated", "send an API key as X-API-Key or a bearer token", {}),
    403: ("The credential may not do this", "forbidden", "this credential lacks the write scope", {}),
    404: ("Not found (or not visible to this caller)", "not_found", "memory '0d2jq3m5k8t9v' not found", {}),
    405: ("Method not allowed", "method_not_allowed", "method PUT is not allowed here", {}),
    409: ("Conflict", "conflict", "that name is taken", {}),
    413: (
        "The request body is too large",
        "payload_too_large",
        "the request body is larger than the limit max_body_bytes (1048576 bytes)",
        {"limit": "max_body_bytes", "maximum": 1048576, "actual": 2000000},
    ),
    422: (
        "Invalid input (request validation, or a library validation or limit error)",
        "validation_error",
        "body.text: Field required",
        {"errors": [{"loc": ["body", "text"], "msg": "Field required", "type": "missing"}]},
    ),
    429: (
        "Rate limit reached",
        "rate_limited",
        "the writes budget of this key is spent; retry in 12 s",
        {"budget": "writes", "limit": "60/minute", "retry_after": 12},
    ),
    500: ("Unexpected server error", "internal_error", "the server met an unexpected error", {}),
    503: ("The store is unavailable", "store_closed", "the memory store is closed", {}),
}

_REQUEST_ID_DOC = {
    "description": "The request's id (the caller's, when sane, else a new one); also in every error body.",
    "schema": {"type": "string"},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the error statuses a route can answer, each with an example body."""
    found: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, code, message, details = _ERRORS[status]
        example = {
            "error": {
                "code": code,
                "message": message,
                "details": details,
                "request_id": "9f1c2e7a5b3d4c8e",
                "timestamp": "2026-01-31T12:00:00Z",
            }
        }
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": description,
            "content": {"application/json": {"example": example}},
        }
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}}
        if status == 429:
            entry["headers"] = {
                name: {"schema": {"type": "integer"}, "description": text}
                for name, text in (
                    ("Retry-After", "seconds to wait"),
                    ("RateLimit-Limit", "requests allowed in the window"),
                    ("RateLimit-Remaining", "requests left in the window"),
                    ("RateLimit-Reset", "seconds until the window resets"),
                )
            }
        found[status] = entry
    return found


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with the security schemes and the request-id header added.

    The constraints the store enforces are stated with the served store's limits and dimension.
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    store = app.state.store
    auth = getattr(app.state.settings, "auth", None) or AuthSettings()
    apply_constraints(
        schema,
        {
            **store.settings.limits.model_dump(),
            "dimension": store.embedder.dimension,
            "min_password_length": auth.min_password_length,
        },
    )
    components = schema.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    validation_error = _documented(error_responses(422)[422])
    internal_error = _documented(error_responses(500)[500])
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if path not in PUBLIC_PATHS and "security" not in operation:
                operation["security"] = _SECURITY
            responses = operation.get("responses", {})
            if _is_fastapi_default_422(responses.get("422")):
                # FastAPI documents its own validation body; this server answers ErrorResponse.
                responses["422"] = json.loads(json.dumps(validation_error))
            # Any route can meet an unexpected fault; the last-resort handler answers it with this body.
            responses.setdefault("500", json.loads(json.dumps(internal_error)))
            for response in responses.values():
                response.setdefault("headers", {})[REQUEST_ID_HEADER] = _REQUEST_ID_DOC
    schemas = components.get("schemas", {})
    if not _refers(schema["paths"], "#/components/schemas/HTTPValidationError"):
        schemas.pop("HTTPValidationError", None)
        if not _refers(
            {k: v for k, v in schemas.items() if k != "ValidationError"}, "#/components/schemas/ValidationError"
        ):
            schemas.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


def _documented(entry: dict[str, Any]) -> dict[str, Any]:
    """A ``responses=`` entry as it appears in the document (the model as a schema reference)."""
    content = dict(entry["content"]["application/json"])
    content["schema"] = {"$ref": "#/components/schemas/ErrorResponse"}
    return {"description": entry["description"], "content": {"application/json": content}}


def _is_fastapi_default_422(response: dict[str, Any] | None) -> bool:
    if response is None:
        return False
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref") == "#/components/schemas/HTTPValidationError")


def _refers(value: Any, ref: str) -> bool:
    return ref in json.dumps(value)


def schema_text() -> str:
    """The published document (``docs/openapi.json``): an app over a throwaway store, default settings."""
    from memorylink import MemoryStore
    from memorylink.embedders.hashing import HashingEmbedder
    from memorylink.server.app import create_app
    from memorylink.server.principal import NoAuthGuard

    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        # The schema does not depend on who is let in; a guard that needs no user table will do.
        app = create_app(store, guard=NoAuthGuard("default"))
        return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
