"""What RemoteStore and AsyncRemoteStore share besides the calls: settings, state, retry decisions.

Only the sending and the waiting differ between the two (``_sync.py`` / ``_async.py``); the
request each call becomes, and whether and how long to wait before trying it again, are
decided here once.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar

import httpx

from memorylink.client._base import Call, Calls, ClientState, normalise_base_url
from memorylink.client._errors import connection_error, retry_after
from memorylink.client._jobs import Jobs
from memorylink.client._retry import Retries

__all__ = ["RemoteStoreBase"]

logger = logging.getLogger(__name__)

H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class RemoteStoreBase(Generic[H]):
    """The shared half of a remote store over the HTTP client ``H``."""

    _http: H

    def __init__(self, base_url: str, retries: int | Retries) -> None:
        self.base_url = normalise_base_url(base_url)
        self.retries = Retries.coerce(retries)
        self._calls = Calls()
        self._jobs = Jobs()
        self._state: ClientState = "open"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._state == "closed"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, {'closed' if self.closed else 'open'})"

    def _closing(self) -> bool:
        """Mark the store closed; whether it was open (then the caller releases the pool)."""
        if self._state == "closed":
            return False
        self._state = "closed"
        return True

    def _request(self, call: Call[Any]) -> httpx.Request:
        return self._http.build_request(
            call.method,
            call.path,
            params=call.params,
            content=call.content(),
            headers={"Content-Type": "application/json"} if call.body is not None else None,
        )

    def _wait_after_error(self, call: Call[Any], error: httpx.TransportError, attempt: int) -> float:
        """The wait before trying ``call`` again after ``error``; raises the connection error when it is not retried."""
        wait = self.retries.after_error(error, call.idempotent, attempt)
        if wait is None:
            raise connection_error(self.base_url, error) from error
        logger.info("%s %s: %s, try %d again in %.2fs", call.method, call.path, type(error).__name__, attempt + 1, wait)
        return wait

    def _wait_after(self, call: Call[Any], response: httpx.Response, attempt: int) -> float | None:
        """The wait before trying ``call`` again after ``response``; None: ``call.parse`` reads it."""
        if response.is_success:
            return None
        wait = self.retries.after_status(response.status_code, call.idempotent, attempt, retry_after(response))
        if wait is not None:
            logger.info(
                "%s %s: HTTP %d, try %d again in %.2fs", call.method, call.path, response.status_code, attempt + 1, wait
            )
        return wait
