"""Webhook retry logic: the backoff policy, outcome classification and a per-endpoint circuit breaker.

Everything here is pure logic: no I/O, no threads, no clock reads of its own. Time is always passed
in (monotonic seconds for the breaker, a ``datetime`` for HTTP dates) and randomness comes from an
optional :class:`random.Random`, so the delivery worker stays deterministic under test.

* :class:`RetryPolicy` -- how long to wait after the n-th failed attempt (exponential, capped,
  jittered, honouring ``Retry-After``) and how many attempts to make.
* :func:`classify` -- maps an HTTP status (or ``None`` for a network failure) to an :class:`Outcome`.
* :func:`parse_retry_after` -- reads a ``Retry-After`` header (seconds or an HTTP-date).
* :class:`CircuitBreaker` -- stops hammering an endpoint that keeps failing; lets one probe through
  after a cooldown that doubles each time the probe fails.
"""

from __future__ import annotations

import enum
import math
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "Outcome",
    "RetryPolicy",
    "classify",
    "parse_retry_after",
]

BreakerState = Literal["closed", "open", "half_open"]

_DEFAULT_RNG = random.Random()
_DELTA_SECONDS = re.compile(r"[0-9]+")
_MAX_COOLDOWN_FACTOR = 16.0


class RetryPolicy(BaseModel):
    """Exponential backoff with jitter for webhook deliveries.

    The wait after failed attempt ``n`` (1-based) is ``min(max_delay_s, initial_delay_s *
    multiplier ** (n - 1))`` scaled by a random factor in ``[1 - jitter, 1]``; a receiver's
    ``Retry-After`` can lengthen it, but never beyond ``max_delay_s``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_attempts: int = Field(default=8, ge=1, le=50)
    """Total attempts per delivery, the first one included."""
    initial_delay_s: float = Field(default=1.0, gt=0, le=3600)
    """The wait after the first failed attempt (before jitter)."""
    max_delay_s: float = Field(default=900.0, gt=0, le=86400)
    """No wait is ever longer than this, ``Retry-After`` included."""
    multiplier: float = Field(default=2.0, ge=1, le=10)
    """Growth of the wait from one attempt to the next."""
    jitter: float = Field(default=0.2, ge=0, le=1)
    """Up to this fraction of each wait is randomly taken off, to spread retries out."""

    @model_validator(mode="after")
    def _check_delays(self) -> Self:
        if self.max_delay_s < self.initial_delay_s:
            raise ValueError(
                f"max_delay_s ({self.max_delay_s}) must be at least initial_delay_s ({self.initial_delay_s})"
            )
        return self

    def base_delay_s(self, attempt: int) -> float:
        """The un-jittered wait after failed attempt ``attempt``: the upper bound of :meth:`delay_s`."""
        if attempt < 1:
            raise ValueError(f"attempt must be >= 1, got {attempt}")
        try:
            grown = self.initial_delay_s * self.multiplier ** (attempt - 1)
        except OverflowError:
            return self.max_delay_s
        return min(self.max_delay_s, grown)

    def delay_s(
        self,
        attempt: int,
        *,
        retry_after_s: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one.

        Args:
            attempt: The number of the attempt that just failed (1 for the first).
            retry_after_s: The receiver's ``Retry-After``, if it sent one; the wait is at least
                this long, but never longer than ``max_delay_s``.
            rng: The randomness for the jitter; pass a seeded one for a deterministic result.

        Returns:
            A wait in ``[0, max_delay_s]``.
        """
        base = self.base_delay_s(attempt)
        factor = (rng or _DEFAULT_RNG).uniform(1.0 - self.jitter, 1.0)
        delay = min(base, base * factor)
        if retry_after_s is not None and not math.isnan(retry_after_s):
            delay = max(delay, retry_after_s)
        return min(self.max_delay_s, max(0.0, delay))

    def exhausted(self, attempts_made: int) -> bool:
        """Whether a delivery that has made ``attempts_made`` attempts must stop retrying."""
        return attempts_made >= self.max_attempts


class Outcome(enum.Enum):
    """What one delivery attempt means for the delivery."""

    DELIVERED = "delivered"
    """The receiver accepted it (2xx)."""
    RETRY = "retry"
    """A transient failure (network error, timeout, 408, 429, 5xx): try again later."""
    GIVE_UP = "give_up"
    """A permanent failure (other 4xx, 3xx, 1xx ...): retrying will not help."""


def classify(status: int | None) -> Outcome:
    """Classify an HTTP status; ``None`` means no response at all (network error or timeout)."""
    if status is None:
        return Outcome.RETRY
    if 200 <= status <= 299:
        return Outcome.DELIVERED
    if status in (408, 429) or 500 <= status <= 599:
        return Outcome.RETRY
    return Outcome.GIVE_UP


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header value as seconds from ``now``.

    Accepts delta-seconds (``"120"``) or an HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``; a date
    in the past gives ``0.0``). Returns ``None`` when the value is missing or unreadable.

    Args:
        value: The raw header value.
        now: The current time for HTTP-dates (default: now, UTC); a naive value is taken as UTC.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    return max(0.0, (when - reference).total_seconds())


class CircuitBreaker:
    """A per-endpoint circuit breaker on explicit monotonic time.

    * ``closed``: every attempt is allowed; ``failure_threshold`` consecutive failures open it.
    * ``open``: nothing is allowed until the cooldown has passed since it opened.
    * ``half_open``: the cooldown has passed; :meth:`allow` lets exactly one probe through and
      refuses everything else until that probe's result is recorded. A success closes the breaker
      and resets the cooldown; a failure re-opens it with the cooldown doubled (at most 16x the
      base cooldown).

    Not thread-safe: one breaker belongs to one endpoint's delivery loop (or is guarded by its lock).
    The caller must record the result of every attempt :meth:`allow` let through -- a probe whose
    result is never recorded keeps the breaker refusing.
    """

    def __init__(self, failure_threshold: int = 5, cooldown_s: float = 60.0) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if not (math.isfinite(cooldown_s) and cooldown_s >= 0):
            raise ValueError(f"cooldown_s must be a finite number >= 0, got {cooldown_s}")
        self._threshold = failure_threshold
        self._base_cooldown = float(cooldown_s)
        self._cooldown = self._base_cooldown
        self._state: BreakerState = "closed"  # "half_open" only while a probe is in flight
        self._failures = 0
        self._opened_at = 0.0

    @property
    def failure_threshold(self) -> int:
        return self._threshold

    @property
    def base_cooldown_s(self) -> float:
        return self._base_cooldown

    @property
    def cooldown_s(self) -> float:
        """The current cooldown: the base one, doubled for every failed half-open probe (capped at 16x)."""
        return self._cooldown

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def state(self, now: float) -> BreakerState:
        """The state at monotonic time ``now`` (an open breaker whose cooldown passed reads ``half_open``)."""
        if self._state == "open" and now - self._opened_at >= self._cooldown:
            return "half_open"
        return self._state

    def probe_at(self) -> float | None:
        """When an open breaker will let a probe through (monotonic seconds); ``None`` unless open."""
        if self._state != "open":
            return None
        return self._opened_at + self._cooldown

    def allow(self, now: float) -> bool:
        """Whether an attempt may go out now; in half-open state only the first caller gets ``True``."""
        if self._state == "closed":
            return True
        if self._state == "half_open":  # the probe is in flight
            return False
        if now - self._opened_at >= self._cooldown:
            self._state = "half_open"
            return True
        return False

    def record_success(self) -> None:
        """An attempt succeeded: close the breaker and reset the failure count and cooldown."""
        self._state = "closed"
        self._failures = 0
        self._cooldown = self._base_cooldown

    def record_failure(self, now: float) -> None:
        """An attempt failed at monotonic time ``now``."""
        self._failures += 1
        if self._state == "half_open":
            self._cooldown = min(self._cooldown * 2.0, self._base_cooldown * _MAX_COOLDOWN_FACTOR)
            self._open(now)
        elif self._state == "closed" and self._failures >= self._threshold:
            self._open(now)
        # Already open: a late result of an attempt that started before it opened; keep the timer.

    def _open(self, now: float) -> None:
        self._state = "open"
        self._opened_at = now

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(state={self._state!r}, failures={self._failures}, "
            f"threshold={self._threshold}, cooldown_s={self._cooldown})"
        )
