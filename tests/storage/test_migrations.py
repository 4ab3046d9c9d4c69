"""Schema migrations: applied in order, checked by hash, never downgraded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from memorylink import MemoryStore
from memorylink.errors import SchemaVersionError, StoreCorruptedError
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
    # Roll the file back to schema 1: drop what migration 2 added.
    storage = SqliteStorage(tmp_path / "store" / "memorylink.db")
    with storage.transaction():
        for table in ("outbox", "webhooks", "deliveries"):
            storage._connection.execute(f"DROP TABLE {table}")
        storage._connection.execute("DELETE FROM meta WHERE key = 'migration.2'")
        storage.set_meta("schema_version", "1")
    storage.close()
    reopened = open_store()
    assert reopened.get(memory.id).text == "written before the upgrade"
    assert reopened._storage.schema_version() == SCHEMA_VERSION
