"""The store's shared state and commit primitives (base of the MemoryStore parts)."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from memorylink._records import Body, Catalog, RecordCodec, Scope
from memorylink._state import DerivedState
from memorylink._version import __version__
from memorylink.config import Settings
from memorylink.embedders.base import Embedder
from memorylink.embedders.cache import LruCache
from memorylink.errors import (
    MemoryLinkError,
    NotFoundError,
    StoreClosedError,
)
from memorylink.events.context import current_request_id
from memorylink.events.emitter import EventEmitter
from memorylink.events.models import Event
from memorylink.events.outbox import Outbox
from memorylink.events.webhook_manager import WebhookManager
from memorylink.ids import IdGenerator, decode_id, encode_id
from memorylink.models import (
    NewMemory,
    check_scope_id,
    trusted,
    utcnow,
)
from memorylink.storage.base import MemoryRow, Op
from memorylink.storage.sqlite import SqliteStorage

logger = logging.getLogger(__name__)

_ID_RETRIES = 8
_SOURCE = f"memorylink/{__version__}"


class StoreCore:
    """Attributes and internal operations shared by every part of MemoryStore."""

    settings: Settings
    events: EventEmitter
    path: Path | None
    _storage: SqliteStorage
    _codec: RecordCodec
    _embedder: Embedder
    _ids: IdGenerator
    _query_cache: LruCache[str, npt.NDArray[np.float32]]
    _closed: bool
    _state: DerivedState
    _scope_id_cache: dict[tuple[Scope, int], npt.NDArray[np.int64]]
    _outbox: Outbox
    webhooks: WebhookManager

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError()

    # -- helpers -------------------------------------------------------------------------

    def _embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        vectors = self._embedder.embed(list(texts))
        if vectors.shape != (len(texts), self._embedder.dimension):
            raise MemoryLinkError(
                f"embedder {self._embedder.name!r} returned shape {vectors.shape}, "
                f"expected {(len(texts), self._embedder.dimension)}"
            )
        contiguous: npt.NDArray[np.float32] = np.ascontiguousarray(vectors, dtype=np.float32)
        return contiguous

    def _embed_query(self, query: str) -> npt.NDArray[np.float32]:
        cached = self._query_cache.get(query)
        if cached is not None:
            return cached
        vector: npt.NDArray[np.float32] = self._embed([query])[0]
        vector.setflags(write=False)
        self._query_cache.put(query, vector)
        return vector

    def _event(self, event_type: str, scope: tuple[str | None, str | None, str | None], data: dict[str, Any]) -> Event:
        # Built by the library from checked values: skip validation (this runs per memory written).
        return trusted(
            Event,
            {
                "id": "evt_" + encode_id(self._ids.next()),
                "type": event_type,
                "timestamp": utcnow(),
                "user_id": scope[0],
                "agent_id": scope[1],
                "run_id": scope[2],
                "data": data,
                "request_id": current_request_id(),
                "source": _SOURCE,
            },
        )

    def _stage(self, make: Callable[[], list[tuple[Event, dict[str, Any] | None]]]) -> list[Event]:
        """Inside a write transaction: build the change's events if anyone will see them, and
        seal them into the outbox when it is active, so they commit (or vanish) with the change."""
        durable = self._outbox.active()
        if not durable and not self.events.has_any_listener():
            return []
        built = make()
        if durable and built:
            self._outbox.stage([event for event, _ in built], [private for _, private in built])
        return [event for event, _ in built]

    def _publish(self, events: Sequence[Event]) -> None:
        """After the commit: wake outbox readers, and hand the events to subscribers and sinks."""
        if events:
            self._outbox.notify_committed()
        for event in events:
            self.events.emit(event)

    def _emit(
        self,
        event_type: str,
        scope: tuple[str | None, str | None, str | None],
        data: dict[str, Any],
        *,
        durable: bool = True,
    ) -> None:
        """One event that reports no single write (see :meth:`_emit_all`)."""
        self._emit_all([(event_type, scope, data)], durable=durable)

    def _emit_all(
        self,
        specs: Sequence[tuple[str, tuple[str | None, str | None, str | None], dict[str, Any]]],
        *,
        durable: bool = True,
    ) -> None:
        """Events that report no single write (a search, a finished batch): staged together in
        their own transaction when the outbox is active and ``durable``, then published."""
        if durable and self._outbox.active():  # checked outside a transaction: a read costs no write lock
            with self._storage.transaction():
                events = self._stage(lambda: [(self._event(kind, scope, data), None) for kind, scope, data in specs])
        elif any(self.events.has_listeners(kind) for kind, _, _ in specs):
            events = [self._event(kind, scope, data) for kind, scope, data in specs]
        else:
            return
        self._publish(events)

    def _scope(self, user_id: str | None, agent_id: str | None, run_id: str | None) -> Scope:
        limits = self.settings.limits
        return Scope(
            check_scope_id("user_id", user_id, limits),
            check_scope_id("agent_id", agent_id, limits),
            check_scope_id("run_id", run_id, limits),
        )

    def _load_row(self, memory_id: str, scope: Scope) -> tuple[MemoryRow, Body]:
        label = decode_id(memory_id)
        row = self._storage.get_memory(label)
        if row is None:
            raise NotFoundError(memory_id)
        body = self._codec.open_row(row)
        if not scope.contains(body.user_id, body.agent_id, body.run_id):
            raise NotFoundError(memory_id)
        return row, body

    def _sync(self) -> None:
        self._state.refresh()

    def _catalog(self) -> Catalog:
        """The catalog, built on first use and current with every commit (any process's)."""
        self._state.ensure_catalog()
        self._sync()
        return self._state.ensure_catalog()  # a refresh may have reloaded the state

    def _write_new(
        self,
        items: Sequence[NewMemory],
        vectors: npt.NDArray[np.float32],
        *,
        ids: Sequence[int] | None = None,
        updated_ms: Sequence[int] | None = None,
        versions: Sequence[int] | None = None,
        announce: bool = True,
    ) -> list[tuple[MemoryRow, Body]]:
        """Commit new memories (their journal entries, and ``memory.created`` events) in one transaction."""
        for attempt in range(_ID_RETRIES):
            labels = list(ids) if ids is not None else [self._ids.next() for _ in items]
            now_ms = int(time.time() * 1000)
            rows: list[MemoryRow] = []
            bodies: list[Body] = []
            for position, (label, item) in enumerate(zip(labels, items, strict=True)):
                body = Body(item.text, tuple(item.tags), item.metadata, item.user_id or "", item.agent_id, item.run_id)
                bodies.append(body)
                rows.append(
                    self._codec.memory_row(
                        label,
                        body,
                        updated_at=updated_ms[position] if updated_ms is not None else max(now_ms, label >> 20),
                        version=versions[position] if versions is not None else 1,
                    )
                )
            journal = [
                (label, Op.PUT, self._codec.seal_vector(label, vectors[position]))
                for position, label in enumerate(labels)
            ]
            try:
                with self._storage.transaction():
                    self._storage.insert_memories(rows)
                    last_seq = self._storage.append_changes(journal)
                    events = self._stage(partial(self._created_events, rows, bodies)) if announce else []
            except sqlite3.IntegrityError:
                if ids is not None or attempt == _ID_RETRIES - 1:
                    raise
                logger.debug("memory id collision; retrying with fresh ids")
                continue
            first_seq = last_seq - len(labels) + 1
            self._state.note_write(
                {first_seq + position: vectors[position] for position in range(len(labels))},
                {first_seq + position: (rows[position], bodies[position]) for position in range(len(labels))},
            )
            self._publish(events)
            self._state.maybe_checkpoint()
            return list(zip(rows, bodies, strict=True))
        raise AssertionError("unreachable")

    def _created_events(
        self, rows: Sequence[MemoryRow], bodies: Sequence[Body]
    ) -> list[tuple[Event, dict[str, Any] | None]]:
        return [
            (
                self._event(
                    "memory.created",
                    _scope_of(body),
                    {"id": encode_id(row.id), "version": row.version, "tags": list(body.tags)},
                ),
                {"text": body.text},
            )
            for row, body in zip(rows, bodies, strict=True)
        ]

    def _delete_labels(
        self, labels: Sequence[int], scopes: dict[int, tuple[str | None, str | None, str | None]]
    ) -> list[int]:
        """Delete memories (and journal it, and stage ``memory.deleted``) in one transaction.

        ``scopes`` gives each label's event scope (the memory's own, when the caller knows it).
        """
        with self._storage.transaction():
            deleted = self._storage.delete_memories(labels)
            self._storage.append_changes([(label, Op.DELETE, None) for label in deleted])
            events = self._stage(
                lambda: [
                    (
                        self._event("memory.deleted", scopes.get(label, (None, None, None)), {"id": encode_id(label)}),
                        None,
                    )
                    for label in deleted
                ]
            )
        if deleted:
            self._state.note_write()
            self._publish(events)
            self._state.maybe_checkpoint()
        return deleted


def _scope_of(body: Body) -> tuple[str, str | None, str | None]:
    return body.user_id, body.agent_id, body.run_id
