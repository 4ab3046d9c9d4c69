"""The server's one error body, and the exception routes raise to produce it.

Every error response, validation included, is::

    {"error": {"code": "...", "message": "...", "details": {...}, "request_id": "...", "timestamp": "..."}}

This is the one module where errors become HTTP statuses: :func:`status_for` maps the
library's errors, and :func:`install_error_handlers` renders every error a FastAPI app can
meet (``ApiError``, library errors, request validation, unknown routes and methods) as
that body, with the request's ``X-Request-ID``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from memorylink.errors import (
    AuthenticationError,
    LimitExceededError,
    MemoryLinkError,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StoreClosedError,
    ValidationError,
)

__all__ = [
    "REQUEST_ID_HEADER",
    "ApiError",
    "ErrorBody",
    "ErrorResponse",
    "PayloadTooLargeError",
    "error_body",
    "error_response",
    "install_error_handlers",
    "status_for",
]

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


class ApiError(Exception):
    """An HTTP error with the server's error body.

    Args:
        status: The HTTP status code.
        code: A stable, machine-readable name (the library's error codes where one applies).
        message: One sentence for people.
        details: JSON-able specifics (the field, the limit, ...).
        headers: Extra response headers (``Retry-After``, ``WWW-Authenticate`` ...).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


class ErrorBody(BaseModel):
    """What went wrong."""

    code: str = Field(description="stable machine-readable error name", examples=["not_found"])
    message: str = Field(description="one sentence for people", examples=["no memory with id 'mem_123'"])
    details: dict[str, Any] = Field(default_factory=dict, description="specifics: the field, the limit, ...")
    request_id: str = Field(description="the X-Request-ID of the request that failed")
    timestamp: datetime = Field(description="when the error was answered (UTC)")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


# Statuses of Starlette's own HTTP errors (routing, methods, body size) and the code each gets.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


_FASTAPI_PARSE_ERROR = "There was an error parsing the body"
"""FastAPI's 400 detail for a body it could not read, which says nothing more."""


class PayloadTooLargeError(HTTPException):
    """A request body over ``max_body_bytes`` (an HTTPException, so FastAPI's body reader lets it through)."""

    def __init__(self, maximum: int, actual: int | None = None) -> None:
        super().__init__(413, f"the request body is larger than the limit max_body_bytes ({maximum} bytes)")
        self.maximum = maximum
        self.actual = actual


def status_for(error: MemoryLinkError) -> int:
    """The HTTP status a library error is answered with.

    ValidationError and LimitExceededError: 422; NotFoundError: 404; StoreClosedError: 503;
    PermissionDeniedError: 403; AuthenticationError: 401; RateLimitError: 429; every other
    MemoryLinkError (a corrupted record, a missing extra ...): 500.
    """
    if isinstance(error, (ValidationError, LimitExceededError)):
        return 422
    if isinstance(error, PermissionDeniedError):
        return 403
    if isinstance(error, AuthenticationError):
        return 401
    if isinstance(error, RateLimitError):
        return 429
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, StoreClosedError):
        return 503
    return 500


def error_body(
    code: str, message: str, details: Mapping[str, Any] | None, request_id: str
) -> dict[str, dict[str, Any]]:
    """The JSON-able error body (see the module docstring)."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": dict(details or {}),
            "request_id": request_id,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    }


class _ErrorJSONResponse(JSONResponse):
    """JSON like Starlette's, but a lone surrogate a caller sent (JSON allows ``\\ud800``) and an
    error echoes goes out as that same escape instead of failing to encode (a 500)."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def request_id_of(request: Request) -> str:
    """The request's id, as the request-context middleware assigned it (``"-"`` outside it)."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else "-"


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error response with the body, ``X-Request-ID`` and any rate-limit headers the guard set."""
    request_id = request_id_of(request)
    merged = dict(getattr(request.state, "rate_limit_headers", None) or {})
    merged.update(headers or {})
    merged[REQUEST_ID_HEADER] = request_id
    return _ErrorJSONResponse(error_body(code, message, details, request_id), status_code=status, headers=merged)


def _validation_errors(errors: Any) -> list[dict[str, Any]]:
    # Only where, what and which kind: pydantic's "input" and "ctx" can echo memory text back.
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", "")), "type": error["type"]}
        for error in errors
    ]


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own Allow names only the first route's)."""
    from starlette.routing import Match

    routes = request.app.router.routes
    return [
        method
        for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Render every error ``app`` can meet as the one error body (unexpected ones: the middleware)."""

    async def api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error_response(request, error.status, error.code, error.message, error.details, error.headers)

    async def library_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, MemoryLinkError)
        status = status_for(error)
        if status == 500:
            # A store fault, not the caller's: keep the details server-side.
            logger.error(
                "request %s failed: %s (%s)", request_id_of(request), error.code, type(error).__name__, exc_info=error
            )
            message = "the server could not complete the request"
            if isinstance(error, MissingDependencyError):
                message = "a component the server needs is not installed"
            return error_response(request, 500, error.code, message)
        headers: dict[str, str] = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        return error_response(request, status, error.code, error.message, error.details, headers)

    async def request_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        errors = _validation_errors(error.errors())
        where = ".".join(errors[0]["loc"]) if errors else ""
        reason = str(errors[0]["msg"]) if errors else "invalid request"
        message = f"{where}: {reason}" if where else reason
        return error_response(request, 422, "validation_error", message, {"errors": errors})

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        status = error.status_code
        code = _HTTP_CODES.get(status, "http_error")
        details: dict[str, Any] = {}
        if status == 404 and request.scope.get("route") is None:
            message = "no such route"
            details = {"path": request.url.path}
        elif status == 405:
            message = f"method {request.method} is not allowed here"
            allowed = _allowed_methods(request)
            details = {"allowed": allowed}
            headers = {**(error.headers or {}), "Allow": ", ".join(allowed)}
            return error_response(request, status, code, message, details, headers)
        elif isinstance(error, PayloadTooLargeError):
            message = error.detail
            details = {"limit": "max_body_bytes", "maximum": error.maximum}
            if error.actual is not None:
                details["actual"] = error.actual
        elif status == 400:
            # FastAPI's answer to a body it cannot decode (not UTF-8 JSON, or a form its parser refused):
            # a malformed body like any other, the same 422.
            content_type = request.headers.get("content-type", "").lower()
            if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                reason = str(error.detail)
                msg = "the request body is not a valid form" + (
                    f" ({reason})" if reason != _FASTAPI_PARSE_ERROR else ""
                )
                bad = {"loc": ["body"], "msg": msg, "type": "form_invalid"}
            else:
                bad = {"loc": ["body"], "msg": "the request body is not valid JSON (UTF-8)", "type": "json_invalid"}
            return error_response(request, 422, "validation_error", f"body: {bad['msg']}", {"errors": [bad]})
        else:
            message = str(error.detail)
        return error_response(request, status, code, message, details, error.headers)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(MemoryLinkError, library_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(HTTPException, http_error)
