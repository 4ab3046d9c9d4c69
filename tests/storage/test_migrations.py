"""Schema migrations: applied in order, checked by hash, never downgraded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from memorylink import MemoryStore
from memorylink import _records as records_module
from memorylink.errors import SchemaVersionError, StoreCorruptedError
from memorylink.storage import sqlite as sqlite_module
from memorylink.storage.migrations import MIGRATIONS, SCHEMA_VERSION, migration_hash
from memorylink.storage.sqlite import SqliteStorage


def version_one_database(path: Path) -> None:
    """A database exactly as memorylink with only migration 1 left it."""
    storage = SqliteStorage(path)
    with storage.transaction():
        for statement in MIGRATIONS[0].split(";"):
            if statement.strip():
                storage._connection.execute(statement)
        storage.set_meta("migration.1", migration_hash(1))
        storage.set_meta("schema_version", "1")
    storage.close()


def test_an_old_database_is_migrated_forward(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version_one_database(path)
    storage = SqliteStorage(path)
    storage.migrate()
    assert storage.schema_version() == SCHEMA_VERSION >= 2
    for number in range(1, SCHEMA_VERSION + 1):
        assert storage.get_meta(f"migration.{number}") == migration_hash(number)
    assert storage.has_webhooks() is False
    assert storage.last_event_seq() == 0
    storage.migrate()  # idempotent
    storage.close()


def test_an_edited_migration_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "edited.db"
    storage = SqliteStorage(path)
    storage.migrate()
    storage.set_meta("migration.1", "0" * 64)
    with pytest.raises(StoreCorruptedError, match="migration 1"):
        storage.migrate()
    storage.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    storage = SqliteStorage(path)
    storage.migrate()
    storage.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(SchemaVersionError, match="Upgrade memorylink"):
        storage.migrate()
    storage.close()


def test_a_store_from_before_the_event_tables_opens_and_keeps_its_memories(
    open_store: Callable[..., MemoryStore], tmp_path: Path
) -> None:
    store = open_store()
    memory = store.add("written before the upgrade")
    store.close()
    # Roll the file back to schema 1: drop what migrations 2 and 4 added (3 changed no tables).
    storage = SqliteStorage(tmp_path / "store" / "memorylink.db")
    with storage.transaction():
        for table in ("outbox", "webhooks", "deliveries", "app_data"):
            storage._connection.execute(f"DROP TABLE {table}")
        storage._connection.execute("DELETE FROM meta WHERE key LIKE 'migration._' AND key != 'migration.1'")
        storage.set_meta("schema_version", "1")
    storage.close()
    reopened = open_store()
    assert reopened.get(memory.id).text == "written before the upgrade"
    assert reopened._storage.schema_version() == SCHEMA_VERSION


def test_a_schema_two_store_keeps_every_memory_and_its_scopes(
    open_store: Callable[..., MemoryStore], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written by the code before migration 3 (16-byte blind indexes, keyed JSON bodies)."""
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_module, "SCHEMA_VERSION", 2)
        patch.setattr(records_module, "SCOPE_INDEX_SIZE", 16)
        patch.setattr(records_module.Body, "encode", records_module.Body.to_json)
        old = open_store()
        written = [
            old.add(f"memory {n} of {user}", tags=["t"], metadata={"n": n}, user_id=user, agent_id=agent, run_id=run)
            for n, (user, agent, run) in enumerate(
                [("ana", None, None), ("ana", "bot", None), ("bob", "bot", "r1"), ("bob", None, "r1")] * 3
            )
        ]
        assert old._storage.schema_version() == 2
        assert {len(row.user_bi) for rows in old._storage.iter_memories() for row in rows} == {16}
        old.close()
    store = open_store()
    assert store._storage.schema_version() == SCHEMA_VERSION >= 3
    assert store._storage.get_meta("migration.3") == migration_hash(3)
    rows = [row for batch in store._storage.iter_memories() for row in batch]
    assert len(rows) == len(written)
    assert {len(row.user_bi) for row in rows} == {8}
    assert {len(bi) for row in rows for bi in (row.agent_bi, row.run_bi) if bi is not None} == {8}
    for memory in written:
        assert store.get(memory.id) == memory
        assert store.get(memory.id, user_id="carol") is None
    # Listing without a filter finds a scope through its blind index, in SQL.
    for user, agent, run in [("ana", None, None), ("bob", None, None), ("ana", "bot", None), ("bob", None, "r1")]:
        listed = store.list(user_id=user, agent_id=agent, run_id=run, limit=100).items
        expected = [m for m in written if m.user_id == user and agent in (None, m.agent_id) and run in (None, m.run_id)]
        assert sorted(m.id for m in listed) == sorted(m.id for m in expected)
    assert store.list(user_id="carol").items == []
    assert {hit.memory.user_id for hit in store.search("memory", top_k=20, user_id="bob").hits} == {"bob"}
    added = store.add("after the upgrade", user_id="ana")
    assert added.id in {m.id for m in store.list(user_id="ana", limit=100).items}
    assert store.stats().users == 2
