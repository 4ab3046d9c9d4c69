"""Numbered schema migrations, checked by hash so an edited migration is caught."""

from __future__ import annotations

import hashlib

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migration_hash"]

# Append only. Never edit a migration that has shipped: add a new one.
MIGRATIONS: tuple[str, ...] = (
    # 1: memories, their history, the change journal (carries vectors until they are
    # checkpointed into the encrypted index snapshot) and store metadata.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE memories (
        id         INTEGER PRIMARY KEY,
        updated_at INTEGER NOT NULL,
        version    INTEGER NOT NULL,
        user_bi    BLOB NOT NULL,
        agent_bi   BLOB,
        run_bi     BLOB,
        body       BLOB NOT NULL
    );
    CREATE INDEX memories_by_user ON memories (user_bi, id);
    CREATE INDEX memories_by_agent ON memories (agent_bi, id) WHERE agent_bi IS NOT NULL;
    CREATE INDEX memories_by_run ON memories (run_bi, id) WHERE run_bi IS NOT NULL;
    CREATE TABLE history (
        memory_id  INTEGER NOT NULL,
        version    INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        body       BLOB NOT NULL,
        PRIMARY KEY (memory_id, version)
    ) WITHOUT ROWID;
    CREATE TABLE changes (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        memory_id INTEGER NOT NULL,
        op        INTEGER NOT NULL,
        vector    BLOB
    );
    """,
    # 2: the durable event outbox (written in the transaction of the change it reports),
    # webhook endpoints (their delivery position in `cursor`) and delivery records.
    """
    CREATE TABLE outbox (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id   TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        body       BLOB NOT NULL
    );
    CREATE INDEX outbox_by_time ON outbox (created_at);
    CREATE TABLE webhooks (
        id         TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        enabled    INTEGER NOT NULL,
        cursor     INTEGER NOT NULL,
        body       BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE deliveries (
        webhook_id TEXT NOT NULL,
        event_seq  INTEGER NOT NULL,
        state      INTEGER NOT NULL,
        attempts   INTEGER NOT NULL,
        next_at    INTEGER,
        updated_at INTEGER NOT NULL,
        status     INTEGER,
        error      TEXT,
        PRIMARY KEY (webhook_id, event_seq)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_by_state ON deliveries (state, webhook_id, event_seq);
    """,
    # 3: scope blind indexes keep 8 of their 16 bytes (a leading piece of an HMAC is itself a
    # keyed digest; 8 bytes save 16 per memory across the row and its index, and the scope
    # is always checked again on the decrypted row).
    """
    UPDATE memories SET
        user_bi = substr(user_bi, 1, 8),
        agent_bi = substr(agent_bi, 1, 8),
        run_bi = substr(run_bi, 1, 8);
    """,
    # 4: front-end state (a server's users, API keys, audit log): sealed values under blind
    # indexes of their namespace and key; seq keeps insertion order for newest-first reads.
    """
    CREATE TABLE app_data (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        ns_bi      BLOB NOT NULL,
        key_bi     BLOB NOT NULL,
        updated_at INTEGER NOT NULL,
        body       BLOB NOT NULL,
        UNIQUE (ns_bi, key_bi)
    );
    CREATE INDEX app_data_by_namespace ON app_data (ns_bi, seq);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def migration_hash(number: int) -> str:
    """SHA-256 of migration ``number`` (1-based), as recorded when it was applied."""
    return hashlib.sha256(MIGRATIONS[number - 1].encode()).hexdigest()
