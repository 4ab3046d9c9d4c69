"""Encrypted record encoding, and the in-memory catalog that filters search candidates."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from memorylink._concurrency import new_mutex
from memorylink.crypto.base import Cipher
from memorylink.errors import StoreCorruptedError
from memorylink.filters import Filter
from memorylink.ids import created_at_of, encode_id
from memorylink.models import Memory, MemoryVersion, trusted
from memorylink.storage.base import HistoryRow, MemoryRow

__all__ = ["Body", "Catalog", "CatalogEntry", "RecordCodec", "Scope", "copy_json"]

_ID = struct.Struct(">q")
# Bytes of a scope blind index kept in a row (schema 3). Equal scopes give equal prefixes;
# two scope ids share one with odds of about n**2 / 2**65 for n ids, and every reader checks
# the decrypted row's scope anyway, so a shared prefix costs a re-check, never a leak.
SCOPE_INDEX_SIZE = 8
_ID_VERSION = struct.Struct(">qq")


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a call is about. ``None`` fields do not restrict."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    def is_empty(self) -> bool:
        return self.user_id is None and self.agent_id is None and self.run_id is None

    def contains(self, user_id: str, agent_id: str | None, run_id: str | None) -> bool:
        return (
            (self.user_id is None or self.user_id == user_id)
            and (self.agent_id is None or self.agent_id == agent_id)
            and (self.run_id is None or self.run_id == run_id)
        )


# Body encoding, version 2 (inside the encryption)::
#
#     0x02 | flags | field lengths (u16 each, u32 with _WIDE) | user | agent | run | tags | metadata | text
#
# Flags say which optional fields are present (tags and metadata as compact JSON); the text
# takes the rest. Positional framing costs 4-8 bytes where keyed JSON cost ~20 plus escapes,
# and decodes faster. Version 1 bodies (keyed JSON, first byte ``{``) still open.
_BODY_V2 = 2
_AGENT, _RUN, _TAGS, _METADATA, _WIDE = 1, 2, 4, 8, 16
_LENGTHS = {
    flags: struct.Struct("<" + ("I" if flags & _WIDE else "H") * (1 + (flags & 15).bit_count())) for flags in range(32)
}
_NARROW_MAX = 0xFFFF


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Body:
    """The encrypted part of a memory."""

    text: str
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    user_id: str
    agent_id: str | None
    run_id: str | None

    def encode(self) -> bytes:
        """The version-2 plaintext (see the layout above)."""
        flags = 0
        parts = [self.user_id.encode()]
        if self.agent_id is not None:
            flags |= _AGENT
            parts.append(self.agent_id.encode())
        if self.run_id is not None:
            flags |= _RUN
            parts.append(self.run_id.encode())
        if self.tags:
            flags |= _TAGS
            parts.append(_compact_json(list(self.tags)))
        if self.metadata:
            flags |= _METADATA
            parts.append(_compact_json(self.metadata))
        text = self.text.encode()
        lengths = [len(part) for part in parts]
        if max(lengths) > _NARROW_MAX:
            flags |= _WIDE
        header = _LENGTHS[flags].pack(*lengths)
        return b"".join((bytes((_BODY_V2, flags)), header, *parts, text))

    @classmethod
    def decode(cls, raw: bytes) -> Body:
        """A body from :meth:`encode` output, or from a version-1 (keyed JSON) body."""
        if raw[:1] == b"{":
            return cls._from_json(raw)
        if len(raw) < 2 or raw[0] != _BODY_V2:
            raise StoreCorruptedError("memory record has an unknown body format")
        flags = raw[1]
        layout = _LENGTHS.get(flags)
        if layout is None or len(raw) < 2 + layout.size:
            raise StoreCorruptedError("memory record body is malformed")
        lengths = layout.unpack_from(raw, 2)
        position = 2 + layout.size
        if position + sum(lengths) > len(raw):
            raise StoreCorruptedError("memory record body is truncated")
        try:
            return cls._fields(raw, flags, lengths, position)
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise StoreCorruptedError(f"memory record body is malformed: {error}") from None

    @classmethod
    def _fields(cls, raw: bytes, flags: int, lengths: tuple[int, ...], position: int) -> Body:
        end = position + lengths[0]
        user_id = raw[position:end].decode()
        field = 1
        agent_id = run_id = None
        tags: tuple[str, ...] = ()
        metadata: dict[str, Any] = {}
        if flags & _AGENT:
            position, end = end, end + lengths[field]
            field += 1
            agent_id = raw[position:end].decode()
        if flags & _RUN:
            position, end = end, end + lengths[field]
            field += 1
            run_id = raw[position:end].decode()
        if flags & _TAGS:
            position, end = end, end + lengths[field]
            field += 1
            tags = tuple(json.loads(raw[position:end]))
        if flags & _METADATA:
            position, end = end, end + lengths[field]
            metadata = json.loads(raw[position:end])
        return cls(raw[end:].decode(), tags, metadata, user_id, agent_id, run_id)

    def to_json(self) -> bytes:
        """The version-1 plaintext (keyed JSON); only tests write it now."""
        data: dict[str, Any] = {"t": self.text, "u": self.user_id}
        if self.tags:
            data["g"] = list(self.tags)
        if self.metadata:
            data["m"] = self.metadata
        if self.agent_id is not None:
            data["a"] = self.agent_id
        if self.run_id is not None:
            data["r"] = self.run_id
        return _compact_json(data)

    @classmethod
    def _from_json(cls, raw: bytes) -> Body:
        data = json.loads(raw)
        return cls(
            text=data["t"],
            tags=tuple(data.get("g", ())),
            metadata=data.get("m", {}),
            user_id=data["u"],
            agent_id=data.get("a"),
            run_id=data.get("r"),
        )


class RecordCodec:
    """Seals and opens rows with the store's cipher; associated data binds each to its id."""

    def __init__(self, cipher: Cipher) -> None:
        self.cipher = cipher
        # Scope ids repeat across many memories; their HMACs are worth remembering.
        self._blind_cache: dict[tuple[str, str], bytes] = {}

    def _blind(self, value: str, domain: str) -> bytes:
        key = (value, domain)
        digest = self._blind_cache.get(key)
        if digest is None:
            digest = self.cipher.blind_index(value, domain)[:SCOPE_INDEX_SIZE]
            if len(self._blind_cache) >= 4096:
                self._blind_cache.clear()
            self._blind_cache[key] = digest
        return digest

    def scope_indexes(
        self, user_id: str, agent_id: str | None, run_id: str | None
    ) -> tuple[bytes, bytes | None, bytes | None]:
        blind = self._blind
        return (
            blind(user_id, "user_id"),
            None if agent_id is None else blind(agent_id, "agent_id"),
            None if run_id is None else blind(run_id, "run_id"),
        )

    def memory_row(self, memory_id: int, body: Body, *, updated_at: int, version: int) -> MemoryRow:
        user_bi, agent_bi, run_bi = self.scope_indexes(body.user_id, body.agent_id, body.run_id)
        sealed = self.cipher.encrypt(body.encode(), b"ml/memory/" + _ID.pack(memory_id))
        return MemoryRow(memory_id, updated_at, version, user_bi, agent_bi, run_bi, sealed)

    def open_row(self, row: MemoryRow) -> Body:
        return Body.decode(self.cipher.decrypt(row.body, b"ml/memory/" + _ID.pack(row.id)))

    def history_row(self, memory_id: int, version: int, changed_at: int, body: Body) -> HistoryRow:
        ad = b"ml/history/" + _ID_VERSION.pack(memory_id, version)
        return HistoryRow(memory_id, version, changed_at, self.cipher.encrypt(body.encode(), ad))

    def open_history(self, row: HistoryRow) -> Body:
        ad = b"ml/history/" + _ID_VERSION.pack(row.memory_id, row.version)
        return Body.decode(self.cipher.decrypt(row.body, ad))

    def seal_vector(self, memory_id: int, vector: npt.NDArray[np.float32]) -> bytes:
        data = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        return self.cipher.encrypt(data, b"ml/vector/" + _ID.pack(memory_id))

    def open_vector(self, memory_id: int, blob: bytes, dimension: int) -> npt.NDArray[np.float32]:
        raw = self.cipher.decrypt(blob, b"ml/vector/" + _ID.pack(memory_id))
        vector = np.frombuffer(raw, dtype=np.float32)
        if vector.shape != (dimension,):
            raise StoreCorruptedError(f"vector of memory {encode_id(memory_id)} has the wrong dimension")
        return vector

    def to_memory(self, row: MemoryRow, body: Body | None = None) -> Memory:
        body = body if body is not None else self.open_row(row)
        return trusted(
            Memory,
            {
                "id": encode_id(row.id),
                "text": body.text,
                "tags": list(body.tags),
                "metadata": body.metadata,
                "user_id": body.user_id,
                "agent_id": body.agent_id,
                "run_id": body.run_id,
                "created_at": created_at_of(row.id),
                "updated_at": ms_to_datetime(row.updated_at),
                "version": row.version,
            },
        )

    def to_version(self, memory_id: int, version: int, changed_at: int, body: Body) -> MemoryVersion:
        return MemoryVersion.model_construct(
            memory_id=encode_id(memory_id),
            version=version,
            text=body.text,
            tags=list(body.tags),
            metadata=body.metadata,
            changed_at=ms_to_datetime(changed_at),
        )


@dataclass(slots=True)
class CatalogEntry:
    """One memory's decrypted content, current with storage (satisfies ``filters.FilterTarget``).

    Searches filter on it and build their hits from it, so a hit costs no row read or
    decryption. ``metadata`` is shared with nothing handed to callers (see :meth:`to_memory`).
    """

    memory_id: int
    id_text: str
    version: int
    text: str
    tag_list: tuple[str, ...]
    user_id: str
    agent_id: str | None
    run_id: str | None
    tags: frozenset[str]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    # Whether every metadata value is a scalar, so a shallow copy is a full one.
    flat_metadata: bool

    @classmethod
    def of(cls, row: MemoryRow, body: Body) -> CatalogEntry:
        return cls(
            memory_id=row.id,
            id_text=encode_id(row.id),
            version=row.version,
            text=body.text,
            tag_list=body.tags,
            user_id=body.user_id,
            agent_id=body.agent_id,
            run_id=body.run_id,
            tags=frozenset(body.tags),
            metadata=body.metadata,
            created_at=created_at_of(row.id),
            updated_at=ms_to_datetime(row.updated_at),
            flat_metadata=not any(isinstance(value, (dict, list)) for value in body.metadata.values()),
        )

    def to_memory(self) -> Memory:
        """A fresh :class:`Memory` (its lists and dicts are copies: callers may mutate them)."""
        return trusted(
            Memory,
            {
                "id": self.id_text,
                "text": self.text,
                "tags": list(self.tag_list),
                "metadata": self.metadata.copy() if self.flat_metadata else copy_json(self.metadata),
                "user_id": self.user_id,
                "agent_id": self.agent_id,
                "run_id": self.run_id,
                "created_at": self.created_at,
                "updated_at": self.updated_at,
                "version": self.version,
            },
        )


def copy_json(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists and immutable scalars), much faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {key: copy_json(item) if isinstance(item, (dict, list)) else item for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


class Catalog:
    """Decrypted attributes of every memory, kept in memory to evaluate scopes and filters.

    Built on first need (it costs one decryption per memory) and kept current by the
    store's journal replay. Candidate sets are cached per (scope, filter) until the
    next change.
    """

    def __init__(self, cache_size: int = 64) -> None:
        self.entries: dict[int, CatalogEntry] = {}
        self._by_user: dict[str, set[int]] = {}
        self._by_agent: dict[str, set[int]] = {}
        self._by_run: dict[str, set[int]] = {}
        self._cache: dict[tuple[Scope, Filter | None], npt.NDArray[np.int64]] = {}
        self._cache_size = cache_size
        # Searches share the catalog under the store's read lock; only the cache mutates then.
        self._cache_lock = new_mutex()

    def __len__(self) -> int:
        return len(self.entries)

    def put(self, memory_id: int, entry: CatalogEntry) -> None:
        self.remove(memory_id)
        self.entries[memory_id] = entry
        self._by_user.setdefault(entry.user_id, set()).add(memory_id)
        if entry.agent_id is not None:
            self._by_agent.setdefault(entry.agent_id, set()).add(memory_id)
        if entry.run_id is not None:
            self._by_run.setdefault(entry.run_id, set()).add(memory_id)

    def remove(self, memory_id: int) -> None:
        with self._cache_lock:
            self._cache.clear()
        old = self.entries.pop(memory_id, None)
        if old is None:
            return
        _discard(self._by_user, old.user_id, memory_id)
        if old.agent_id is not None:
            _discard(self._by_agent, old.agent_id, memory_id)
        if old.run_id is not None:
            _discard(self._by_run, old.run_id, memory_id)

    def _scoped_ids(self, scope: Scope) -> set[int] | None:
        sets: list[set[int]] = []
        if scope.user_id is not None:
            sets.append(self._by_user.get(scope.user_id, set()))
        if scope.agent_id is not None:
            sets.append(self._by_agent.get(scope.agent_id, set()))
        if scope.run_id is not None:
            sets.append(self._by_run.get(scope.run_id, set()))
        if not sets:
            return None
        sets.sort(key=len)
        return set.intersection(*sets) if len(sets) > 1 else sets[0]

    def candidates(self, scope: Scope, filter_: Filter | None) -> npt.NDArray[np.int64] | None:
        """Ids in scope that match the filter, or None when nothing restricts."""
        if scope.is_empty() and filter_ is None:
            return None
        key = (scope, filter_)
        with self._cache_lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        scoped = self._scoped_ids(scope)
        if filter_ is None:
            assert scoped is not None
            ids = np.fromiter(scoped, dtype=np.int64, count=len(scoped))
        else:
            entries = self.entries
            pool: Iterable[int] = scoped if scoped is not None else entries.keys()
            matches = filter_.matches
            ids = np.fromiter((i for i in pool if matches(entries[i])), dtype=np.int64)
        with self._cache_lock:
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = ids
        return ids


def _discard(index: dict[str, set[int]], key: str, memory_id: int) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(memory_id)
        if not members:
            del index[key]
