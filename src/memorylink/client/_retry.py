"""When the remote client tries a call again, and how long it waits first (sans-I/O).

A call is retried only when doing it twice cannot do harm:

* The connection could not be opened (nothing reached the server): any call.
* ``429 Too Many Requests``: any call. The server refuses before it runs the route, so
  nothing was done; the wait is the server's ``Retry-After``.
* ``503 Service Unavailable`` or a connection that broke after the request was sent
  (the server may have done the work): only idempotent calls -- reads, searches,
  updates (which replace fields whole) and deletes.

Adds (``add``, ``add_many``, ``add_messages``, a webhook's ``add``) are not idempotent:
a second try after a lost answer would store the memories twice, so they are retried only
in the first two cases.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from memorylink.errors import ValidationError

__all__ = ["Retries"]

# The request never left this process: safe to send again whatever it does.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Retries:
    """How the remote client retries (``RemoteStore(url, retries=Retries(...))``; an int sets ``attempts - 1``).

    Attributes:
        attempts: Tries in all, the first included (1: never retry).
        backoff_s: The first wait; each further wait doubles it, up to ``max_backoff_s``,
            scaled by a random factor in [0.5, 1] so clients do not retry in step.
        max_backoff_s: The longest wait between tries without a ``Retry-After``.
        max_retry_after_s: A ``Retry-After`` longer than this is not waited for: the
            :class:`~memorylink.errors.RateLimitError` is raised at once.
        sleep: The function that waits (seconds); ``time.sleep`` / ``anyio.sleep`` by
            default. Tests pass a recorder.
    """

    attempts: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0
    sleep: Callable[[float], Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValidationError("retries.attempts must be an integer >= 1", field="retries.attempts")
        for name in ("backoff_s", "max_backoff_s", "max_retry_after_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise ValidationError(f"retries.{name} must be a finite number >= 0", field=f"retries.{name}")

    @classmethod
    def coerce(cls, retries: int | Retries) -> Retries:
        """``retries`` as a policy: an int is the number of retries after the first try."""
        if isinstance(retries, Retries):
            return retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValidationError("retries must be an integer >= 0 or a Retries policy", field="retries")
        return cls(attempts=retries + 1)

    def backoff(self, attempt: int) -> float:
        """The wait after failed try number ``attempt`` (1-based) when the server named none."""
        # The exponent is capped because 2.0 ** 1024 raises OverflowError; a product past the
        # float range is inf, which the min() turns into the cap.
        base = min(self.max_backoff_s, self.backoff_s * 2.0 ** min(attempt - 1, 1000))
        return base * (0.5 + random.random() / 2)  # jitter, so clients do not retry in step

    def after_status(self, status: int, idempotent: bool, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before trying again after an answer with ``status``, or None to stop."""
        if attempt >= self.attempts:
            return None
        if status == 429:
            if retry_after is None:
                return self.backoff(attempt)
            return retry_after if retry_after <= self.max_retry_after_s else None
        if status == 503 and idempotent:
            if retry_after is not None and retry_after <= self.max_retry_after_s:
                return retry_after
            return self.backoff(attempt)
        return None

    def after_error(self, error: httpx.TransportError, idempotent: bool, attempt: int) -> float | None:
        """Seconds to wait before trying again after a transport error, or None to stop."""
        if attempt >= self.attempts:
            return None
        if isinstance(error, _NOT_SENT) or idempotent:
            return self.backoff(attempt)
        return None
