"""The durable outbox: events sealed into storage in the transaction of the change they report.

An event is in the outbox if and only if its change committed, so a webhook delivery
worker (or a feed reader in another process) can never see an event for a rolled-back
write, nor miss one for a committed write, even across a crash.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from memorylink.config import EventSettings
from memorylink.crypto.base import Cipher
from memorylink.errors import NotFoundError, StoreClosedError, StoreCorruptedError
from memorylink.events.models import Event
from memorylink.storage.base import EventStorage

__all__ = ["Outbox", "StoredEvent", "reseal_outbox"]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event read back from the outbox, with its position and the parts only some receivers get."""

    seq: int
    event: Event
    private: dict[str, Any]  # e.g. the memory text, sent only to endpoints that ask for it


class Outbox:
    """Seals events into the outbox and reads them back in commit order."""

    def __init__(self, storage: EventStorage, cipher: Callable[[], Cipher], settings: EventSettings) -> None:
        self._storage = storage
        self._cipher = cipher  # a source, not a value: rotate_key swaps the store's cipher
        self._settings = settings
        self.committed = threading.Condition()
        """Notified after this process commits events (feeds and the delivery worker wait on it)."""
        self.generation = 0
        """Counts notifications, so a waiter can tell whether one came since it last looked."""
        self._closed = False

    def close(self) -> None:
        """The store closed: reads raise StoreClosedError from now on, and waiting feeds wake to meet it."""
        self._closed = True
        self.notify_committed()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError()

    @contextmanager
    def _reading(self) -> Iterator[None]:
        # A read racing close() fails in the storage (a closed SQLite connection): report it as
        # the closed store it is, not as the storage's own error.
        self._check_open()
        try:
            yield
        except Exception:
            if self._closed:
                raise StoreClosedError() from None
            raise

    def notify_committed(self) -> None:
        with self.committed:
            self.generation += 1
            self.committed.notify_all()

    @property
    def settings(self) -> EventSettings:
        return self._settings

    def active(self) -> bool:
        """Whether writes record their events now (call inside the write transaction)."""
        mode = self._settings.outbox
        if mode == "never":
            return False
        return mode == "always" or self._storage.has_webhooks()

    def stage(self, events: Sequence[Event], private: Sequence[dict[str, Any] | None] | None = None) -> int:
        """Seal and append events; the caller's transaction commits or drops them. Returns the last seq."""
        self._check_open()
        rows: list[tuple[str, int, bytes]] = []
        for position, event in enumerate(events):
            extra = private[position] if private is not None else None
            payload = {"e": event.model_dump(mode="json"), "p": extra or {}}
            plain = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
            created_ms = int(event.timestamp.timestamp() * 1000)
            rows.append((event.id, created_ms, self._cipher().encrypt(plain, _associated_data(event.id))))
        return self._storage.append_events(rows)

    def read(self, after_seq: int, limit: int = 500) -> list[StoredEvent]:
        """Events with seq above ``after_seq``, oldest first."""
        with self._reading():
            rows = self._storage.events_after(after_seq, limit)
        stored: list[StoredEvent] = []
        for row in rows:
            plain = self._cipher().decrypt(row.body, _associated_data(row.event_id))
            try:
                payload = json.loads(plain)
                event = Event.model_validate(payload["e"])
                extra = payload.get("p") or {}
            except (ValueError, KeyError, TypeError) as error:
                raise StoreCorruptedError(f"outbox event {row.event_id} does not decode: {error}") from None
            stored.append(StoredEvent(row.seq, event, extra))
        return stored

    def seq_of(self, event_id: str) -> int:
        """The outbox position of an event id.

        Raises:
            NotFoundError: No such event in the outbox (never recorded, or pruned).
        """
        with self._reading():
            seq = self._storage.event_seq(event_id)
        if seq is None:
            raise NotFoundError(
                event_id, kind="event", message=f"event {event_id!r} is not in the outbox (unknown, or pruned)"
            )
        return seq

    def last_seq(self) -> int:
        with self._reading():
            return self._storage.last_event_seq()


def reseal_outbox(storage: EventStorage, old: Cipher, new: Cipher) -> None:
    """Re-encrypt every outbox event under ``new`` (inside the caller's key-rotation transaction)."""
    seq = 0
    while True:
        page = storage.events_after(seq, 1000)
        if not page:
            return
        storage.replace_event_bodies(
            (
                row.seq,
                new.encrypt(old.decrypt(row.body, _associated_data(row.event_id)), _associated_data(row.event_id)),
            )
            for row in page
        )
        seq = page[-1].seq


def _associated_data(event_id: str) -> bytes:
    return b"ml/event/" + event_id.encode()
