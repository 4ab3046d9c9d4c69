"""In-process fan-out of events to subscribers (sync or async callbacks)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from memorylink.errors import MemoryLinkError, ValidationError
from memorylink.events.base import EventSink
from memorylink.events.feed import EventFeed
from memorylink.events.models import Event
from memorylink.events.outbox import Outbox

__all__ = ["EventCallback", "EventEmitter", "RecordingSink", "Subscription"]

logger = logging.getLogger(__name__)

EventCallback = Callable[[Event], Any] | Callable[[Event], Awaitable[Any]]


def _matches(patterns: frozenset[str] | None, event_type: str) -> bool:
    if patterns is None:
        return True
    if event_type in patterns:
        return True
    return any(p.endswith(".*") and event_type.startswith(p[:-1]) for p in patterns)


@dataclass(eq=False)
class Subscription:
    """A handle returned by :meth:`EventEmitter.subscribe`; ``unsubscribe()`` (or ``with``) ends it."""

    callback: EventCallback
    types: frozenset[str] | None
    loop: asyncio.AbstractEventLoop | None
    _emitter: EventEmitter = field(repr=False)

    def unsubscribe(self) -> None:
        """Stop receiving events. Idempotent."""
        self._emitter._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unsubscribe()


class EventEmitter:
    """Delivers events to subscribers and sinks, in order, after the change committed.

    Sync callbacks run in the thread that made the change. Async callbacks run on the
    event loop that was running when they subscribed. A failing subscriber is logged and
    never breaks the write.
    """

    def __init__(self, sinks: Iterable[EventSink] = ()) -> None:
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()
        self._sinks: tuple[EventSink, ...] = tuple(sinks)
        self._outbox: Outbox | None = None

    def bind_outbox(self, outbox: Outbox) -> None:
        """Let :meth:`feed` read this store's outbox (done by the store when it opens)."""
        self._outbox = outbox

    def feed(
        self,
        after: str | None = None,
        *,
        follow: bool = False,
        poll_interval_s: float = 0.5,
        start: Literal["oldest", "latest"] = "oldest",
    ) -> EventFeed:
        """Events recorded in the store's outbox after the event id ``after``, oldest first.

        Iterate with ``for`` or ``async for``. With ``follow`` the iteration waits for new
        events until ``feed.close()``. Without ``after``, ``start="oldest"`` begins at the
        oldest event kept and ``start="latest"`` with the events recorded from now on. The
        outbox records events while a webhook endpoint exists, or always with
        ``Settings(events=EventSettings(outbox="always"))``; events older than
        ``retention_days`` may be gone.

        Raises:
            MemoryLinkError: No store outbox is bound to this emitter.
        """
        if self._outbox is None:
            raise MemoryLinkError("this event emitter belongs to no open store, so it has no feed")
        return EventFeed(self._outbox, after, follow=follow, poll_interval_s=poll_interval_s, start=start)

    def subscribe(self, callback: EventCallback, types: Iterable[str] | None = None) -> Subscription:
        """Call ``callback(event)`` for each event whose type is in ``types``.

        Args:
            callback: A function or ``async def`` function taking an :class:`Event`.
            types: Event names (``"memory.created"``) or prefixes (``"memory.*"``); None means all.

        Raises:
            ValidationError: ``types`` is a bare string, or an async callback is given with
                no running event loop to run it on.
        """
        if isinstance(types, str):
            raise ValidationError("types must be a list of event names, not a string", field="types")
        patterns = frozenset(types) if types is not None else None
        loop: asyncio.AbstractEventLoop | None = None
        if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
            getattr(callback, "__call__", None)  # noqa: B004 - async callable objects
        ):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise ValidationError(
                    "an async callback must be subscribed from inside a running event loop",
                    field="callback",
                ) from None
        subscription = Subscription(callback=callback, types=patterns, loop=loop, _emitter=self)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def add_sink(self, sink: EventSink) -> None:
        """Also hand every event to ``sink``."""
        with self._lock:
            self._sinks = (*self._sinks, sink)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every sink and matching subscriber; never raises."""
        for sink in self._sinks:
            try:
                sink.handle(event)
            except Exception:
                logger.exception("event sink %r failed on %s", sink, event.type)
        for subscription in self._subscriptions:
            if not _matches(subscription.types, event.type):
                continue
            if subscription.loop is not None:
                self._dispatch_async(subscription, event)
                continue
            try:
                subscription.callback(event)
            except Exception:
                logger.exception("event subscriber %r failed on %s", subscription.callback, event.type)

    def _dispatch_async(self, subscription: Subscription, event: Event) -> None:
        loop = subscription.loop
        assert loop is not None
        if loop.is_closed():
            logger.warning("dropping %s for an async subscriber whose event loop is closed", event.type)
            return
        try:
            future = asyncio.run_coroutine_threadsafe(subscription.callback(event), loop)  # type: ignore[arg-type]
        except RuntimeError:
            logger.warning("dropping %s: the subscriber's event loop is not running", event.type)
            return
        future.add_done_callback(lambda f: _log_failure(f, subscription, event))

    def has_any_listener(self) -> bool:
        """Whether any sink or subscriber exists at all."""
        return bool(self._sinks) or bool(self._subscriptions)

    def has_listeners(self, event_type: str) -> bool:
        """Whether any sink or subscriber would receive ``event_type`` (lets callers skip work)."""
        return bool(self._sinks) or any(_matches(s.types, event_type) for s in self._subscriptions)


def _log_failure(future: Future[Any], subscription: Subscription, event: Event) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        logger.error(
            "async event subscriber %r failed on %s",
            subscription.callback,
            event.type,
            exc_info=(type(error), error, error.__traceback__),
        )


class RecordingSink:
    """A sink that keeps every event in a list (for tests and debugging)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def handle(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def types(self) -> list[str]:
        with self._lock:
            return [event.type for event in self.events]
