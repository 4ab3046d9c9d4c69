"""SQLite storage (WAL mode): the single source of truth. It stores opaque encrypted bytes."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from memorylink.errors import SchemaVersionError, StoreCorruptedError
from memorylink.storage.base import ChangeRow, HistoryRow, MemoryRow, Op
from memorylink.storage.migrations import MIGRATIONS, SCHEMA_VERSION, migration_hash
from memorylink.storage.sqlite_appdata import SqliteAppDataTable
from memorylink.storage.sqlite_events import SqliteEventTables

__all__ = ["SqliteStorage"]

logger = logging.getLogger(__name__)

_MEMORY_COLUMNS = "id, updated_at, version, user_bi, agent_bi, run_bi, body"
_MAX_VARIABLES = 900


def _memory_row(row: tuple[object, ...]) -> MemoryRow:
    return MemoryRow(*row)  # type: ignore[arg-type]


class SqliteStorage(SqliteEventTables, SqliteAppDataTable):
    """Encrypted memories, history, change journal, event tables and front-end state, in one SQLite file.

    One connection, guarded by a mutex, serves every thread of the process; SQLite's
    file locks (WAL mode, ``BEGIN IMMEDIATE`` for writes, a busy timeout) coordinate
    with other processes. Pass ``":memory:"`` for a throwaway in-memory database.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_s: float = 30.0,
        mmap_bytes: int = 0,
    ) -> None:
        self.path = str(path)
        self._mutex = threading.RLock()
        self._connection = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._depth = 0
        try:
            self._connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if not self._connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                # Journal vectors are pruned after each checkpoint; let the file give the space back.
                self._connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
            if self.path != ":memory:":
                mode = self._connection.execute("PRAGMA journal_mode").fetchone()[0]
                if mode != "wal":
                    self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute(f"PRAGMA synchronous = {synchronous}")
            # Up to mmap_bytes of the file is read through a map instead of a pread per page
            # (the store passes Settings.sqlite_mmap_bytes; 0, SQLite's default, is no map).
            self._connection.execute(f"PRAGMA mmap_size = {int(mmap_bytes)}")
        except sqlite3.DatabaseError as error:
            self._connection.close()
            raise StoreCorruptedError(f"{self.path} is not a memorylink store: {error}") from error

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        with self._mutex:
            self._connection.close()

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one."""
        return self._transaction("BEGIN IMMEDIATE")

    def snapshot(self) -> AbstractContextManager[None]:
        """A read transaction: every query inside sees one consistent state."""
        return self._transaction("BEGIN")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        with self._mutex:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._connection.execute(begin)
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._connection.execute("ROLLBACK")
                raise
            self._depth = 0
            self._connection.execute("COMMIT")

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's ``PRAGMA data_version``)."""
        with self._mutex:
            return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    # -- schema and metadata ---------------------------------------------------------

    def is_initialised(self) -> bool:
        with self._mutex:
            row = self._connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()
            return row is not None

    def schema_version(self) -> int:
        with self._mutex:
            if not self.is_initialised():
                return 0
            value = self.get_meta("schema_version")
            return int(value) if value is not None else 0

    def migrate(self) -> None:
        """Apply pending migrations; verify the hashes of applied ones."""
        with self.transaction():
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{self.path} has schema version {current}; this memorylink understands up to "
                    f"{SCHEMA_VERSION}. Upgrade memorylink."
                )
            for number in range(1, current + 1):
                recorded = self.get_meta(f"migration.{number}")
                if recorded is not None and recorded != migration_hash(number):
                    raise StoreCorruptedError(f"migration {number} in {self.path} does not match its hash")
            for number in range(current + 1, SCHEMA_VERSION + 1):
                logger.info("applying schema migration %d to %s", number, self.path)
                for statement in MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        self._connection.execute(statement)
                self.set_meta(f"migration.{number}", migration_hash(number))
                self.set_meta("schema_version", str(number))

    def get_meta(self, key: str) -> str | None:
        with self._mutex:
            row = self._connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

    def all_meta(self) -> dict[str, str]:
        with self._mutex:
            return {str(k): str(v) for k, v in self._connection.execute("SELECT key, value FROM meta")}

    def set_meta(self, key: str, value: str) -> None:
        with self._mutex:
            self._connection.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- memories --------------------------------------------------------------------

    def insert_memories(self, rows: Sequence[MemoryRow]) -> None:
        """Insert rows; raises ``sqlite3.IntegrityError`` on an id collision."""
        with self._mutex:
            self._connection.executemany(f"INSERT INTO memories ({_MEMORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def ids_taken(self, ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        with self._mutex:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                found.update(
                    int(r[0]) for r in self._connection.execute(f"SELECT id FROM memories WHERE id IN ({marks})", chunk)
                )
        return found

    def update_memory(self, row: MemoryRow, expected_version: int) -> bool:
        """Replace a row if it still has ``expected_version``; False if it changed or vanished."""
        with self._mutex:
            cursor = self._connection.execute(
                "UPDATE memories SET updated_at = ?, version = ?, user_bi = ?, agent_bi = ?, run_bi = ?, body = ? "
                "WHERE id = ? AND version = ?",
                (
                    row.updated_at,
                    row.version,
                    row.user_bi,
                    row.agent_bi,
                    row.run_bi,
                    row.body,
                    row.id,
                    expected_version,
                ),
            )
            return cursor.rowcount == 1

    def replace_bodies(self, rows: Iterable[MemoryRow]) -> None:
        """Rewrite bodies and blind indexes in place (key rotation)."""
        with self._mutex:
            self._connection.executemany(
                "UPDATE memories SET user_bi = ?, agent_bi = ?, run_bi = ?, body = ? WHERE id = ?",
                ((r.user_bi, r.agent_bi, r.run_bi, r.body, r.id) for r in rows),
            )

    def delete_memories(self, ids: Sequence[int]) -> list[int]:
        """Delete rows and their history; returns the ids that existed."""
        deleted: list[int] = []
        with self._mutex:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                deleted.extend(
                    int(r[0])
                    for r in self._connection.execute(f"DELETE FROM memories WHERE id IN ({marks}) RETURNING id", chunk)
                )
                self._connection.execute(f"DELETE FROM history WHERE memory_id IN ({marks})", chunk)
        return deleted

    def get_memory(self, memory_id: int) -> MemoryRow | None:
        with self._mutex:
            row = self._connection.execute(
                f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE id = ?", (memory_id,)
            ).fetchone()
            return None if row is None else _memory_row(row)

    def get_memories(self, ids: Sequence[int]) -> dict[int, MemoryRow]:
        if len(ids) <= _MAX_VARIABLES:
            # One statement (a search's hits): its text is cached by sqlite3 per length.
            with self._mutex:
                rows = self._connection.execute(
                    f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE id IN ({','.join('?' * len(ids))})", ids
                ).fetchall()
            return {row[0]: MemoryRow(*row) for row in rows}
        found: dict[int, MemoryRow] = {}
        with self._mutex:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                for row in self._connection.execute(
                    f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE id IN ({marks})", chunk
                ):
                    found[int(row[0])] = _memory_row(row)
        return found

    def iter_memories(self, batch: int = 2_000) -> Iterator[list[MemoryRow]]:
        """Every row in id order, in batches (keyset pagination, no long-held cursor)."""
        last = -1
        while True:
            with self._mutex:
                rows = self._connection.execute(
                    f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
                ).fetchall()
            if not rows:
                return
            yield [_memory_row(r) for r in rows]
            last = int(rows[-1][0])

    def all_ids(self) -> list[int]:
        with self._mutex:
            return [int(r[0]) for r in self._connection.execute("SELECT id FROM memories")]

    def count(self, *, user_bi: bytes | None = None) -> int:
        with self._mutex:
            if user_bi is None:
                return int(self._connection.execute("SELECT count(*) FROM memories").fetchone()[0])
            return int(
                self._connection.execute("SELECT count(*) FROM memories WHERE user_bi = ?", (user_bi,)).fetchone()[0]
            )

    def count_users(self) -> int:
        with self._mutex:
            return int(self._connection.execute("SELECT count(DISTINCT user_bi) FROM memories").fetchone()[0])

    def page(
        self,
        *,
        scope: dict[str, bytes],
        order: str,
        after: tuple[int, int] | None,
        limit: int,
    ) -> list[MemoryRow]:
        """One page of rows in ``order`` (created_* by id, updated_* by (updated_at, id)), keyset-paginated."""
        clauses = [f"{column} = ?" for column in scope]
        params: list[object] = list(scope.values())
        descending = order.endswith("_desc")
        compare = "<" if descending else ">"
        direction = "DESC" if descending else "ASC"
        if order.startswith("created"):
            if after is not None:
                clauses.append(f"id {compare} ?")
                params.append(after[1])
            order_by = f"id {direction}"
        else:
            if after is not None:
                clauses.append(f"(updated_at, id) {compare} (?, ?)")
                params.extend(after)
            order_by = f"updated_at {direction}, id {direction}"
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(limit)
        with self._mutex:
            rows = self._connection.execute(
                f"SELECT {_MEMORY_COLUMNS} FROM memories {where} ORDER BY {order_by} LIMIT ?", params
            ).fetchall()
        return [_memory_row(r) for r in rows]

    def ids_in_scope(self, scope: dict[str, bytes]) -> list[int]:
        """Ids of the rows whose blind-index columns equal ``scope`` (ascending), from the scope indexes."""
        clauses = " AND ".join(f"{column} = ?" for column in scope)
        with self._mutex:
            rows = self._connection.execute(
                f"SELECT id FROM memories WHERE {clauses} ORDER BY id", list(scope.values())
            ).fetchall()
        return [row[0] for row in rows]

    # -- history ---------------------------------------------------------------------

    def insert_history(self, rows: Sequence[HistoryRow]) -> None:
        with self._mutex:
            self._connection.executemany(
                "INSERT OR REPLACE INTO history (memory_id, version, changed_at, body) VALUES (?, ?, ?, ?)",
                rows,
            )

    def history(self, memory_id: int) -> list[HistoryRow]:
        with self._mutex:
            return [
                HistoryRow(*r)
                for r in self._connection.execute(
                    "SELECT memory_id, version, changed_at, body FROM history WHERE memory_id = ? ORDER BY version",
                    (memory_id,),
                )
            ]

    def iter_history(self) -> Iterator[HistoryRow]:
        with self._mutex:
            rows = self._connection.execute("SELECT memory_id, version, changed_at, body FROM history").fetchall()
        for r in rows:
            yield HistoryRow(*r)

    def count_history(self) -> int:
        with self._mutex:
            return int(self._connection.execute("SELECT count(*) FROM history").fetchone()[0])

    # -- change journal --------------------------------------------------------------

    def append_changes(self, changes: Sequence[tuple[int, Op, bytes | None]]) -> int:
        """Append journal entries ``(memory_id, op, encrypted_vector)``; returns the last seq."""
        with self._mutex:
            self._connection.executemany(
                "INSERT INTO changes (memory_id, op, vector) VALUES (?, ?, ?)",
                ((memory_id, int(op), vector) for memory_id, op, vector in changes),
            )
            # Inside the caller's write transaction nobody else appends, so this batch holds
            # the seqs last - len(changes) + 1 .. last.
            row = self._connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
            return int(row[0]) if row else 0

    def changes_after(self, seq: int) -> list[ChangeRow]:
        with self._mutex:
            return [
                ChangeRow(int(r[0]), int(r[1]), Op(r[2]), r[3])
                for r in self._connection.execute(
                    "SELECT seq, memory_id, op, vector FROM changes WHERE seq > ? ORDER BY seq", (seq,)
                )
            ]

    def journal_bounds(self) -> tuple[int, int, int]:
        """``(min_seq, max_seq, count)`` of the journal; max_seq counts pruned entries too.

        Pruning removes a prefix and seqs are never skipped, so the live entries are exactly
        ``min_seq..max live seq``: two index lookups, never a table scan.
        """
        with self._mutex:
            low, live_high, high = self._connection.execute(
                "SELECT (SELECT min(seq) FROM changes), (SELECT max(seq) FROM changes), "
                "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)"
            ).fetchone()
            if low is None:
                return 0, int(high), 0
            return int(low), int(high), int(live_high) - int(low) + 1

    def prune_changes(self, up_to_seq: int) -> int:
        with self._mutex:
            cursor = self._connection.execute("DELETE FROM changes WHERE seq <= ?", (up_to_seq,))
            return int(cursor.rowcount)

    def iter_changes_with_vectors(self) -> list[ChangeRow]:
        with self._mutex:
            return [
                ChangeRow(int(r[0]), int(r[1]), Op(r[2]), r[3])
                for r in self._connection.execute(
                    "SELECT seq, memory_id, op, vector FROM changes WHERE vector IS NOT NULL"
                )
            ]

    def replace_change_vectors(self, rows: Iterable[tuple[int, bytes]]) -> None:
        with self._mutex:
            self._connection.executemany(
                "UPDATE changes SET vector = ? WHERE seq = ?", ((vector, seq) for seq, vector in rows)
            )

    def replace_history_bodies(self, rows: Iterable[HistoryRow]) -> None:
        with self._mutex:
            self._connection.executemany(
                "UPDATE history SET body = ? WHERE memory_id = ? AND version = ?",
                ((r.body, r.memory_id, r.version) for r in rows),
            )

    def reclaim_space(self) -> None:
        """Return free pages (e.g. of pruned journal entries) to the filesystem."""
        with self._mutex:
            try:
                # executescript steps the pragma to completion; execute() frees one page per step.
                self._connection.executescript("PRAGMA incremental_vacuum;")
            except sqlite3.OperationalError as error:
                logger.debug("incremental vacuum skipped: %s", error)

    def checkpoint_wal(self) -> None:
        """Fold the WAL into the main file (best effort; other readers may hold it)."""
        with self._mutex:
            try:
                self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as error:
                logger.debug("wal checkpoint skipped: %s", error)


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    items = list(ids)
    for start in range(0, len(items), _MAX_VARIABLES):
        yield items[start : start + _MAX_VARIABLES]
