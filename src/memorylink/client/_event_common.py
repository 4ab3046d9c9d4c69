"""What the client's event streams share: the paths, the reconnect policy, errors met inside a stream."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import httpx

from memorylink.client._errors import error_from_response
from memorylink.errors import MemoryLinkError, ValidationError

__all__ = ["EVENTS_PATH", "WS_PATH", "Reconnect", "error_from_body"]

EVENTS_PATH = "/api/v1/events"
WS_PATH = "/api/v1/ws"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
CREDENTIAL_HEADERS = ("x-api-key", "authorization")
# Close codes after which reconnecting cannot help: the credential is refused.
FATAL_CLOSE = {4401: 401, 4403: 403}


@dataclass(frozen=True)
class Reconnect:
    """How a stream reconnects after its connection dropped.

    The first wait is the server's advice (an SSE ``retry:`` field) or ``initial_delay_s``;
    each further failure in a row multiplies it by ``multiplier`` up to ``max_delay_s``,
    scaled by a random factor in [0.5, 1] so clients do not return in step. A wait is never
    shorter than the server's advice (its reconnection time): it is then at least the advice,
    scaled by a random factor in [1, 1.5]. A connection that opens resets the count.

    Attributes:
        initial_delay_s: The first wait.
        max_delay_s: The longest wait.
        multiplier: Growth per failure in a row.
        max_attempts: Failed connection attempts in a row before the stream raises
            (``None``: keep trying while the stream is open).
    """

    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    multiplier: float = 2.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        for name in ("initial_delay_s", "max_delay_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValidationError(f"reconnect.{name} must be a number >= 0", field=f"reconnect.{name}")
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, int | float) or self.multiplier < 1:
            raise ValidationError("reconnect.multiplier must be a number >= 1", field="reconnect.multiplier")
        if self.max_attempts is not None and (isinstance(self.max_attempts, bool) or self.max_attempts < 1):
            raise ValidationError("reconnect.max_attempts must be None or >= 1", field="reconnect.max_attempts")

    def delay(self, failures: int, advised_s: float | None = None) -> float:
        """The wait before reconnect number ``failures`` (1-based) in a row (``advised_s``: the server's ``retry:``)."""
        first = self.initial_delay_s if advised_s is None else advised_s
        try:
            growth = self.multiplier ** (failures - 1)
        except OverflowError:  # a long outage (about 1,000 failures in a row at x2): capped anyway
            growth = math.inf
        base = min(self.max_delay_s, first * growth) if first > 0 else 0.0
        backoff = base * (0.5 + random.random() / 2)
        if advised_s is None:
            return backoff
        # The SSE reconnection time is the least the server asked for; jitter only adds to it.
        return max(backoff, advised_s * (1 + random.random() / 2))

    def gives_up(self, failures: int) -> bool:
        return self.max_attempts is not None and failures > self.max_attempts


def error_from_body(body: Any, status: int) -> MemoryLinkError:
    """A library error from an error body met inside a stream (no HTTP response of its own)."""
    response = httpx.Response(status, json=body if isinstance(body, dict) else {})
    return error_from_response(response)
