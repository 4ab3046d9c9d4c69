"""The ``app_data`` table of :class:`~memorylink.storage.sqlite.SqliteStorage`: front-end state, sealed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

from memorylink.storage.base import AppDataRow

__all__ = ["SqliteAppDataTable"]

_COLUMNS = "seq, ns_bi, key_bi, updated_at, body"


def _row(row: Any) -> AppDataRow:
    seq, ns_bi, key_bi, updated_at, body = row
    return AppDataRow(int(seq), bytes(ns_bi), bytes(key_bi), int(updated_at), bytes(body))


class SqliteAppDataTable:
    """Rows keyed by ``(ns_bi, key_bi)``; the caller computes the blind indexes and seals the bodies.

    Callers group writes with the storage's ``transaction()``; each method alone is atomic.
    """

    _mutex: threading.RLock
    _connection: sqlite3.Connection

    def get_app_data(self, ns_bi: bytes, key_bi: bytes) -> AppDataRow | None:
        with self._mutex:
            row = self._connection.execute(
                f"SELECT {_COLUMNS} FROM app_data WHERE ns_bi = ? AND key_bi = ?", (ns_bi, key_bi)
            ).fetchone()
        return None if row is None else _row(row)

    def put_app_data(self, ns_bi: bytes, key_bi: bytes, updated_at: int, body: bytes, *, only_new: bool) -> bool:
        """Insert, or replace the body of an existing row (keeping its seq); False if ``only_new`` and it exists."""
        with self._mutex:
            if only_new:
                cursor = self._connection.execute(
                    "INSERT INTO app_data (ns_bi, key_bi, updated_at, body) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (ns_bi, key_bi) DO NOTHING",
                    (ns_bi, key_bi, updated_at, body),
                )
            else:
                cursor = self._connection.execute(
                    "INSERT INTO app_data (ns_bi, key_bi, updated_at, body) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (ns_bi, key_bi) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body",
                    (ns_bi, key_bi, updated_at, body),
                )
            return cursor.rowcount == 1

    def delete_app_data(self, ns_bi: bytes, key_bi: bytes) -> bool:
        with self._mutex:
            cursor = self._connection.execute("DELETE FROM app_data WHERE ns_bi = ? AND key_bi = ?", (ns_bi, key_bi))
            return cursor.rowcount == 1

    def scan_app_data(
        self, ns_bi: bytes, *, after_seq: int | None, before_seq: int | None, descending: bool, limit: int | None
    ) -> list[AppDataRow]:
        """Rows of one namespace in seq order (or reversed), between the given seqs (exclusive)."""
        clauses = ["ns_bi = ?"]
        params: list[object] = [ns_bi]
        if after_seq is not None:
            clauses.append("seq > ?")
            params.append(after_seq)
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        params.append(-1 if limit is None else limit)
        with self._mutex:
            rows = self._connection.execute(
                f"SELECT {_COLUMNS} FROM app_data WHERE {' AND '.join(clauses)} "
                f"ORDER BY seq {'DESC' if descending else 'ASC'} LIMIT ?",
                params,
            ).fetchall()
        return [_row(row) for row in rows]

    def count_app_data(self, ns_bi: bytes) -> int:
        with self._mutex:
            return int(
                self._connection.execute("SELECT count(*) FROM app_data WHERE ns_bi = ?", (ns_bi,)).fetchone()[0]
            )

    def iter_all_app_data(self) -> list[AppDataRow]:
        """Every row (key rotation)."""
        with self._mutex:
            return [_row(row) for row in self._connection.execute(f"SELECT {_COLUMNS} FROM app_data ORDER BY seq")]

    def replace_app_data(self, rows: Iterable[AppDataRow]) -> None:
        """Rewrite blind indexes and bodies by seq (key rotation)."""
        with self._mutex:
            self._connection.executemany(
                "UPDATE app_data SET ns_bi = ?, key_bi = ?, body = ? WHERE seq = ?",
                ((r.ns_bi, r.key_bi, r.body, r.seq) for r in rows),
            )
