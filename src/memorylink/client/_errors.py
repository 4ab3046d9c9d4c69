"""Server error bodies back into the library's exceptions, by ``code``.

The server answers every error with ``{"error": {"code", "message", "details",
"request_id", "timestamp"}}``. The ``code`` names the class (``validation_error`` ->
:class:`~memorylink.errors.ValidationError` with its ``field``, ``limit_exceeded`` ->
:class:`~memorylink.errors.LimitExceededError` with ``limit`` / ``maximum`` / ``actual``,
...); the HTTP status decides only when the code is unknown (401, 403, 429), and
anything else becomes a :class:`~memorylink.errors.RemoteError` that keeps the code.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from memorylink.errors import (
    AuthenticationError,
    EmbedderMismatchError,
    InvalidKeyError,
    LimitExceededError,
    MemoryLinkError,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RemoteError,
    SchemaVersionError,
    StoreClosedError,
    StoreCorruptedError,
    ValidationError,
    WebhookVerificationError,
)

__all__ = ["ErrorBody", "connection_error", "error_from_response", "read_error_body", "retry_after"]

ErrorBody = dict[str, Any]
"""The ``error`` object of an error response: code, message, details, request_id."""


def read_error_body(response: httpx.Response) -> ErrorBody | None:
    """The ``error`` object of a memorylink error response, or None when the body is not one (a proxy's page)."""
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return None
    if not isinstance(error.get("details"), dict):
        error["details"] = {}
    if not isinstance(error.get("message"), str):
        error["message"] = error["code"]
    return error


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(ValueError):  # not delta-seconds: an HTTP date, below
        return max(0.0, float(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _validation(message: str, details: dict[str, Any]) -> MemoryLinkError:
    field = details.get("field")
    if not isinstance(field, str):
        field = _field_of_request_error(details)
    return ValidationError(message, field=field, details=details)


def _field_of_request_error(details: dict[str, Any]) -> str | None:
    """The field of the server's request validation error (``{"errors": [{"loc": ["body", "top_k"]}]}``).

    Such a 422 (a wrong type, caught before the store sees it) names its field by ``loc``, not
    ``field``; it is spelled as the store spells fields: ``top_k``, ``tags[0]``, ``retry.jitter``.
    """
    errors = details.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    loc = errors[0].get("loc")
    if not isinstance(loc, list) or len(loc) < 2 or loc[0] not in ("body", "query", "path"):
        return None
    field = ""
    for part in loc[1:]:
        if isinstance(part, int) and not isinstance(part, bool) and field:
            field += f"[{part}]"
        elif isinstance(part, str) and part:
            field += f".{part}" if field else part
        else:
            return None
    return field or None


def _limit(message: str, details: dict[str, Any]) -> MemoryLinkError:
    limit, maximum, actual = details.get("limit"), details.get("maximum"), details.get("actual")
    if not isinstance(limit, str) or not isinstance(maximum, int):
        return _validation(message, details)
    field = details.get("field")
    error = LimitExceededError(
        message,
        limit=limit,
        maximum=maximum,
        actual=actual if isinstance(actual, int) else None,
        field=field if isinstance(field, str) else None,
    )
    error.details = details
    return error


def _not_found(message: str, details: dict[str, Any]) -> MemoryLinkError:
    if "id" not in details:  # no such route: a wrong base_url or API version, not a missing record
        return RemoteError(message, code=NotFoundError.code, status=404, details=details)
    kind = details.get("kind")
    return NotFoundError(str(details.get("id", "")), kind=kind if isinstance(kind, str) else "memory", message=message)


def _missing_dependency(message: str, details: dict[str, Any]) -> MemoryLinkError:
    package, extra = details.get("package"), details.get("extra")
    if isinstance(package, str) and isinstance(extra, str):
        return MissingDependencyError(package, extra)
    return RemoteError(message, code=MissingDependencyError.code, status=None, details=details)


def _plain(cls: type[MemoryLinkError]) -> Callable[[str, dict[str, Any]], MemoryLinkError]:
    def build(message: str, details: dict[str, Any]) -> MemoryLinkError:
        return cls(message, details=details)

    return build


def _store_closed(message: str, details: dict[str, Any]) -> MemoryLinkError:
    return StoreClosedError(message)


_BY_CODE: dict[str, Callable[[str, dict[str, Any]], MemoryLinkError]] = {
    ValidationError.code: _validation,
    LimitExceededError.code: _limit,
    "payload_too_large": _limit,  # a body over the server's max_body_bytes: a limit like any other
    NotFoundError.code: _not_found,
    InvalidKeyError.code: _plain(InvalidKeyError),
    EmbedderMismatchError.code: _plain(EmbedderMismatchError),
    StoreClosedError.code: _store_closed,
    StoreCorruptedError.code: _plain(StoreCorruptedError),
    SchemaVersionError.code: _plain(SchemaVersionError),
    MissingDependencyError.code: _missing_dependency,
    WebhookVerificationError.code: _plain(WebhookVerificationError),
    AuthenticationError.code: _plain(AuthenticationError),
    PermissionDeniedError.code: _plain(PermissionDeniedError),
}

_BY_STATUS: dict[int, type[MemoryLinkError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
}


def error_from_response(response: httpx.Response) -> MemoryLinkError:
    """The exception a non-2xx response stands for, carrying the server's request id."""
    body = read_error_body(response)
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    if body is None:
        reason = response.reason_phrase or "error"
        error: MemoryLinkError = RemoteError(
            f"the server answered HTTP {status} {reason} without a memorylink error body",
            code="http_error",
            status=status,
        )
    else:
        code, message, details = body["code"], body["message"], body["details"]
        if isinstance(body.get("request_id"), str):
            request_id = body["request_id"]
        if code == RateLimitError.code or status == 429:
            wait = retry_after(response)
            if wait is None and isinstance(details.get("retry_after"), int | float):
                wait = float(details["retry_after"])
            error = RateLimitError(message, retry_after=wait, details=details)
        elif code in _BY_CODE:
            error = _BY_CODE[code](message, details)
        elif status in _BY_STATUS:
            error = _BY_STATUS[status](message, details=details)
        else:
            error = RemoteError(message, code=code, status=status, details=details)
    if isinstance(error, RemoteError) and error.status is None:
        error.status = status
    error.request_id = request_id
    return error


def connection_error(base_url: str, exc: httpx.TransportError) -> RemoteError:
    """The error raised when the server could not be reached (or the connection broke) and retries are spent."""
    kind = type(exc).__name__
    return RemoteError(
        f"no answer from the memorylink server at {base_url} ({kind}: {exc})",
        code="connection_error",
        status=None,
        details={"transport_error": kind},
    )
