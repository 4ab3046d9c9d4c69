"""Reading the outbox for many streams at once: one watcher wakes them, each reads after its own cursor.

A store's ``EventFeed`` in follow mode checks for new events every 50 ms per reader, from a
worker thread; a thousand open streams would mean twenty thousand thread hops a second.
Here one :class:`OutboxWatch` per app wakes every stream: at once for this process's
commits (an in-process subscription) and every ``poll_interval_s`` for other processes'
(one cheap look at the newest event). A woken stream reads a page after its cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from itertools import islice
from typing import TYPE_CHECKING, Literal

import anyio
from starlette.concurrency import run_in_threadpool

from memorylink.errors import MemoryLinkError, NotFoundError
from memorylink.events import Event, Subscription

if TYPE_CHECKING:
    from memorylink import MemoryStore

__all__ = ["BATCH", "OutboxWatch", "Tail"]

logger = logging.getLogger(__name__)

BATCH = 256
"""Events read per look (one page of the outbox)."""


class OutboxWatch:
    """Tells the app's streams that the outbox may have grown. Runs only while some stream is open."""

    def __init__(self, store: MemoryStore, poll_interval_s: float) -> None:
        self._store = store
        self._poll_interval_s = poll_interval_s
        self.version = 0
        """Bumped on every wake-up: a stream that saw no change since it read may sleep."""
        self._changed = anyio.Event()
        self._users = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscription: Subscription | None = None
        self._poller: asyncio.Task[None] | None = None
        self._reads: dict[str | None, tuple[int, asyncio.Task[list[Event]]]] = {}

    def acquire(self) -> None:
        """A stream starts (call on the server's event loop)."""
        self._users += 1
        if self._users == 1:
            self._loop = asyncio.get_running_loop()
            self._subscription = self._store.events.subscribe(self._committed)
            self._poller = self._loop.create_task(self._poll())

    def release(self) -> None:
        """A stream ended; the last one stops the watch."""
        self._users -= 1
        if self._users == 0:
            if self._subscription is not None:
                self._subscription.unsubscribe()
            if self._poller is not None:
                self._poller.cancel()
            self._subscription = self._poller = None

    def wake(self) -> None:
        """Wake every waiting stream (on the event loop)."""
        self.version += 1
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def wait(self, seen: int) -> None:
        """Return once the version moved past ``seen`` (at once if it already has)."""
        if self.version == seen:
            await self._changed.wait()

    def _committed(self, event: Event) -> None:
        # Called in the writing thread, after the commit.
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self.wake)

    async def _poll(self) -> None:
        newest = await run_in_threadpool(self._newest)
        # A stream may have read before this first look and missed a commit from elsewhere
        # that the look already includes: one wake-up makes every stream read again.
        self.wake()
        while True:
            await anyio.sleep(self._poll_interval_s)
            try:
                now = await run_in_threadpool(self._newest)
            except MemoryLinkError as error:
                # The store closed or failed: wake the streams, which meet the error themselves
                # and report it to their clients.
                logger.warning("the outbox watch could not read the store: %s", error.code)
                self.wake()
                continue
            except Exception:
                logger.exception("the outbox watch failed to look for new events")
                self.wake()
                continue
            if now != newest:
                newest = now
                self.wake()

    def _newest(self) -> str | None:
        return self._store.events.feed(start="latest").seek()

    async def read_after(self, cursor: str | None) -> list[Event]:
        """Up to a page of events after ``cursor``; streams at the same cursor share one read.

        Most followers are caught up, so after a commit they all ask for the same page. A
        read shared this way began after the caller's last wake-up (same ``version``); a
        commit it missed bumps the version, so the caller reads again.
        """
        entry = self._reads.get(cursor)
        if entry is None or entry[0] != self.version:
            for stale in [key for key, (version, _) in self._reads.items() if version != self.version]:
                del self._reads[stale]
            task = asyncio.get_running_loop().create_task(run_in_threadpool(self._read, cursor))
            task.add_done_callback(_retrieve)
            entry = (self.version, task)
            self._reads[cursor] = entry
        # Shielded: one stream leaving must not cancel a read other streams wait for.
        return await asyncio.shield(entry[1])

    def _read(self, cursor: str | None) -> list[Event]:
        return list(islice(self._store.events.feed(after=cursor), BATCH))


def _retrieve(task: asyncio.Task[list[Event]]) -> None:
    # Whoever awaited it saw any error; this only keeps asyncio from logging it as unretrieved.
    if not task.cancelled():
        task.exception()


class Tail:
    """One stream's read position in the outbox: pages of events after ``cursor``, woken by the watch.

    ``cursor`` is the id of the last event handed out (None: from the oldest kept).
    """

    def __init__(self, watch: OutboxWatch, cursor: str | None) -> None:
        self._watch = watch
        self.cursor = cursor
        self.closed = False

    @classmethod
    async def open(
        cls,
        store: MemoryStore,
        watch: OutboxWatch,
        after: str | None,
        start: Literal["oldest", "latest"] = "oldest",
    ) -> Tail:
        """A tail after the event ``after``, or at ``start``.

        Raises:
            NotFoundError: ``after`` is not in the outbox (unknown, or pruned).
        """
        feed = store.events.feed(after=after, start="oldest" if after is not None else start)
        return cls(watch, await run_in_threadpool(feed.seek))

    def close(self) -> None:
        """Stop :meth:`pages` (from the event loop); a waiting one wakes."""
        self.closed = True
        self._watch.wake()

    async def pages(self, *, follow: bool, idle_s: float | None = None) -> AsyncGenerator[list[Event], None]:
        """Lists of events in commit order; with ``follow``, waits for more until :meth:`close`.

        With ``idle_s``, a wait that long without events yields an empty list, so the consumer
        gets a turn (to check its credential) on a quiet stream. The cursor moves past a page
        when the consumer asks for the next one.
        """
        self._watch.acquire()
        pruned_is_past = False  # whether a cursor pruned now can only mean events were not missed
        try:
            while not self.closed:
                seen = self._watch.version
                try:
                    page = await self._watch.read_after(self.cursor)
                except NotFoundError:
                    if not pruned_is_past:
                        raise
                    # The stream stood caught up at its cursor and waited; the retention pruned
                    # that event meanwhile (a store quiet for longer than retention_days prunes
                    # even its newest). Every event kept now came after it: read from the oldest.
                    logger.info("an event stream's position was pruned while it waited; going on from the oldest kept")
                    self.cursor = None
                    page = await self._watch.read_after(None)
                pruned_is_past = False
                if page:
                    yield page
                    self.cursor = page[-1].id
                if len(page) == BATCH:
                    continue
                if not follow:
                    return
                # Caught up, and nothing was committed while the consumer had the page: each
                # commit from here wakes this stream, which reads it long before any retention
                # could prune it, so a cursor gone at the next read was pruned for its age alone.
                pruned_is_past = self._watch.version == seen
                with anyio.move_on_after(idle_s) as waited:
                    await self._watch.wait(seen)
                if waited.cancelled_caught:
                    yield []
        finally:
            self._watch.release()
