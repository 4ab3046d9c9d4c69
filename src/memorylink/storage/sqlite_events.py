"""The event tables of :class:`~memorylink.storage.sqlite.SqliteStorage`: outbox, webhooks, deliveries."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from memorylink.storage.base import DeliveryRow, DeliveryState, OutboxRow, WebhookRow

__all__ = ["SqliteEventTables"]

_DELIVERY_COLUMNS = "webhook_id, event_seq, state, attempts, next_at, updated_at, status, error"


def _delivery(row: Any) -> DeliveryRow:
    webhook_id, seq, state, attempts, next_at, updated_at, status, error = row
    return DeliveryRow(
        str(webhook_id),
        int(seq),
        DeliveryState(state),
        int(attempts),
        None if next_at is None else int(next_at),
        int(updated_at),
        None if status is None else int(status),
        None if error is None else str(error),
    )


def _webhook(row: Any) -> WebhookRow:
    webhook_id, created_at, updated_at, enabled, cursor, body = row
    return WebhookRow(
        str(webhook_id),
        int(created_at),
        int(updated_at),
        bool(enabled),
        int(cursor),
        bytes(body),
    )


class SqliteEventTables:
    """Implements :class:`~memorylink.storage.base.EventStorage` on the storage's one connection.

    Callers group writes with the storage's ``transaction()``; each method alone is atomic.
    """

    _mutex: threading.RLock
    _connection: sqlite3.Connection

    # -- outbox ------------------------------------------------------------------------

    def has_webhooks(self) -> bool:
        with self._mutex:
            return bool(self._connection.execute("SELECT EXISTS (SELECT 1 FROM webhooks)").fetchone()[0])

    def append_events(self, rows: Sequence[tuple[str, int, bytes]]) -> int:
        """Append ``(event_id, created_at_ms, sealed_body)`` rows; returns the last seq (0 if none)."""
        if not rows:
            return 0
        with self._mutex:
            self._connection.executemany("INSERT INTO outbox (event_id, created_at, body) VALUES (?, ?, ?)", rows)
            return int(self._connection.execute("SELECT last_insert_rowid()").fetchone()[0])

    def events_after(self, seq: int, limit: int) -> list[OutboxRow]:
        with self._mutex:
            rows = self._connection.execute(
                "SELECT seq, event_id, created_at, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
        return [OutboxRow(int(s), str(i), int(c), bytes(b)) for s, i, c, b in rows]

    def event_seq(self, event_id: str) -> int | None:
        with self._mutex:
            row = self._connection.execute("SELECT seq FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
        return None if row is None else int(row[0])

    def last_event_seq(self) -> int:
        """The highest seq ever handed out (pruned events included), 0 for none."""
        with self._mutex:
            row = self._connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return 0 if row is None else int(row[0])

    def replace_event_bodies(self, rows: Iterable[tuple[int, bytes]]) -> None:
        """Replace sealed event bodies by seq (key rotation)."""
        with self._mutex:
            self._connection.executemany("UPDATE outbox SET body = ? WHERE seq = ?", ((b, s) for s, b in rows))

    def prune_events(self, before_ms: int, below_seq: int, *, keep_newest: int | None = None) -> int:
        """Delete events below ``below_seq`` that are older than ``before_ms`` or not among the
        ``keep_newest`` newest, and their delivery records; returns how many events went."""
        with self._mutex:
            pruned = self._connection.execute(
                "DELETE FROM outbox WHERE created_at < ? AND seq < ?", (before_ms, below_seq)
            ).rowcount
            if keep_newest is not None:
                # By position alone, a range of the primary key: no scan of the time index.
                pruned += self._connection.execute(
                    "DELETE FROM outbox WHERE seq < min(?, (SELECT coalesce(max(seq), 0) FROM outbox) - ? + 1)",
                    (below_seq, keep_newest),
                ).rowcount
            self._connection.execute(
                "DELETE FROM deliveries WHERE event_seq < ? AND event_seq NOT IN (SELECT seq FROM outbox)",
                (below_seq,),
            )
            return pruned

    # -- webhook endpoints ---------------------------------------------------------------

    def insert_webhook(self, row: WebhookRow) -> None:
        with self._mutex:
            self._connection.execute(
                "INSERT INTO webhooks (id, created_at, updated_at, enabled, cursor, body) VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, row.created_at, row.updated_at, int(row.enabled), row.cursor, row.body),
            )

    def update_webhook(
        self,
        webhook_id: str,
        *,
        updated_at: int | None = None,
        body: bytes | None = None,
        enabled: bool | None = None,
        cursor: int | None = None,
    ) -> bool:
        """Change the given columns; False if there is no such endpoint (or nothing to change)."""
        sets: list[str] = []
        values: list[object] = []
        for column, value in (
            ("updated_at", updated_at),
            ("body", body),
            ("enabled", None if enabled is None else int(enabled)),
            ("cursor", cursor),
        ):
            if value is not None:
                sets.append(f"{column} = ?")
                values.append(value)
        if not sets:
            return False
        with self._mutex:
            cursor_ = self._connection.execute(
                f"UPDATE webhooks SET {', '.join(sets)} WHERE id = ?", (*values, webhook_id)
            )
            return cursor_.rowcount == 1

    def delete_webhook(self, webhook_id: str) -> bool:
        """Remove an endpoint and its delivery records; False if there is no such endpoint."""
        with self._mutex:
            self._connection.execute("DELETE FROM deliveries WHERE webhook_id = ?", (webhook_id,))
            return self._connection.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)).rowcount == 1

    def get_webhook(self, webhook_id: str) -> WebhookRow | None:
        with self._mutex:
            row = self._connection.execute(
                "SELECT id, created_at, updated_at, enabled, cursor, body FROM webhooks WHERE id = ?", (webhook_id,)
            ).fetchone()
        return None if row is None else _webhook(row)

    def list_webhooks(self) -> list[WebhookRow]:
        with self._mutex:
            rows = self._connection.execute(
                "SELECT id, created_at, updated_at, enabled, cursor, body FROM webhooks ORDER BY created_at, id"
            ).fetchall()
        return [_webhook(row) for row in rows]

    # -- delivery records ----------------------------------------------------------------

    def put_delivery(self, row: DeliveryRow) -> None:
        with self._mutex:
            self._connection.execute(
                f"INSERT OR REPLACE INTO deliveries ({_DELIVERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.webhook_id,
                    row.event_seq,
                    int(row.state),
                    row.attempts,
                    row.next_at,
                    row.updated_at,
                    row.status,
                    row.error,
                ),
            )

    def get_delivery(self, webhook_id: str, event_seq: int) -> DeliveryRow | None:
        with self._mutex:
            row = self._connection.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE webhook_id = ? AND event_seq = ?",
                (webhook_id, event_seq),
            ).fetchone()
        return None if row is None else _delivery(row)

    def list_deliveries(
        self,
        webhook_id: str,
        *,
        state: DeliveryState | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[DeliveryRow]:
        """Delivery records of one endpoint, newest event first."""
        clauses = ["webhook_id = ?"]
        values: list[object] = [webhook_id]
        if state is not None:
            clauses.append("state = ?")
            values.append(int(state))
        if before_seq is not None:
            clauses.append("event_seq < ?")
            values.append(before_seq)
        with self._mutex:
            rows = self._connection.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE {' AND '.join(clauses)} "
                "ORDER BY event_seq DESC LIMIT ?",
                (*values, limit),
            ).fetchall()
        return [_delivery(row) for row in rows]
