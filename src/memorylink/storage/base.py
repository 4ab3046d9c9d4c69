"""The Storage role: durable rows of encrypted memories, history and the change journal."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = [
    "AppDataRow",
    "ChangeRow",
    "DeliveryRow",
    "DeliveryState",
    "EventStorage",
    "HistoryRow",
    "MemoryRow",
    "Op",
    "OutboxRow",
    "Storage",
    "WebhookRow",
]


class Op(enum.IntEnum):
    """Kinds of journal entries."""

    PUT = 1  # a new vector for the memory (created, or its text changed)
    DELETE = 2
    TOUCH = 3  # tags / metadata changed; the vector did not


class MemoryRow(NamedTuple):
    """One memory as stored: plaintext id, update time (ms) and version; the rest opaque."""

    id: int
    updated_at: int
    version: int
    user_bi: bytes
    agent_bi: bytes | None
    run_bi: bytes | None
    body: bytes


class HistoryRow(NamedTuple):
    """A superseded version of a memory."""

    memory_id: int
    version: int
    changed_at: int
    body: bytes


class ChangeRow(NamedTuple):
    """A journal entry: what changed, in commit order, with the encrypted vector for PUTs."""

    seq: int
    memory_id: int
    op: Op
    vector: bytes | None


class OutboxRow(NamedTuple):
    """One event in the outbox: plaintext position, id and time (ms); the event itself sealed."""

    seq: int
    event_id: str
    created_at: int
    body: bytes


class WebhookRow(NamedTuple):
    """One webhook endpoint: its delivery position (``cursor``, an outbox seq) and sealed settings."""

    id: str
    created_at: int
    updated_at: int
    enabled: bool
    cursor: int
    body: bytes


class AppDataRow(NamedTuple):
    """One front-end value: insertion position, blind indexes of namespace and key, time (ms); value sealed."""

    seq: int
    ns_bi: bytes
    key_bi: bytes
    updated_at: int
    body: bytes


class DeliveryState(enum.IntEnum):
    """Where one event stands with one endpoint."""

    PENDING = 0  # failed at least once; retried at next_at
    DELIVERED = 1
    DEAD = 2  # out of attempts, or refused for good (a 4xx); redeliver() revives it


class DeliveryRow(NamedTuple):
    """The record of one event's delivery to one endpoint."""

    webhook_id: str
    event_seq: int
    state: DeliveryState
    attempts: int
    next_at: int | None
    updated_at: int
    status: int | None
    error: str | None


@runtime_checkable
class EventStorage(Protocol):
    """Contract for the event tables: the outbox, webhook endpoints and delivery records.

    * ``append_events`` inside a ``transaction()`` commits or vanishes with the change it
      reports; outbox ``seq`` values increase in commit order and are never reused.
    * As with memories, bodies are opaque: the caller encrypts them.
    """

    def has_webhooks(self) -> bool: ...

    def append_events(self, rows: Sequence[tuple[str, int, bytes]]) -> int: ...

    def events_after(self, seq: int, limit: int) -> list[OutboxRow]: ...

    def event_seq(self, event_id: str) -> int | None: ...

    def last_event_seq(self) -> int: ...

    def replace_event_bodies(self, rows: Iterable[tuple[int, bytes]]) -> None: ...

    def prune_events(self, before_ms: int, below_seq: int, *, keep_newest: int | None = None) -> int: ...

    def insert_webhook(self, row: WebhookRow) -> None: ...

    def update_webhook(
        self,
        webhook_id: str,
        *,
        updated_at: int | None = None,
        body: bytes | None = None,
        enabled: bool | None = None,
        cursor: int | None = None,
    ) -> bool: ...

    def delete_webhook(self, webhook_id: str) -> bool: ...

    def get_webhook(self, webhook_id: str) -> WebhookRow | None: ...

    def list_webhooks(self) -> list[WebhookRow]: ...

    def put_delivery(self, row: DeliveryRow) -> None: ...

    def get_delivery(self, webhook_id: str, event_seq: int) -> DeliveryRow | None: ...

    def list_deliveries(
        self, webhook_id: str, *, state: DeliveryState | None = None, before_seq: int | None = None, limit: int = 100
    ) -> list[DeliveryRow]: ...


@runtime_checkable
class Storage(Protocol):
    """Contract for storage backends (the source of truth).

    * A write inside ``transaction()`` is visible to every reader once the block exits,
      and not at all if it raised; a process killed inside it leaves no trace of it.
    * Journal ``seq`` values increase strictly in commit order and are never reused,
      even after ``prune_changes``.
    * Rows hold only what the caller gives them: the caller encrypts, storage never sees
      plaintext text, tags, metadata or vectors.
    * Thread-safe; other processes may use the same store concurrently.
    """

    def transaction(self) -> AbstractContextManager[None]: ...

    def snapshot(self) -> AbstractContextManager[None]: ...

    def data_version(self) -> int: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def insert_memories(self, rows: Sequence[MemoryRow]) -> None: ...

    def update_memory(self, row: MemoryRow, expected_version: int) -> bool: ...

    def delete_memories(self, ids: Sequence[int]) -> list[int]: ...

    def get_memory(self, memory_id: int) -> MemoryRow | None: ...

    def get_memories(self, ids: Sequence[int]) -> dict[int, MemoryRow]: ...

    def iter_memories(self, batch: int = 2_000) -> Iterator[list[MemoryRow]]: ...

    def insert_history(self, rows: Sequence[HistoryRow]) -> None: ...

    def history(self, memory_id: int) -> list[HistoryRow]: ...

    def append_changes(self, changes: Sequence[tuple[int, Op, bytes | None]]) -> int: ...

    def changes_after(self, seq: int) -> list[ChangeRow]: ...

    def prune_changes(self, up_to_seq: int) -> int: ...

    def replace_bodies(self, rows: Iterable[MemoryRow]) -> None: ...

    def close(self) -> None: ...
