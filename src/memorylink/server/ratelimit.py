"""Rate limits: a budget per caller for reads, writes, searches and batches, counted by ``limits``.

Each budget is a rate such as ``"120/minute"`` (``limits``' notation: ``"10/second"``,
``"1000 per hour"``, ``"50/5 minutes"``), counted per :attr:`Principal.rate_key` (one
``user_id``: all its tokens and keys together), so one caller spending its searches blocks
neither its own writes nor anyone else. Logins at ``/api/v1/auth/token`` have their own
budget, counted per client address. Counters live in the server process.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from memorylink.server.errors import ApiError

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import RateLimiter as LimitsStrategy
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_LIMITS",
    "LimitName",
    "RateLimitHeadersMiddleware",
    "RateLimitSettings",
    "RateLimitState",
    "RateLimiter",
    "check_rate",
]

LimitName = Literal["reads", "writes", "searches", "batches", "logins"]
"""The budgets: the four a route spends (see :data:`memorylink.server.principal.Budget`) and logins."""

DEFAULT_LIMITS: dict[str, str] = {
    "reads": "600/minute",
    "writes": "120/minute",
    "searches": "120/minute",
    "batches": "20/minute",
    "logins": "10/minute",
}
"""The default budget of each caller (documented in docs/server.md, "Rate limits")."""

_STRATEGIES = {
    "moving-window": "MovingWindowRateLimiter",
    "fixed-window": "FixedWindowRateLimiter",
    "sliding-window-counter": "SlidingWindowCounterRateLimiter",
}


def check_rate(value: str, message: str) -> str:
    """``value`` if the ``limits`` package reads it as a rate ('20/second'); else ValueError(``message``)."""
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValueError(message) from None
    return value


class RateLimitSettings(BaseModel):
    """Per-caller request budgets. Each is a rate in ``limits``' notation (``"120/minute"``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="count requests and answer 429 once a budget is spent")
    strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = Field(
        "moving-window",
        description="how requests are counted: an exact moving window (default), fixed windows, or a "
        "sliding-window approximation",
    )
    reads: str = Field(DEFAULT_LIMITS["reads"], description="get, list, history, similar, stats, events")
    writes: str = Field(DEFAULT_LIMITS["writes"], description="add, update, delete; users, keys and webhooks")
    searches: str = Field(DEFAULT_LIMITS["searches"], description="search and search by vector")
    batches: str = Field(DEFAULT_LIMITS["batches"], description="batch add, delete-many, add messages")
    logins: str = Field(DEFAULT_LIMITS["logins"], description="password logins per client address (brute force)")

    @field_validator("reads", "writes", "searches", "batches", "logins")
    @classmethod
    def _parses(cls, value: str) -> str:
        return check_rate(value, f"{value!r} is not a rate such as '120/minute' or '10 per second'")


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """One caller's standing in one budget, after a request was counted (or refused)."""

    budget: str
    allowed: bool
    limit: int
    remaining: int
    reset_after_s: int
    """Seconds until the window frees a request (whole seconds, rounded up)."""

    def headers(self) -> dict[str, str]:
        """``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (and ``Retry-After`` when refused)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_after_s))
        return headers

    def error(self) -> ApiError:
        """The 429 ``rate_limited`` answer for a refused request."""
        retry_after = max(1, self.reset_after_s)
        return ApiError(
            429,
            "rate_limited",
            f"the {self.budget} budget of {self.limit} requests is spent; retry in {retry_after} s",
            {"budget": self.budget, "limit": self.limit, "retry_after": retry_after},
            self.headers(),
        )


class RateLimiter:
    """Counts requests per (budget, caller) with the ``limits`` library, in this process's memory.

    Thread-safe. ``hit`` counts one request and says whether it fits; a refused request
    spends nothing.
    """

    def __init__(self, settings: RateLimitSettings) -> None:
        import limits.strategies
        from limits import parse
        from limits.storage import MemoryStorage

        self.settings = settings
        self._storage = MemoryStorage()
        self._strategy: LimitsStrategy = getattr(limits.strategies, _STRATEGIES[settings.strategy])(self._storage)
        self._items: dict[str, RateLimitItem] = {name: parse(getattr(settings, name)) for name in DEFAULT_LIMITS}

    def hit(self, budget: LimitName, identity: str) -> RateLimitState:
        """Count one request of ``identity`` against ``budget``."""
        item = self._items[budget]
        allowed = self._strategy.hit(item, budget, identity)
        stats = self._strategy.get_window_stats(item, budget, identity)
        return RateLimitState(
            budget=budget,
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, int(stats.remaining)),
            reset_after_s=max(0, math.ceil(stats.reset_time - time.time())),
        )

    def check(self, budget: LimitName, identity: str) -> RateLimitState:
        """:meth:`hit`, raising the 429 :class:`ApiError` when the budget is spent."""
        state = self.hit(budget, identity)
        if not state.allowed:
            raise state.error()
        return state

    def reset(self) -> None:
        """Forget every count (tests, or an operator's reset)."""
        self._storage.reset()


class RateLimitHeadersMiddleware:
    """Puts the ``RateLimit-*`` headers the guard left in ``request.state`` on every response.

    Error responses get them from the error handler already; this adds them to successful
    ones (a header the response set itself is kept).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = state.get("rate_limit_headers") if isinstance(state, dict) else None
                if extra:
                    headers = list(message.get("headers", []))
                    present = {name.lower() for name, _ in headers}
                    for name, value in extra.items():
                        if name.lower().encode() not in present:
                            headers.append((name.lower().encode(), str(value).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
