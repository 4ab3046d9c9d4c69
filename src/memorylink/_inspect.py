"""Read a store's identity (schema, embedder, key kind) without its key, changing nothing."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from memorylink.errors import StoreCorruptedError, ValidationError

__all__ = ["StoreInfo", "describe_store"]

DB_FILENAME = "memorylink.db"


class StoreInfo(BaseModel):
    """What a store directory says about itself in plaintext (no memory content).

    Attributes:
        path: The store directory.
        store_id: A random id given at creation.
        schema_version: The newest migration applied.
        embedder: The embedder's name recorded at creation (or by a re-embed).
        dimension: The embedder's vector length.
        key_kind: ``"passphrase"`` (a KDF with a stored salt) or ``"raw"`` (a 32-byte key).
        key_id: A fingerprint of the current key (not the key).
        created_at: When the store was created (ISO 8601, UTC).
        created_by: The memorylink version that created it.
    """

    model_config = ConfigDict(frozen=True)

    path: str
    store_id: str | None
    schema_version: int
    embedder: str
    dimension: int
    key_kind: str
    key_id: str | None
    created_at: str | None
    created_by: str | None


def describe_store(path: str | os.PathLike[str]) -> StoreInfo:
    """Describe the store in directory ``path`` from its plaintext metadata.

    Opens the database read-only: no key is needed and no stored byte changes (SQLite may
    create the empty ``-wal`` / ``-shm`` files any reader of a WAL database needs).

    Raises:
        ValidationError: ``path`` holds no memorylink store (``field="path"``).
        StoreCorruptedError: The database is unreadable or lacks the store's identity.
    """
    directory = Path(path)
    database = directory / DB_FILENAME
    if not database.is_file():
        raise ValidationError(f"no memorylink store at {directory}", field="path")
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise StoreCorruptedError(f"cannot read {database}: {error}") from error
    try:
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error as error:
        raise StoreCorruptedError(f"{database} is not a memorylink store: {error}") from error
    finally:
        connection.close()
    if "embedder" not in meta or "dimension" not in meta:
        raise StoreCorruptedError(f"{database} has no recorded embedder; it is not a complete memorylink store")
    try:
        kdf = json.loads(meta.get("kdf") or "{}")
    except ValueError:
        kdf = {}
    return StoreInfo(
        path=str(directory),
        store_id=meta.get("store_id"),
        schema_version=int(meta.get("schema_version", "0") or 0),
        embedder=meta["embedder"],
        dimension=int(meta["dimension"]),
        key_kind="raw" if kdf.get("algorithm") == "raw" else "passphrase",
        key_id=meta.get("key_id"),
        created_at=meta.get("created_at"),
        created_by=meta.get("created_by"),
    )


class Check(BaseModel):
    """One finding of :meth:`MemoryStore.check`."""

    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    detail: str


class StoreCheck(BaseModel):
    """The result of :meth:`MemoryStore.check`: ``ok`` when every check passed."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    checks: list[Check]
