"""MemoryLinkVectorStore: a LlamaIndex vector store over a memorylink store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn, TypedDict, get_args

from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from memorylink.async_store import AsyncMemoryStore
from memorylink.errors import ValidationError
from memorylink.integrations.llamaindex._filters import to_memorylink_filter
from memorylink.integrations.llamaindex._nodes import NODE_ID_KEY, REF_DOC_ID_KEY, memory_to_node, node_to_item
from memorylink.models import BatchResult, SearchResult, SortBy
from memorylink.store import MemoryStore

__all__ = ["MemoryLinkVectorStore"]

# memorylink caps one in / nin list (Limits: max_filter_values is 1024); longer id lists are
# split into several lists OR-ed together.
_IDS_PER_LIST = 1000
_PAGE = 200


class Scope(TypedDict):
    """The scope arguments every store call takes."""

    user_id: str | None
    agent_id: str | None
    run_id: str | None


class MemoryLinkVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store whose nodes are memories of a memorylink store.

    The store embeds texts itself, with its own embedder: ``add`` stores each node's text and
    metadata (node embeddings are not used), and ``query`` searches by ``query.query_str``
    (``is_embedding_query`` is False, so a retriever does not embed the query first), or by
    ``query.query_embedding`` when it has no text (a vector of the store's embedder). Build
    the index with ``embed_model=MemoryLinkEmbedding.from_store(store)`` so LlamaIndex and the
    store use the same model.

    Every call is confined to the scope given here (``user_id`` / ``agent_id`` / ``run_id``):
    nodes are added in it, and queries and deletes see only memories in it. Without a scope
    the adapter adds to the store's default user and sees the whole store.

    The async methods (``async_add``, ``aquery``, ``adelete``, ...) go through
    :class:`~memorylink.AsyncMemoryStore`, so they never block the event loop.

    Args:
        store: An open ``MemoryStore`` or ``AsyncMemoryStore`` (the adapter uses both faces of it).
        user_id: Scope of every call.
        agent_id: Scope of every call.
        run_id: Scope of every call.
        sort_by: The order of query results: ``"similarity"`` (default: the cosine similarity
            LlamaIndex expects as a score), ``"relevance"`` (blended with recency) or ``"date"``.
    """

    stores_text: bool = True
    is_embedding_query: bool = False
    flat_metadata: bool = False

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    sort_by: SortBy = "similarity"

    _store: MemoryStore = PrivateAttr()
    _async_store: AsyncMemoryStore = PrivateAttr()

    def __init__(
        self,
        store: MemoryStore | AsyncMemoryStore,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        sort_by: SortBy = "similarity",
        **kwargs: Any,
    ) -> None:
        if sort_by not in get_args(SortBy):
            raise ValidationError(f"sort_by must be one of {', '.join(get_args(SortBy))}", field="sort_by")
        super().__init__(user_id=user_id, agent_id=agent_id, run_id=run_id, sort_by=sort_by, **kwargs)
        if isinstance(store, AsyncMemoryStore):
            self._store, self._async_store = store.sync, store
        else:
            self._store, self._async_store = store, AsyncMemoryStore(store)

    @classmethod
    def class_name(cls) -> str:
        return "MemoryLinkVectorStore"

    @property
    def client(self) -> MemoryStore:
        """The memorylink store (sync face)."""
        return self._store

    @property
    def async_client(self) -> AsyncMemoryStore:
        """The memorylink store (async face)."""
        return self._async_store

    @property
    def scope(self) -> Scope:
        """The ``user_id`` / ``agent_id`` / ``run_id`` every call passes to the store."""
        return {"user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id}

    # -- add -------------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Store the nodes (one embedding pass); returns their node ids.

        A node whose id is already stored (in scope) replaces it: the new memory is written
        first, then the old one is deleted. All or nothing: if one node is refused (text or
        metadata over a limit, a metadata key with a ``.``, ...) the others of this call are
        removed again, nothing is replaced, and the error is raised.
        """
        items = [node_to_item(node, self.scope) for node in nodes]
        if not items:
            return []
        node_ids = [node.node_id for node in nodes]
        replaced = self._memory_ids(node_ids)
        result = self._store.add_many(items)
        if result.failed:
            self._store.delete_many(ids=result.ids)
            _raise_first_error(result)
        if replaced:
            self._store.delete_many(ids=replaced)
        return node_ids

    async def async_add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """``add`` without blocking the event loop."""
        items = [node_to_item(node, self.scope) for node in nodes]
        if not items:
            return []
        node_ids = [node.node_id for node in nodes]
        replaced = await self._amemory_ids(node_ids)
        result = await self._async_store.add_many(items)
        if result.failed:
            await self._async_store.delete_many(ids=result.ids)
            _raise_first_error(result)
        if replaced:
            await self._async_store.delete_many(ids=replaced)
        return node_ids

    def _memory_ids(self, node_ids: list[str]) -> list[str]:
        """Ids of the memories in scope that hold these nodes."""
        where = _ids_filter(NODE_ID_KEY, node_ids)
        found: list[str] = []
        cursor: str | None = None
        while True:
            page = self._store.list(filter=where, limit=_PAGE, cursor=cursor, **self.scope)
            found.extend(memory.id for memory in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def _amemory_ids(self, node_ids: list[str]) -> list[str]:
        where = _ids_filter(NODE_ID_KEY, node_ids)
        found: list[str] = []
        cursor: str | None = None
        while True:
            page = await self._async_store.list(filter=where, limit=_PAGE, cursor=cursor, **self.scope)
            found.extend(memory.id for memory in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return found

    # -- query -----------------------------------------------------------------------------

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nodes nearest ``query.query_str`` (else ``query.query_embedding``)
        that match its filters."""
        arguments = self._search_arguments(query)
        if query.query_str is None:
            return _to_result(self._store.search_by_vector(query.query_embedding or [], **arguments))
        # A dense query: the store's default (hybrid, BM25 + vector) would change its similarities.
        return _to_result(self._store.search(query.query_str, mode="vector", **arguments))

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """``query`` without blocking the event loop."""
        arguments = self._search_arguments(query)
        if query.query_str is None:
            return _to_result(await self._async_store.search_by_vector(query.query_embedding or [], **arguments))
        return _to_result(await self._async_store.search(query.query_str, mode="vector", **arguments))

    def _search_arguments(self, query: VectorStoreQuery) -> dict[str, Any]:
        if query.mode != VectorStoreQueryMode.DEFAULT:
            raise ValidationError(
                f"query mode {query.mode.value!r} is not supported; memorylink does dense (default) search only",
                field="mode",
            )
        if query.query_str is None and query.query_embedding is None:
            raise ValidationError("the query needs a query_str or a query_embedding", field="query_str")
        where = _all_of(
            to_memorylink_filter(query.filters),
            _ids_filter(NODE_ID_KEY, query.node_ids),
            _ids_filter(REF_DOC_ID_KEY, query.doc_ids),
        )
        return {
            "top_k": query.similarity_top_k,
            "filter": where,
            "sort_by": self.sort_by,
            **self.scope,
        }

    # -- get -------------------------------------------------------------------------------

    def get_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        """The nodes in scope with these ids and matching ``filters`` (every node with neither; ``[]`` is neither)."""
        where = _all_of(to_memorylink_filter(filters), _ids_filter(NODE_ID_KEY, node_ids))
        nodes: list[BaseNode] = []
        cursor: str | None = None
        while True:
            page = self._store.list(filter=where, order="created_asc", limit=_PAGE, cursor=cursor, **self.scope)
            nodes.extend(memory_to_node(memory) for memory in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return nodes

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """``get_nodes`` without blocking the event loop."""
        where = _all_of(to_memorylink_filter(filters), _ids_filter(NODE_ID_KEY, node_ids))
        nodes: list[BaseNode] = []
        cursor: str | None = None
        while True:
            page = await self._async_store.list(
                filter=where, order="created_asc", limit=_PAGE, cursor=cursor, **self.scope
            )
            nodes.extend(memory_to_node(memory) for memory in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return nodes

    # -- delete ----------------------------------------------------------------------------

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node (in scope) of the document ``ref_doc_id``."""
        self._store.delete_many(filter={f"metadata.{REF_DOC_ID_KEY}": ref_doc_id}, **self.scope)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """``delete`` without blocking the event loop."""
        await self._async_store.delete_many(filter={f"metadata.{REF_DOC_ID_KEY}": ref_doc_id}, **self.scope)

    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        """Delete the nodes (in scope) with these ids and matching ``filters``; neither deletes nothing.

        An empty ``node_ids`` list restricts nothing, as in ``query`` and ``get_nodes``.
        """
        where = self._delete_filter(node_ids, filters)
        if where is not None:
            self._store.delete_many(filter=where, **self.scope)

    async def adelete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        """``delete_nodes`` without blocking the event loop."""
        where = self._delete_filter(node_ids, filters)
        if where is not None:
            await self._async_store.delete_many(filter=where, **self.scope)

    def clear(self) -> None:
        """Delete every memory in scope (the whole store when the adapter has no scope)."""
        self._store.delete_many(filter={}, **self.scope)

    async def aclear(self) -> None:
        """``clear`` without blocking the event loop."""
        await self._async_store.delete_many(filter={}, **self.scope)

    @staticmethod
    def _delete_filter(node_ids: list[str] | None, filters: MetadataFilters | None) -> dict[str, Any] | None:
        if not node_ids and (filters is None or not filters.filters):
            return None
        return _all_of(to_memorylink_filter(filters), _ids_filter(NODE_ID_KEY, node_ids)) or {}


def _ids_filter(key: str, ids: list[str] | None) -> dict[str, Any] | None:
    # An empty list restricts nothing: LlamaIndex's retriever passes node_ids=[] for "any node".
    if not ids:
        return None
    field = f"metadata.{key}"
    chunks = [ids[start : start + _IDS_PER_LIST] for start in range(0, len(ids), _IDS_PER_LIST)]
    if len(chunks) == 1:
        return {field: {"in": chunks[0]}}
    return {"or": [{field: {"in": chunk}} for chunk in chunks]}


def _all_of(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    given = [f for f in filters if f is not None]
    if not given:
        return None
    return given[0] if len(given) == 1 else {"and": given}


def _to_result(result: SearchResult) -> VectorStoreQueryResult:
    nodes = [memory_to_node(hit.memory) for hit in result.hits]
    return VectorStoreQueryResult(
        nodes=nodes,
        similarities=[hit.score for hit in result.hits],
        ids=[node.node_id for node in nodes],
    )


def _raise_first_error(result: BatchResult) -> NoReturn:
    errors = result.errors
    first = errors[0]
    assert first.error is not None
    raise ValidationError(
        f"node {first.index} was not stored ({result.failed} of {len(result.items)} refused, none of this "
        f"call kept): {first.error.message}",
        field=f"nodes[{first.index}]",
        details={"errors": [e.model_dump() for e in errors]},
    )
