"""Derived in-memory state: the vector index, the keyword index and the catalog, kept in step with storage.

Storage is the truth. Every committed change appends a journal entry (with the
encrypted vector for new or re-embedded texts). This module replays the journal into
the in-memory indexes, so changes made by this process and by other processes that
opened the same store are seen alike. The keyword index needs the text, which the
journal does not carry: it takes it from this process's own writes, or reads and
decrypts the memory's row. From time to time, and at close, both indexes are written
as encrypted snapshot files (``index-<key id>.snapshot`` and
``keywords-<key id>.snapshot``) and the journal entries they cover are pruned. A
missing or stale keyword snapshot is rebuilt from storage (decrypting the texts; no
re-embedding).
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from memorylink._concurrency import ReadWriteLock, new_mutex
from memorylink._records import Body, Catalog, CatalogEntry, RecordCodec, copy_json
from memorylink.crypto.blobs import open_blob, seal_blob
from memorylink.errors import InvalidKeyError, StoreCorruptedError
from memorylink.index.base import VectorIndex
from memorylink.index.keyword import KeywordIndex
from memorylink.storage.base import ChangeRow, MemoryRow, Op
from memorylink.storage.sqlite import SqliteStorage

__all__ = ["DerivedState"]

logger = logging.getLogger(__name__)

_MAGIC = b"MLSNAP01"
_KEYWORD_MAGIC = b"MLKWSN01"
_LENGTH = struct.Struct(">I")

EmbedTexts = Callable[[Sequence[str]], npt.NDArray[np.float32]]
# What the keyword index needs of a memory: (id, text, run_id, turn).
KeywordEntry = tuple[int, str, str | None, int | None]


def keyword_entry(memory_id: int, body: Body) -> KeywordEntry:
    """A memory's keyword-index entry; ``turn`` is its integer ``metadata["turn"]`` within a run."""
    turn = body.metadata.get("turn") if body.run_id is not None and body.metadata else None
    if isinstance(turn, bool) or not isinstance(turn, int):
        turn = None
    return memory_id, body.text, body.run_id, turn


class DerivedState:
    """Owns the index and catalog of one open store and keeps them current."""

    def __init__(
        self,
        *,
        storage: SqliteStorage,
        codec: RecordCodec,
        index: VectorIndex,
        new_index: Callable[[], VectorIndex],
        load_index: Callable[[bytearray], VectorIndex],
        directory: Path | None,
        checkpoint_after: int,
        new_keywords: Callable[[], KeywordIndex] = KeywordIndex,
    ) -> None:
        self.storage = storage
        self.codec = codec
        self.index = index
        self._new_keywords = new_keywords
        self.keywords = new_keywords()
        self._new_index = new_index
        self._load_index = load_index
        self._directory = directory
        self._checkpoint_after = checkpoint_after
        self.lock = ReadWriteLock()
        self.catalog: Catalog | None = None
        self._own_lock = new_mutex()
        self._own_vectors: dict[int, npt.NDArray[np.float32]] = {}
        # Rows this process wrote, by journal seq: the catalog takes them as they are
        # instead of reading and decrypting them back (kept only while a catalog exists).
        self._own_rows: dict[int, tuple[MemoryRow, Body]] = {}
        # Keyword entries of this process's writes, by journal seq (the journal has no text).
        self._own_texts: dict[int, KeywordEntry] = {}
        self._dirty = False
        self.applied_seq = 0
        # The keyword index's journal position: it may run ahead of the vector index's
        # (a rebuild from storage reads storage as it is now).
        self.keyword_seq = 0
        self._data_version = -1
        self.dimension = index.dimension

    # -- snapshot files ----------------------------------------------------------------

    def snapshot_path(self, key_id: str | None = None) -> Path | None:
        if self._directory is None:
            return None
        return self._directory / f"index-{key_id or self.codec.cipher.key_id}.snapshot"

    def keyword_snapshot_path(self, key_id: str | None = None) -> Path | None:
        if self._directory is None:
            return None
        return self._directory / f"keywords-{key_id or self.codec.cipher.key_id}.snapshot"

    def snapshot_files(self) -> list[Path]:
        """Both snapshot paths of the current key (empty for an in-memory store)."""
        paths = (self.snapshot_path(), self.keyword_snapshot_path())
        return [path for path in paths if path is not None]

    def _read_snapshot(self) -> tuple[int, VectorIndex] | None:
        path = self.snapshot_path()
        if path is None or not path.exists():
            return None
        opened = self._open_snapshot(path, _MAGIC)
        if opened is None:
            return None
        seq, plain = opened
        try:
            index = self._load_index(plain)
            if index.dimension != self.dimension:
                raise StoreCorruptedError("snapshot dimension differs from the store's")
            return seq, index
        except (StoreCorruptedError, ValueError, KeyError, OSError) as error:
            logger.warning("ignoring unusable index snapshot %s: %s", path, error)
            return None

    def _read_keyword_snapshot(self) -> tuple[int, KeywordIndex] | None:
        path = self.keyword_snapshot_path()
        if path is None or not path.exists():
            return None
        opened = self._open_snapshot(path, _KEYWORD_MAGIC)
        if opened is None:
            return None
        seq, plain = opened
        try:
            loaded = KeywordIndex.from_bytes(plain)
        except StoreCorruptedError as error:
            logger.warning("ignoring unusable keyword snapshot %s: %s", path, error)
            return None
        fresh = self._new_keywords()
        loaded.k1, loaded.b = fresh.k1, fresh.b  # scoring parameters come from the settings, not the file
        return seq, loaded

    def _open_snapshot(self, path: Path, magic: bytes) -> tuple[int, bytearray] | None:
        """``(seq, plaintext)`` of an encrypted snapshot file, or None (logged) if unusable."""
        try:
            # Map the file rather than read it: the ciphertext is read once, in place, from
            # the page cache, instead of being copied into a second large buffer first.
            with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as raw:
                if raw[: len(magic)] != magic:
                    raise StoreCorruptedError("bad snapshot magic")
                (length,) = _LENGTH.unpack_from(raw, len(magic))
                start = len(magic) + _LENGTH.size
                header_bytes = raw[start : start + length]
                header = json.loads(header_bytes)
                failure = None
                with memoryview(raw) as view, view[start + length :] as body:
                    try:
                        plain = open_blob(self.codec.cipher, body, magic + header_bytes)
                    except StoreCorruptedError as error:
                        failure = str(error)  # dropping the traceback releases its views of the map
                if failure is not None:
                    raise StoreCorruptedError(failure)
            return int(header["seq"]), plain
        except (StoreCorruptedError, ValueError, KeyError, OSError, struct.error) as error:
            logger.warning("ignoring unusable snapshot %s: %s", path, error)
            return None

    def _write_snapshot(self) -> None:
        """Write both snapshots (keywords first: a crash between leaves the vector one older, which loads fine)."""
        keyword_path = self.keyword_snapshot_path()
        path = self.snapshot_path()
        assert path is not None
        assert keyword_path is not None
        assert self.keyword_seq == self.applied_seq, "both indexes must be at one journal position"
        self._write_sealed(keyword_path, _KEYWORD_MAGIC, self.keywords.to_bytes(), len(self.keywords))
        self._write_sealed(path, _MAGIC, self.index.to_bytes(), len(self.index))

    def _write_sealed(self, path: Path, magic: bytes, plain: bytes, count: int) -> None:
        header = json.dumps(
            {"seq": self.applied_seq, "key_id": self.codec.cipher.key_id, "count": count},
            separators=(",", ":"),
        ).encode()
        sealed = seal_blob(self.codec.cipher, plain, magic + header)
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "wb") as handle:
            handle.write(magic + _LENGTH.pack(len(header)) + header)
            handle.write(sealed)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)

    def remove_stale_snapshots(self) -> None:
        """Delete snapshot files of other keys and unfinished temporaries (call after the key checked out)."""
        if self._directory is None:
            return
        keep = set(self.snapshot_files())
        for pattern in ("index-*", "keywords-*"):
            for candidate in self._directory.glob(pattern):
                if candidate not in keep:
                    candidate.unlink(missing_ok=True)

    # -- loading -----------------------------------------------------------------------

    def load(self, embed: EmbedTexts) -> None:
        """Bring the index up to date with storage at open (snapshot + journal, then reconcile)."""
        with self.lock.write(), self.storage.snapshot():
            self._data_version = self.storage.data_version()
            self._load_locked(embed)
            self._reconcile_locked(embed)
            if len(self.index) == 0:
                # An empty store's catalog costs nothing to build; its writes keep it current
                # from here on, so searches never pay for building it later.
                self.catalog = Catalog()

    def _load_locked(self, embed: EmbedTexts) -> None:
        low, high, count = self.storage.journal_bounds()
        snapshot = self._read_snapshot()
        if snapshot is not None and _covers(snapshot[0], low, high, count):
            self.applied_seq, self.index = snapshot
        elif _covers(0, low, high, count):
            # The journal still holds every change since the store was created.
            self.index = self._new_index()
            self.applied_seq = 0
        else:
            logger.warning("index snapshot missing or stale and the journal was pruned; re-embedding every memory")
            self._rebuild_locked(embed)
            return
        self._load_keywords_locked(low, high, count)
        self._apply(self.storage.changes_after(min(self.applied_seq, self.keyword_seq)))

    def _load_keywords_locked(self, low: int, high: int, count: int) -> None:
        snapshot = self._read_keyword_snapshot()
        if snapshot is not None and _covers(snapshot[0], low, high, count):
            self.keyword_seq, self.keywords = snapshot
            return
        if high == 0:
            self.keywords = self._new_keywords()
            self.keyword_seq = 0
            return
        logger.info("keyword snapshot missing or stale; rebuilding the keyword index from storage")
        self._rebuild_keywords_locked(high)

    def _rebuild_keywords_locked(self, high: int) -> None:
        """The keyword index of every stored memory (decrypting them), as of journal position ``high``."""
        keywords = self._new_keywords()
        for rows in self.storage.iter_memories(batch=5_000):
            keywords.add_many([keyword_entry(row.id, self.codec.open_row(row)) for row in rows])
        self.keywords = keywords
        self.keyword_seq = high

    def _rebuild_locked(self, embed: EmbedTexts) -> None:
        _, high, _ = self.storage.journal_bounds()
        self.index = self._new_index()
        keywords = self._new_keywords()
        for rows in self.storage.iter_memories():
            bodies = [self.codec.open_row(row) for row in rows]
            ids = np.fromiter((row.id for row in rows), dtype=np.int64, count=len(rows))
            self.index.add(ids, embed([body.text for body in bodies]))
            keywords.add_many([keyword_entry(row.id, body) for row, body in zip(rows, bodies, strict=True)])
        self.keywords = keywords
        self.applied_seq = self.keyword_seq = high

    def _reconcile_locked(self, embed: EmbedTexts) -> None:
        stored = np.array(self.storage.all_ids(), dtype=np.int64)
        indexed = self.index.labels()
        orphans = np.setdiff1d(indexed, stored, assume_unique=True)
        missing = np.setdiff1d(stored, indexed, assume_unique=True)
        if len(orphans):
            logger.warning("dropping %d index entries with no stored memory", len(orphans))
            self.index.remove(orphans.tolist())
        if len(missing):
            logger.warning("re-embedding %d stored memories missing from the index", len(missing))
            rows = self.storage.get_memories(missing.tolist())
            ids = np.array(sorted(rows), dtype=np.int64)
            texts = [self.codec.open_row(rows[int(i)]).text for i in ids]
            self.index.add(ids, embed(texts))
        keyword_labels = np.sort(self.keywords.labels())
        orphans = np.setdiff1d(keyword_labels, stored, assume_unique=True)
        missing = np.setdiff1d(stored, keyword_labels, assume_unique=True)
        if len(orphans):
            logger.warning("dropping %d keyword index entries with no stored memory", len(orphans))
            self.keywords.remove(orphans.tolist())
        if len(missing):
            logger.warning("indexing %d stored memories missing from the keyword index", len(missing))
            rows = self.storage.get_memories(missing.tolist())
            self.keywords.add_many([keyword_entry(i, self.codec.open_row(rows[i])) for i in sorted(rows)])

    # -- keeping up with the journal -------------------------------------------------------

    @property
    def data_version(self) -> int:
        """Storage's data version as of the last refresh (it moves when another process commits)."""
        return self._data_version

    def note_write(
        self,
        vectors_by_seq: dict[int, npt.NDArray[np.float32]] | None = None,
        rows_by_seq: dict[int, tuple[MemoryRow, Body]] | None = None,
    ) -> None:
        """Record that this process committed journal entries (and the vectors and rows it already has).

        The index applies them on the next read (``refresh``), not now: a write costs its
        commit, and a burst of writes is indexed in one batch. Reads never miss a commit.
        """
        with self._own_lock:
            if vectors_by_seq:
                self._own_vectors.update(vectors_by_seq)
            if rows_by_seq:
                self._own_texts.update((seq, keyword_entry(row.id, body)) for seq, (row, body) in rows_by_seq.items())
            if rows_by_seq and self.catalog is not None:
                # The writer hands these bodies' metadata to its caller too: the catalog keeps a copy.
                self._own_rows.update(
                    (seq, (row, replace(body, metadata=copy_json(body.metadata)) if body.metadata else body))
                    for seq, (row, body) in rows_by_seq.items()
                )
            self._dirty = True

    def _take_own(
        self,
    ) -> tuple[dict[int, npt.NDArray[np.float32]], dict[int, tuple[MemoryRow, Body]], dict[int, KeywordEntry]]:
        with self._own_lock:
            own, self._own_vectors = self._own_vectors, {}
            rows, self._own_rows = self._own_rows, {}
            texts, self._own_texts = self._own_texts, {}
            self._dirty = False
            return own, rows, texts

    def refresh(self, *, force: bool = False) -> None:
        """Apply journal entries committed since the last call (by this or any other process)."""
        version = self.storage.data_version()
        if not force and not self._dirty and version == self._data_version:
            return
        with self.lock.write(), self.storage.snapshot():
            if version != self._data_version:
                stored_key = self.storage.get_meta("key_id")
                if stored_key is not None and stored_key != self.codec.cipher.key_id:
                    raise InvalidKeyError("the store's key was rotated by another process; reopen it with the new key")
            self._data_version = version
            self._refresh_locked()

    def _refresh_locked(self) -> None:
        own_vectors, own_rows, own_texts = self._take_own()
        low, high, count = self.storage.journal_bounds()
        if high <= self.applied_seq and high <= self.keyword_seq:
            return
        if count == 0 or low > min(self.applied_seq, self.keyword_seq) + 1:
            logger.info("journal was pruned past this process's position; reloading the index snapshots")
            snapshot = self._read_snapshot()
            if snapshot is None or not _covers(snapshot[0], low, high, count):
                raise StoreCorruptedError("the index snapshot is missing; reopen the store to rebuild it")
            self.applied_seq, self.index = snapshot
            self._load_keywords_locked(low, high, count)
            if self.catalog is not None:
                self.catalog = None  # rebuilt on next use, from storage
        self._apply(
            self.storage.changes_after(min(self.applied_seq, self.keyword_seq)), own_vectors, own_rows, own_texts
        )

    def _apply(
        self,
        changes: list[ChangeRow],
        own_vectors: dict[int, npt.NDArray[np.float32]] | None = None,
        own_rows: dict[int, tuple[MemoryRow, Body]] | None = None,
        own_texts: dict[int, KeywordEntry] | None = None,
    ) -> None:
        if not changes:
            return
        keyword_changes = [change for change in changes if change.seq > self.keyword_seq]
        if changes[0].seq <= self.applied_seq:
            changes = [change for change in changes if change.seq > self.applied_seq]
        self._apply_keywords(keyword_changes, own_texts or {})
        if not changes:
            return
        own = own_vectors or {}
        pending_ids: list[int] = []
        pending_set: set[int] = set()
        pending_vectors: list[npt.NDArray[np.float32]] = []

        def flush() -> None:
            if pending_ids:
                self.index.add(np.array(pending_ids, dtype=np.int64), np.vstack(pending_vectors))
                pending_ids.clear()
                pending_set.clear()
                pending_vectors.clear()

        for change in changes:
            if change.op is Op.PUT:
                if change.vector is None:
                    raise StoreCorruptedError(f"journal entry {change.seq} has no vector")
                vector = own.get(change.seq)
                if vector is None:
                    vector = self.codec.open_vector(change.memory_id, change.vector, self.dimension)
                if change.memory_id in pending_set:
                    flush()
                pending_ids.append(change.memory_id)
                pending_set.add(change.memory_id)
                pending_vectors.append(vector)
            elif change.op is Op.DELETE:
                flush()
                self.index.remove([change.memory_id])
        flush()
        self.applied_seq = changes[-1].seq
        if self.catalog is not None:
            self._update_catalog(self.catalog, changes, own_rows or {})

    def _apply_keywords(self, changes: list[ChangeRow], own_texts: dict[int, KeywordEntry]) -> None:
        """Bring the keyword index to the last of ``changes`` (texts from our writes, or from storage)."""
        if not changes:
            return
        last: dict[int, ChangeRow] = {}
        for change in changes:
            last[change.memory_id] = change
        unknown: list[int] = []
        removed: list[int] = []
        entries: list[KeywordEntry] = []
        for memory_id, change in last.items():
            if change.op is Op.DELETE:
                removed.append(memory_id)
                continue
            mine = own_texts.get(change.seq)
            if mine is not None and mine[0] == memory_id:
                entries.append(mine)
            else:
                unknown.append(memory_id)
        if unknown:
            # Another process's write (or a TOUCH without our text): read the row as storage holds
            # it now, inside the same read snapshot as the journal, so the result is storage's.
            rows = self.storage.get_memories(sorted(unknown))
            for memory_id in sorted(unknown):
                row = rows.get(memory_id)
                if row is None:
                    removed.append(memory_id)
                else:
                    entries.append(keyword_entry(memory_id, self.codec.open_row(row)))
        self.keywords.remove(removed)
        self.keywords.add_many(entries)
        self.keyword_seq = max(self.keyword_seq, changes[-1].seq)

    def _update_catalog(
        self, catalog: Catalog, changes: list[ChangeRow], own_rows: dict[int, tuple[MemoryRow, Body]]
    ) -> None:
        last: dict[int, ChangeRow] = {}
        for change in changes:
            last[change.memory_id] = change
            if change.op is Op.DELETE:
                catalog.remove(change.memory_id)
        # A memory whose last change in this batch is a write of ours is stored as we wrote it
        # (any later commit would have a later journal entry); only the others are read back.
        known: dict[int, tuple[MemoryRow, Body]] = {}
        unknown: list[int] = []
        for memory_id, change in last.items():
            if change.op is Op.DELETE:
                continue
            mine = own_rows.get(change.seq)
            if mine is not None and mine[0].id == memory_id:
                known[memory_id] = mine
            else:
                unknown.append(memory_id)
        rows = self.storage.get_memories(sorted(unknown)) if unknown else {}
        for memory_id in unknown:
            row = rows.get(memory_id)
            if row is None:
                catalog.remove(memory_id)
            else:
                catalog.put(memory_id, CatalogEntry.of(row, self.codec.open_row(row)))
        for memory_id, (row, body) in known.items():
            catalog.put(memory_id, CatalogEntry.of(row, body))

    def ensure_catalog(self) -> Catalog:
        """The catalog, built from storage on first use."""
        catalog = self.catalog
        if catalog is not None:
            return catalog
        with self.lock.write(), self.storage.snapshot():
            if self.catalog is None:
                built = Catalog()
                for rows in self.storage.iter_memories(batch=5_000):
                    for row in rows:
                        built.put(row.id, CatalogEntry.of(row, self.codec.open_row(row)))
                self.catalog = built
                with self._own_lock:
                    # The build read storage as it is now, ahead of the index's journal position:
                    # the next refresh must replay those entries (idempotently) into both.
                    self._dirty = True
            return self.catalog

    # -- checkpoints ---------------------------------------------------------------------

    def maybe_checkpoint(self) -> None:
        """Index a backlog of ``checkpoint_after`` entries; snapshot once the journal is as long as the index.

        A snapshot costs time in proportion to the index, so waiting for a journal as long
        as the index keeps the cost per write constant as the store grows.
        """
        _, high, _ = self.storage.journal_bounds()
        if high - self.applied_seq >= self._checkpoint_after:
            # Index the backlog now, so no single read pays for a whole bulk load.
            self.refresh(force=True)
        if self._directory is None:
            return
        snapshot_seq = int(self.storage.get_meta("snapshot_seq") or 0)
        if high - snapshot_seq >= max(self._checkpoint_after, len(self.index)):
            self.checkpoint()

    def checkpoint(self) -> bool:
        """Write the encrypted snapshot and prune the journal it covers. False if nothing to do."""
        if self._directory is None:
            return False
        with self.lock.write(), self.storage.transaction():
            # Holding the write transaction: no other process can commit until we are done,
            # so the snapshot matches storage exactly and two checkpoints cannot interleave.
            self._refresh_locked()
            snapshot_seq = int(self.storage.get_meta("snapshot_seq") or 0)
            if self.applied_seq <= snapshot_seq and all(path.exists() for path in self.snapshot_files()):
                return False
            self._write_snapshot()
            self.storage.set_meta("snapshot_seq", str(self.applied_seq))
            pruned = self.storage.prune_changes(self.applied_seq)
            logger.info("index snapshot written at seq %d; %d journal entries pruned", self.applied_seq, pruned)
        self.storage.reclaim_space()
        self._data_version = self.storage.data_version()
        return True


def _covers(seq: int, low: int, high: int, count: int) -> bool:
    """Whether state at journal position ``seq`` plus the journal's entries reaches ``high``."""
    if count == 0:
        return seq >= high
    return low <= seq + 1


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable; some filesystems cannot open or fsync a directory, and
    # the snapshot is a rebuildable cache, so failing here is only logged.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError as error:
        logger.debug("cannot open %s to fsync it: %s", directory, error)
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        logger.debug("fsync of %s failed: %s", directory, error)
    finally:
        os.close(descriptor)
