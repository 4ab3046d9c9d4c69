"""MemoryStore reads: get, history, list, search, similar."""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

import numpy as np
import numpy.typing as npt

from memorylink._core import StoreCore
from memorylink._hybrid import gather
from memorylink._ranking import clip_similarity, mmr_order, rank
from memorylink._records import Catalog, Scope
from memorylink.errors import (
    LimitExceededError,
    NotFoundError,
    ValidationError,
)
from memorylink.filters import Filter
from memorylink.models import (
    ListOrder,
    Memory,
    MemoryVersion,
    Page,
    SearchHit,
    SearchMode,
    SearchResult,
    SortBy,
    check_top_k,
    trusted,
    validate_query,
)


class StoreReads(StoreCore):
    """The read half of MemoryStore."""

    # -- reads -----------------------------------------------------------------------------

    def get(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Memory | None:
        """The memory with this id (in scope), or None."""
        self._check_open()
        try:
            row, body = self._load_row(memory_id, self._scope(user_id, agent_id, run_id))
        except NotFoundError:
            return None
        return self._codec.to_memory(row, body)

    def history(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> list[MemoryVersion]:
        """Every version of a memory, oldest first, the current one last.

        Raises:
            NotFoundError: No such memory in scope.
        """
        self._check_open()
        with self._storage.snapshot():
            row, body = self._load_row(memory_id, self._scope(user_id, agent_id, run_id))
            old = self._storage.history(row.id)
        versions = [
            self._codec.to_version(h.memory_id, h.version, h.changed_at, self._codec.open_history(h)) for h in old
        ]
        versions.append(self._codec.to_version(row.id, row.version, row.updated_at, body))
        return versions

    def list(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filter: Mapping[str, Any] | Filter | None = None,
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
            rows = self._storage.page(scope=self._scope_columns(scope), order=order, after=after, limit=limit + 1)
            # Blind indexes are 8-byte HMAC prefixes: two scope ids may (rarely) share one, so
            # the decrypted scope is checked, and a collision can never leak a memory.
            bodies = [(row, self._codec.open_row(row)) for row in rows]
            bodies = [(r, b) for r, b in bodies if scope.contains(b.user_id, b.agent_id, b.run_id)]
        else:
            catalog = self._catalog()
            with self._state.lock.read():
                candidates = catalog.candidates(scope, parsed)
                assert candidates is not None
                keys = [
                    (int(catalog.entries[int(label)].updated_at.timestamp() * 1000), int(label)) for label in candidates
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
        filter: Mapping[str, Any] | Filter | None = None,
        tags: Sequence[str] | None = None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        sort_by: SortBy = "relevance",
        include_similar: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        mode: SearchMode = "hybrid",
        mmr: bool = False,
    ) -> SearchResult:
        """Find memories by meaning and by their words (see docs/search.md).

        Args:
            query: The text to match.
            top_k: How many hits at most (``limits.max_top_k``).
            threshold: Drop hits whose similarity (cosine, in [0, 1]) is below this, in every mode.
            filter: The filter language (see docs/filters.md); ``tags``, ``date_range`` and
                ``metadata`` are shortcuts AND-ed with it.
            sort_by: ``"relevance"`` (the mode's match score blended with recency: ``(1 - w) *
                match + w * 0.5 ** (age_days / half_life)``), ``"similarity"`` (the match score
                alone) or ``"date"`` (newest first among the best matches).
            include_similar: Attach each hit's nearest other memories as ``related``.
            user_id, agent_id, run_id: Restrict to this scope.
            mode: ``"hybrid"`` (BM25 and vector similarity fused), ``"vector"`` or ``"keyword"``
                (BM25 only; a hit's ``score`` is its BM25 over the best one's). ``similarity``
                is the cosine similarity in every mode.
            mmr: Re-order the candidates by maximal marginal relevance (``search.mmr_lambda``),
                so near-duplicates do not fill the top hits.
        """
        self._check_open()
        started = time.perf_counter()
        validate_query(query, self.settings.limits)
        options = self._search_options(top_k, threshold, filter, tags, date_range, metadata, sort_by)
        mode = _check_mode(mode)
        vector = self._embed_query(query)
        return self._search_vector(
            vector,
            query,
            hashlib.sha256(query.encode()).hexdigest(),
            started,
            options,
            include_similar,
            self._scope(user_id, agent_id, run_id),
            mode=mode,
            mmr=_check_flag(mmr, "mmr"),
        )

    def search_by_vector(
        self,
        vector: Sequence[float] | npt.NDArray[np.floating[Any]],
        *,
        top_k: int = 10,
        threshold: float | None = None,
        filter: Mapping[str, Any] | Filter | None = None,
        tags: Sequence[str] | None = None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        sort_by: SortBy = "relevance",
        include_similar: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        mmr: bool = False,
    ) -> SearchResult:
        """:meth:`search` with a query vector of the store's embedder instead of a text.

        For callers that embed queries themselves (a framework's query embedding, a vector
        kept from earlier). ``vector`` must have the embedder's dimension and finite values;
        it is normalised to unit length. The result's ``query`` is ``""``. With no text
        there are no keywords: the search is always in ``"vector"`` mode.

        Raises:
            ValidationError: A vector of the wrong length, with NaN / infinite values, or all zeros.
        """
        self._check_open()
        started = time.perf_counter()
        options = self._search_options(top_k, threshold, filter, tags, date_range, metadata, sort_by)
        unit = self._query_vector(vector)
        return self._search_vector(
            unit,
            "",
            hashlib.sha256(unit.tobytes()).hexdigest(),
            started,
            options,
            include_similar,
            self._scope(user_id, agent_id, run_id),
            mode="vector",
            mmr=_check_flag(mmr, "mmr"),
        )

    def _query_vector(self, vector: Sequence[float] | npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # too large for float32 -> inf, refused below
                array = np.asarray(vector, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValidationError("vector must be a sequence of numbers", field="vector") from None
        dimension = self._embedder.dimension
        if array.shape != (dimension,):
            raise ValidationError(
                f"vector must have {dimension} values (the embedder's dimension), got shape {array.shape}",
                field="vector",
            )
        if not np.all(np.isfinite(array)):
            raise ValidationError("vector must hold finite numbers", field="vector")
        wide = array.astype(np.float64)  # squares of large float32 values overflow float32
        norm = float(np.linalg.norm(wide))
        if norm == 0.0:
            raise ValidationError("vector must not be all zeros", field="vector")
        return np.ascontiguousarray(wide / norm, dtype=np.float32)

    def _search_options(
        self,
        top_k: int,
        threshold: float | None,
        filter: Mapping[str, Any] | Filter | None,
        tags: Sequence[str] | None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None,
        metadata: Mapping[str, Any] | None,
        sort_by: SortBy,
    ) -> tuple[int, float | None, Filter | None, SortBy]:
        """Checked (top_k, threshold, filter, sort_by) of a search."""
        top_k = check_top_k(top_k, self.settings.limits)
        _check_threshold(threshold)
        if sort_by not in get_args(SortBy):
            raise ValidationError(f"sort_by must be one of {', '.join(get_args(SortBy))}", field="sort_by")
        parsed = Filter.all_of(
            Filter.parse(filter), Filter.from_shortcuts(tags=tags, date_range=date_range, metadata=metadata)
        )
        return top_k, threshold, parsed, sort_by

    def _search_vector(
        self,
        vector: npt.NDArray[np.float32],
        query: str,
        query_sha256: str,
        started: float,
        options: tuple[int, float | None, Filter | None, SortBy],
        include_similar: bool,
        scope: Scope,
        *,
        mode: SearchMode,
        mmr: bool,
    ) -> SearchResult:
        top_k, threshold, parsed, sort_by = options
        hits, total = self._nearest(
            vector,
            top_k,
            threshold,
            sort_by,
            scope,
            parsed,
            include_similar,
            exclude=None,
            query=query,
            mode=mode,
            mmr=mmr,
        )
        result = trusted(
            SearchResult,
            {
                "hits": hits,
                "total": total,
                "query": query,
                "query_time_ms": (time.perf_counter() - started) * 1000.0,
                "filter": parsed.to_dict() if parsed is not None else None,
                "sort_by": sort_by,
                "mode": mode,
            },
        )
        # A search is a read: it takes the write lock to record its event only when asked to
        # (outbox "always"), or when a webhook endpoint subscribes to searches.
        outbox = self._outbox.settings.outbox
        durable = outbox == "always" or (
            outbox == "auto" and self.webhooks.wants("memory.searched", self._state.data_version)
        )
        if not durable and not self.events.has_listeners("memory.searched"):
            return result
        self._emit(
            "memory.searched",
            (scope.user_id, scope.agent_id, scope.run_id),
            {
                "query_sha256": query_sha256,
                "top_k": top_k,
                "hits": [hit.memory.id for hit in hits],
                "filter": result.filter,
            },
            durable=durable,
        )
        return result

    def similar(
        self,
        memory_id: str,
        *,
        top_k: int = 5,
        threshold: float | None = None,
        filter: Mapping[str, Any] | Filter | None = None,
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
        _check_threshold(threshold)
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
            mode="vector",
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
        *,
        query: str = "",
        mode: SearchMode = "vector",
        mmr: bool = False,
    ) -> tuple[builtins.list[SearchHit], int]:
        needs_catalog = parsed is not None or (not scope.is_empty() and self._state.catalog is not None)
        scoped_ids: npt.NDArray[np.int64] | None = None
        if needs_catalog:
            catalog: Catalog | None = self._catalog()
        else:
            self._sync()
            catalog = self._state.catalog  # if some other read built it, hits come from it
            if not scope.is_empty():
                # A reopened store has no catalog yet, and building it decrypts every memory
                # (about a second at 100k): a scope alone is answered from the blind indexes.
                scoped_ids = self._ids_in_scope(scope)
        settings = self.settings.search
        pool = top_k if sort_by == "similarity" else top_k * settings.rerank_pool_factor
        if mode != "vector" or mmr:
            pool = max(pool, settings.candidate_pool)
        if exclude is not None:
            pool += 1
        with self._state.lock.read():
            index = self._state.index
            allowed = catalog.candidates(scope, parsed) if catalog is not None and needs_catalog else scoped_ids
            total = len(index) if allowed is None else len(allowed)
            found = gather(index, self._state.keywords, vector, query, mode, pool, allowed, settings)
            # Rank on what the indexes give (scores; creation time is in the id), then
            # decrypt only the memories that make the cut.
            ranked = rank(found.labels, found.similarities, threshold, sort_by, exclude, settings, scores=found.scores)
            if mmr and len(ranked) > 1 and sort_by != "date":
                ranked = self._diversify(ranked, top_k)
        matches = (
            dict(zip(found.labels.tolist(), found.scores.tolist(), strict=True))
            if found.scores is not None and sort_by == "date"
            else None
        )
        hits: builtins.list[SearchHit] = []
        position = 0
        while len(hits) < top_k and position < len(ranked):
            batch = ranked[position : position + top_k - len(hits)]
            position += len(batch)
            related_lists = self._related([label for _, label, _ in batch], allowed) if include_similar else {}
            wanted = {label for _, label, _ in batch}
            for neighbours in related_lists.values():
                wanted.update(n for n, _ in neighbours)
            memories = self._hydrate(wanted, catalog, scope)
            for score, label, similarity in batch:
                memory = memories.get(label)
                if memory is None:
                    continue  # deleted by another process since the index saw it; backfill
                related = [
                    SearchHit.model_construct(
                        memory=memories[n], similarity=clip_similarity(sim), score=clip_similarity(sim), related=[]
                    )
                    for n, sim in related_lists.get(label, [])
                    if n in memories
                ]
                final = (similarity if matches is None else matches[label]) if sort_by == "date" else score
                hits.append(
                    trusted(SearchHit, {"memory": memory, "similarity": similarity, "score": final, "related": related})
                )
        return hits, total

    def _diversify(
        self, ranked: builtins.list[tuple[float, int, float]], top_k: int
    ) -> builtins.list[tuple[float, int, float]]:
        """``ranked`` with its head in maximal-marginal-relevance order (call under the read lock)."""
        head = ranked[: max(top_k * 3, top_k + 10)]
        vectors = self._state.index.get_vectors(np.array([label for _, label, _ in head], dtype=np.int64))
        order = mmr_order([key for key, _, _ in head], vectors, self.settings.search.mmr_lambda, len(head))
        return [head[position] for position in order] + ranked[len(head) :]

    def _hydrate(self, labels: set[int], catalog: Catalog | None, scope: Scope) -> dict[int, Memory]:
        """Memories by label; labels deleted since the index saw them, or outside ``scope``, are left out."""
        if catalog is not None:
            # Current with every commit up to this read's refresh, like the index it ranked.
            with self._state.lock.read():
                entries = [catalog.entries.get(label) for label in labels]
            return {entry.memory_id: entry.to_memory() for entry in entries if entry is not None}
        rows = self._storage.get_memories(sorted(labels))
        memories = {label: self._codec.to_memory(row) for label, row in rows.items()}
        # Scope candidates came from 8-byte blind indexes, which two scope ids may share.
        return {label: m for label, m in memories.items() if scope.contains(m.user_id, m.agent_id, m.run_id)}

    def _scope_columns(self, scope: Scope) -> dict[str, bytes]:
        """The blind-index column values a scope restricts (empty for no scope)."""
        blind = self._codec.scope_indexes(scope.user_id or "", scope.agent_id, scope.run_id)
        columns: dict[str, bytes] = {}
        if scope.user_id is not None:
            columns["user_bi"] = blind[0]
        if scope.agent_id is not None and blind[1] is not None:
            columns["agent_bi"] = blind[1]
        if scope.run_id is not None and blind[2] is not None:
            columns["run_bi"] = blind[2]
        return columns

    def _ids_in_scope(self, scope: Scope) -> npt.NDArray[np.int64]:
        """Ids whose scope indexes match, from storage; cached until the next change."""
        key = (scope, self._state.applied_seq)  # every change, own or another process's, moves it
        cached = self._scope_id_cache.get(key)
        if cached is not None:
            return cached
        ids = np.array(self._storage.ids_in_scope(self._scope_columns(scope)), dtype=np.int64)
        if len(self._scope_id_cache) >= 16:
            self._scope_id_cache.clear()
        self._scope_id_cache[key] = ids
        return ids

    def _related(
        self, labels: builtins.list[int], allowed: npt.NDArray[np.int64] | None
    ) -> dict[int, builtins.list[tuple[int, float]]]:
        per_hit = self.settings.search.related_per_hit
        related: dict[int, builtins.list[tuple[int, float]]] = {}
        with self._state.lock.read():
            index = self._state.index
            present = [label for label in labels if label in index]
            if not present:
                return related
            vectors = index.get_vectors(np.array(present, dtype=np.int64))
            for label, hit_vector in zip(present, vectors, strict=True):
                near_labels, near_sims = index.search(hit_vector, per_hit + 1, allowed=allowed)
                related[label] = [
                    (int(n), float(sim)) for n, sim in zip(near_labels, near_sims, strict=True) if int(n) != label
                ][:per_hit]
        return related


def _check_mode(mode: object) -> SearchMode:
    if mode not in get_args(SearchMode):
        raise ValidationError(f"mode must be one of {', '.join(get_args(SearchMode))}", field="mode")
    return mode  # type: ignore[return-value]


def _check_flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{field} must be true or false", field=field)
    return value


def _check_threshold(threshold: object) -> None:
    """A similarity floor: None, or a number in [0, 1] (NaN is not one)."""
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0
    ):
        raise ValidationError("threshold must be a number in [0, 1]", field="threshold")


def _fingerprint(scope: Scope, parsed: Filter | None, order: str) -> str:
    material = json.dumps(
        [scope.user_id, scope.agent_id, scope.run_id, parsed.to_dict() if parsed else None, order],
        sort_keys=True,
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
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        raise ValidationError("cursor is not valid", field="cursor") from None
    if not all(-(2**63) <= part < 2**63 for part in key):  # SQLite's integers; a forged one is beyond them
        raise ValidationError("cursor is not valid", field="cursor")
    if not matches:
        raise ValidationError("cursor belongs to a different query (scope, filter or order changed)", field="cursor")
    return key
