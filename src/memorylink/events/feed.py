"""A resumable read of the outbox: every event after a given id, in commit order.

The feed reads storage, not memory, so it sees the events of every process that writes
to the store, and a reader that reconnects with the last id it saw (Server-Sent Events'
``Last-Event-ID``) misses nothing that is still within the retention.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import anyio

from memorylink._concurrency import run_sync_in_thread
from memorylink.errors import ValidationError
from memorylink.events.models import Event
from memorylink.events.outbox import Outbox, StoredEvent

__all__ = ["EventFeed"]

_PAGE = 256


class EventFeed:
    """Events after ``after`` (an event id; ``None``: from ``start``), sync or async.

    ``for event in feed`` and ``async for event in feed`` both work. Without ``follow`` the
    iteration ends at the newest event; with it, it waits for new ones (checking every
    ``poll_interval_s``, and at once when this process commits) until :meth:`close`.
    With no ``after``, ``start="oldest"`` begins at the oldest event kept and
    ``start="latest"`` after the newest one recorded when the feed starts (only new events).

    Raises (when iteration starts, or from :meth:`seek`):
        NotFoundError: ``after`` is not in the outbox (unknown, or pruned by the retention).
    """

    def __init__(
        self,
        outbox: Outbox,
        after: str | None,
        *,
        follow: bool = False,
        poll_interval_s: float = 0.5,
        start: Literal["oldest", "latest"] = "oldest",
    ) -> None:
        if not 0.0 < poll_interval_s <= 60.0:
            raise ValidationError("poll_interval_s must be in (0, 60]", field="poll_interval_s")
        if start not in ("oldest", "latest"):
            raise ValidationError("start must be 'oldest' or 'latest'", field="start")
        if after is not None and start == "latest":
            raise ValidationError("give after or start='latest', not both", field="start")
        self._outbox = outbox
        self._after = after
        self._latest = start == "latest"
        self._follow = follow
        self._poll_interval_s = poll_interval_s
        self._wake = outbox.committed
        self._closed = threading.Event()
        self._position: int | None = None
        self.last_event_id: str | None = after
        """The id of the last event handed out: resume from it after a disconnect."""

    def close(self) -> None:
        """End a following iteration (from any thread); it stops before its next wait."""
        self._closed.set()
        with self._wake:
            self._wake.notify_all()

    def seek(self) -> str | None:
        """Fix where the feed starts now, rather than when iteration begins (blocking: reads storage).

        Lets a server refuse an unknown ``after`` before it starts streaming, and learn the
        position of a ``start="latest"`` feed. Idempotent.

        Returns:
            :attr:`last_event_id`: the event the feed continues after (None: from the oldest kept).

        Raises:
            NotFoundError: ``after`` is not in the outbox (unknown, or pruned by the retention).
        """
        self._start()
        return self.last_event_id

    def _start(self) -> int:
        if self._position is None:
            if self._latest:
                last = self._outbox.last_seq()
                newest = self._outbox.read(last - 1, 1) if last else []
                self.last_event_id = newest[0].event.id if newest else None
                self._position = last
            else:
                self._position = 0 if self._after is None else self._outbox.seq_of(self._after)
        return self._position

    def _next_page(self) -> list[StoredEvent]:
        page = self._outbox.read(self._start(), _PAGE)
        if page:
            self._position = page[-1].seq
            self.last_event_id = page[-1].event.id
        return page

    def _wait(self, seen_seq: int) -> None:
        with self._wake:
            if not self._closed.is_set() and self._outbox.last_seq() <= seen_seq:
                self._wake.wait(self._poll_interval_s)

    def __iter__(self) -> Iterator[Event]:
        while not self._closed.is_set():
            page = self._next_page()
            for stored in page:
                yield stored.event
            if len(page) == _PAGE:
                continue
            if not self._follow:
                return
            self._wait(self._start())

    async def __aiter__(self) -> AsyncIterator[Event]:
        while not self._closed.is_set():
            page = await run_sync_in_thread(self._next_page)
            for stored in page:
                yield stored.event
            if len(page) == _PAGE:
                continue
            if not self._follow:
                return
            deadline = time.monotonic() + self._poll_interval_s
            seen = self._start()
            while not self._closed.is_set() and time.monotonic() < deadline:
                if await run_sync_in_thread(self._outbox.last_seq) > seen:
                    break
                await anyio.sleep(min(0.05, self._poll_interval_s))
