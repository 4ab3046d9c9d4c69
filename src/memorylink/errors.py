"""The memorylink error tree.

Every error the library raises on purpose derives from :class:`MemoryLinkError`.
Core errors carry no HTTP or MCP notions; each front-end maps them in one place.

::

    MemoryLinkError
    ├── ValidationError            bad input; names the field and, for limits, the limit
    │   └── LimitExceededError     a named limit (text length, tag count, top_k, ...) was exceeded
    ├── NotFoundError              no memory with that id (in that scope)
    ├── InvalidKeyError            the passphrase or key does not open this store
    ├── EmbedderMismatchError      the embedder differs from the one the store was built with
    ├── StoreClosedError           the store was used after close()
    ├── StoreCorruptedError        a record failed its integrity check under the right key
    ├── SchemaVersionError         the store was written by a newer memorylink
    ├── MissingDependencyError     an optional extra is not installed (also an ImportError)
    ├── WebhookVerificationError   a received webhook's signature or timestamp did not verify
    ├── AuthenticationError        a server refused the credentials (none, wrong, revoked, expired)
    │   └── PermissionDeniedError  the credentials are good but may not do this (scope, another user's data)
    ├── RateLimitError             a server's rate-limit budget is spent; ``retry_after`` says when to retry
    └── RemoteError                a server error with no class of its own (a 5xx, an unknown code, unreachable)

The last four are raised by the remote client (:mod:`memorylink.client`), which rebuilds
every error from the server's error body into the class of the same ``code``; each error
it raises carries the server's ``request_id``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "EmbedderMismatchError",
    "InvalidKeyError",
    "LimitExceededError",
    "MemoryLinkError",
    "MissingDependencyError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RemoteError",
    "SchemaVersionError",
    "StoreClosedError",
    "StoreCorruptedError",
    "ValidationError",
    "WebhookVerificationError",
]


class MemoryLinkError(Exception):
    """Base class of every error memorylink raises on purpose.

    Attributes:
        code: A stable, machine-readable name (``"not_found"``, ``"validation_error"`` ...).
        details: JSON-able extra facts (field, limit, index ...), safe to show to a caller.
        request_id: The server's ``X-Request-ID`` when the remote client raised the error, else None.
    """

    code: str = "memorylink_error"
    request_id: str | None = None

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-able dict: ``{"code", "message", "details"}``."""
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationError(MemoryLinkError, ValueError):
    """Input failed validation. ``field`` names where (``"text"``, ``"filter.tags.any"`` ...)."""

    code = "validation_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged = dict(details or {})
        if field is not None:
            merged.setdefault("field", field)
        super().__init__(message, details=merged)
        self.field = field


class LimitExceededError(ValidationError):
    """A configured limit was exceeded; ``limit`` is the setting's name, ``maximum`` its value."""

    code = "limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        maximum: int,
        actual: int | None = None,
        field: str | None = None,
    ) -> None:
        details: dict[str, Any] = {"limit": limit, "maximum": maximum}
        if actual is not None:
            details["actual"] = actual
        super().__init__(message, field=field, details=details)
        self.limit = limit
        self.maximum = maximum
        self.actual = actual


class NotFoundError(MemoryLinkError, LookupError):
    """No memory (or webhook endpoint, event ...: ``kind``) with that id exists, or it is outside the caller's scope."""

    code = "not_found"

    def __init__(self, memory_id: str, *, kind: str = "memory", message: str | None = None) -> None:
        details: dict[str, Any] = {"id": memory_id}
        if kind != "memory":
            details["kind"] = kind
        super().__init__(message or f"{kind} {memory_id!r} not found", details=details)
        self.memory_id = memory_id
        self.kind = kind


class InvalidKeyError(MemoryLinkError):
    """The passphrase or key does not open this store. Nothing on disk was changed."""

    code = "invalid_key"


class EmbedderMismatchError(MemoryLinkError):
    """The store was built with another embedder (name or dimension)."""

    code = "embedder_mismatch"


class StoreClosedError(MemoryLinkError):
    """The store was used after :meth:`MemoryStore.close`."""

    code = "store_closed"

    def __init__(self, message: str = "the memory store is closed") -> None:
        super().__init__(message)


class StoreCorruptedError(MemoryLinkError):
    """A record or file failed its integrity check although the key is right."""

    code = "store_corrupted"


class SchemaVersionError(MemoryLinkError):
    """The store's schema is newer than this version of memorylink understands."""

    code = "schema_version"


class MissingDependencyError(MemoryLinkError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` to run."""

    code = "missing_dependency"

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f'{package} is not installed; run: pip install "memorylink[{extra}]"',
            details={"package": package, "extra": extra},
        )
        self.package = package
        self.extra = extra


class WebhookVerificationError(MemoryLinkError):
    """A received webhook's signature, timestamp or headers did not verify."""

    code = "webhook_verification_failed"


class AuthenticationError(MemoryLinkError):
    """A server refused the request's credentials: none given, unknown, revoked or expired (HTTP 401)."""

    code = "unauthenticated"


class PermissionDeniedError(AuthenticationError):
    """The credentials are valid but may not do this: a read-only key writing, another user's data (HTTP 403)."""

    code = "forbidden"


class RateLimitError(MemoryLinkError):
    """A server's rate-limit budget for this credential is spent (HTTP 429).

    Attributes:
        retry_after: Seconds to wait before the budget allows another call, when the server said.
    """

    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after: float | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class RemoteError(MemoryLinkError):
    """A server answered with an error that has no class of its own (a 5xx, a code this client does not know).

    Also raised when the server cannot be reached at all (``code`` ``"connection_error"``,
    ``status`` None) once the client's retries are spent.

    Attributes:
        code: The server's error code (this instance's, not the class default).
        status: The HTTP status of the answer; None when no answer arrived.
    """

    code = "remote_error"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        if code is not None:
            self.code = code
        self.status = status
