"""The server's one error body, and the exception routes raise to produce it.

Every error response, validation included, is::

    {"error": {"code": "...", "message": "...", "details": {...}, "request_id": "...", "timestamp": "..."}}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ApiError", "ErrorBody", "ErrorResponse"]


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
