"""The request id a front-end attaches to the events of the calls it makes on a client's behalf."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from memorylink.errors import ValidationError

__all__ = ["current_request_id", "request_id"]

MAX_REQUEST_ID = 128
_REQUEST_ID: ContextVar[str | None] = ContextVar("memorylink_request_id", default=None)


@contextmanager
def request_id(value: str | None) -> Iterator[None]:
    """Stamp events emitted inside the block (this thread or task) with ``value``.

    A context variable: ``AsyncMemoryStore`` calls made inside the block carry it into
    their worker threads.

    Raises:
        ValidationError: Not a non-empty string of at most 128 printable characters.
    """
    if value is not None and (
        not isinstance(value, str) or not value or len(value) > MAX_REQUEST_ID or not value.isprintable()
    ):
        raise ValidationError(f"request_id must be 1 to {MAX_REQUEST_ID} printable characters", field="request_id")
    token = _REQUEST_ID.set(value)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


def current_request_id() -> str | None:
    """The request id set by the innermost :func:`request_id` block, if any."""
    return _REQUEST_ID.get()
