"""What the vector store does, written once for its sync and async faces (sans-I/O).

Each plan is a generator that yields the store calls it needs (:class:`Call`) and receives
their results; :func:`run_sync` answers them with a :class:`~memorylink.MemoryStore`,
:func:`run_async` with an :class:`~memorylink.AsyncMemoryStore`, so both faces share every
rule (id mapping, upserts, filters) and the async one never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
import numpy as np
from langchain_core.documents import Document
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from memorylink.async_store import AsyncMemoryStore
from memorylink.errors import MemoryLinkError, ValidationError
from memorylink.filters import MAX_VALUES
from memorylink.integrations.langchain._documents import ID_KEY, is_memory_id, prepare, to_document
from memorylink.integrations.langchain._filters import to_memorylink_filter
from memorylink.models import BatchResult, Memory, Page, SearchResult, SortBy, validate_new_memory
from memorylink.store import MemoryStore

__all__ = ["EMBED", "Call", "Plan", "Planner", "run_async", "run_sync"]

T = TypeVar("T")

EMBED = "embed"
"""The one call that is not a store method: embed texts with the store's embedder."""


@dataclass(frozen=True)
class Call:
    """One store method call a plan needs: ``store.<method>(*args, **kwargs)``."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


Plan = Generator[Call, Any, T]


def run_sync(store: MemoryStore, plan: Plan[T]) -> T:
    """Carry out a plan with a sync store, in the calling thread."""
    result: Any = None
    while True:
        try:
            call = plan.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        if call.method == EMBED:
            result = store.embedder.embed(*call.args)
        else:
            result = getattr(store, call.method)(*call.args, **call.kwargs)


async def run_async(store: AsyncMemoryStore, plan: Plan[T]) -> T:
    """Carry out a plan with an async store: every call runs in a worker thread."""
    result: Any = None
    while True:
        try:
            call = plan.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        if call.method == EMBED:
            result = await anyio.to_thread.run_sync(store.embedder.embed, *call.args)
        else:
            result = await getattr(store, call.method)(*call.args, **call.kwargs)


class Planner:
    """The vector store's operations as plans, for one scope of one store."""

    def __init__(self, store: MemoryStore, scope: Mapping[str, str | None], sort_by: SortBy) -> None:
        self.store = store
        self.scope = dict(scope)
        self.sort_by = sort_by

    # -- ids ----------------------------------------------------------------------------------

    def resolve(self, ids: Iterable[str]) -> Plan[dict[str, list[Memory]]]:
        """The memories (in scope) behind each LangChain id: a caller-given id, or a memory's own id."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, list[Memory]] = {}
        page_size = self.store.settings.limits.max_page_size
        size = min(page_size, MAX_VALUES)  # one "in" list holds at most MAX_VALUES ids
        for start in range(0, len(wanted), size):
            chunk = wanted[start : start + size]
            cursor: str | None = None
            while True:
                page: Page[Memory] = yield Call(
                    "list",
                    kwargs={"filter": {f"metadata.{ID_KEY}": {"in": chunk}}, "limit": page_size, "cursor": cursor}
                    | self.scope,
                )
                for memory in page.items:
                    found.setdefault(memory.metadata[ID_KEY], []).append(memory)
                cursor = page.next_cursor
                if cursor is None:
                    break
        for value in wanted:
            if value not in found and is_memory_id(value):
                own: Memory | None = yield Call("get", (value,), dict(self.scope))
                if own is not None and ID_KEY not in own.metadata:
                    found[value] = [own]
        return found

    # -- writes -------------------------------------------------------------------------------

    def add(
        self,
        texts: Iterable[str],
        metadatas: Sequence[Mapping[str, Any]] | None,
        ids: Sequence[str | None] | None,
        tags: Sequence[str] | None,
    ) -> Plan[list[str]]:
        """Add texts; a text whose id already names a memory in scope replaces it (an upsert)."""
        pending = prepare(texts, metadatas, ids)
        settings = self.store.settings
        items: list[dict[str, Any]] = []
        for position, one in enumerate(pending):
            metadata = dict(one.metadata)
            if one.caller_id is not None:
                metadata[ID_KEY] = one.caller_id
            item: dict[str, Any] = {"text": one.text, "tags": list(tags or ()), "metadata": metadata, **self.scope}
            try:  # all or nothing: a bad item is reported before anything is written
                validate_new_memory(item, settings.limits, default_user_id=settings.default_user_id)
            except MemoryLinkError as error:
                raise ValidationError(
                    f"texts[{position}]: {error.message}", field=error.details.get("field"), details=error.details
                ) from error
            items.append(item)
        existing = yield from self.resolve([one.caller_id for one in pending if one.caller_id is not None])
        out: list[str | None] = [None] * len(pending)
        new: list[int] = []
        for position, one in enumerate(pending):
            matches = existing.get(one.caller_id) if one.caller_id is not None else None
            if not matches:
                new.append(position)
                continue
            target, *duplicates = matches
            metadata = items[position]["metadata"]
            if ID_KEY not in target.metadata:  # addressed by its own id: it stays that way
                metadata = {k: v for k, v in metadata.items() if k != ID_KEY}
            yield Call(
                "update",
                (target.id,),
                {"text": one.text, "metadata": metadata, "tags": list(tags) if tags is not None else None} | self.scope,
            )
            if duplicates:  # two processes upserted the same id at once: keep one
                yield Call("delete_many", ([m.id for m in duplicates],), dict(self.scope))
            out[position] = one.caller_id
        size = settings.limits.max_batch_size
        for start in range(0, len(new), size):
            chunk = new[start : start + size]
            result: BatchResult = yield Call("add_many", ([items[p] for p in chunk],))
            failed = [entry for entry in result.items if entry.error is not None]
            if failed:
                first = failed[0]
                assert first.error is not None
                raise ValidationError(
                    f"{len(failed)} of {len(chunk)} texts were not stored; first, texts[{chunk[first.index]}]: "
                    f"{first.error.message}",
                    details={"failed": [chunk[entry.index] for entry in failed]},
                )
            for position, entry in zip(chunk, result.items, strict=True):
                given = pending[position].caller_id
                out[position] = given if given is not None else entry.id
        return [value for value in out if value is not None]

    def delete(self, ids: Sequence[str] | None, filter: Any) -> Plan[bool]:
        """Delete the memories behind ``ids`` (unknown ids are ignored), or those matching ``filter``."""
        if ids is None:
            if filter is None:
                raise ValidationError("delete needs ids or filter= (filter={} deletes the whole scope)", field="ids")
            yield Call("delete_many", kwargs={"filter": to_memorylink_filter(filter)} | self.scope)
            return True
        if filter is not None:
            raise ValidationError("give ids or filter, not both", field="filter")
        found = yield from self.resolve(ids)
        labels = [memory.id for memories in found.values() for memory in memories]
        size = self.store.settings.limits.max_batch_size
        for start in range(0, len(labels), size):
            yield Call("delete_many", (labels[start : start + size],), dict(self.scope))
        return True

    # -- reads --------------------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str]) -> Plan[list[Document]]:
        """Documents for the ids that name a memory in scope, in the order given."""
        found = yield from self.resolve(ids)
        return [to_document(found[value][0]) for value in ids if value in found]

    def search(self, query: str, k: int, options: dict[str, Any]) -> Plan[list[tuple[Document, float]]]:
        """(document, score) pairs, best first; the score is the store's (similarity by default).

        A vector store's search is by vector similarity (``mode="vector"``); pass
        ``mode="hybrid"`` or ``"keyword"`` for the store's other modes (docs/search.md).
        """
        options = dict(options)
        mode = options.pop("mode", "vector")
        result: SearchResult = yield Call("search", (query,), {**self.search_kwargs(k, options), "mode": mode})
        return [(to_document(hit.memory), hit.score) for hit in result.hits]

    def search_by_vector(
        self, embedding: Sequence[float], k: int, options: dict[str, Any]
    ) -> Plan[list[tuple[Document, float]]]:
        """As :meth:`search`, for a query vector of the store's embedder."""
        result: SearchResult = yield Call("search_by_vector", (list(embedding),), self.search_kwargs(k, options))
        return [(to_document(hit.memory), hit.score) for hit in result.hits]

    def mmr(
        self, query: str | Sequence[float], k: int, fetch_k: int, lambda_mult: float, options: dict[str, Any]
    ) -> Plan[list[Document]]:
        """Maximal marginal relevance over the ``fetch_k`` most similar memories to a text or a vector.

        Candidate vectors are re-embedded from their texts with the store's embedder (the
        store offers no public read of stored vectors); embedders are deterministic, so these
        are the vectors the store holds.
        """
        options = {**options, "sort_by": "similarity"}
        kwargs = self.search_kwargs(max(k, fetch_k), options)
        by_text = isinstance(query, str)
        method, argument = ("search", query) if by_text else ("search_by_vector", list(query))
        if by_text:
            kwargs["mode"] = "vector"  # candidates by similarity, as for a query vector
        result: SearchResult = yield Call(method, (argument,), kwargs)
        if not result.hits:
            return []
        texts = [hit.memory.text for hit in result.hits]
        vectors = yield Call(EMBED, ([query, *texts] if by_text else texts,))
        matrix = np.asarray(vectors, dtype=np.float32)
        candidates = matrix[1:] if by_text else matrix
        target = matrix[0] if by_text else np.asarray(query, dtype=np.float32)
        chosen = maximal_marginal_relevance(target, list(candidates), lambda_mult=lambda_mult, k=k)
        return [to_document(result.hits[i].memory) for i in chosen]

    def search_kwargs(self, k: int, options: dict[str, Any]) -> dict[str, Any]:
        """``store.search`` keyword arguments from LangChain ones (``filter``, ``score_threshold`` ...)."""
        options = dict(options)
        kwargs: dict[str, Any] = {"top_k": k, "sort_by": options.pop("sort_by", self.sort_by)}
        kwargs["filter"] = to_memorylink_filter(options.pop("filter", None))
        threshold = options.pop("threshold", None)
        score_threshold = options.pop("score_threshold", None)
        kwargs["threshold"] = threshold if threshold is not None else score_threshold
        if "tags" in options:
            kwargs["tags"] = options.pop("tags")
        if options:
            raise TypeError(f"unexpected search arguments: {', '.join(sorted(options))}")
        return kwargs | self.scope
