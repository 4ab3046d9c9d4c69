"""MemoryLinkRetriever: agent memory as a LangChain retriever, with scope, filters and recency."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from memorylink.async_store import AsyncMemoryStore
from memorylink.integrations.langchain._documents import hit_document
from memorylink.integrations.langchain._filters import to_memorylink_filter
from memorylink.models import SearchResult, SortBy
from memorylink.store import MemoryStore

__all__ = ["MemoryLinkRetriever"]


class MemoryLinkRetriever(BaseRetriever):
    """Retrieve memories for a query, confined to a scope.

    Unlike ``vectorstore.as_retriever()`` (plain similarity), it ranks by ``sort_by``
    (``"relevance"`` by default: similarity blended with recency), drops hits below
    ``threshold`` and puts each memory's fields under ``metadata["memorylink"]``:
    ``memory_id``, ``tags``, ``user_id``, ``agent_id``, ``run_id``, ``created_at``,
    ``updated_at`` (ISO 8601), ``similarity`` and ``score``.

    Attributes:
        store: A :class:`~memorylink.MemoryStore` or :class:`~memorylink.AsyncMemoryStore`
            (async retrieval runs off the event loop either way).
        user_id, agent_id, run_id: The scope searched.
        k: How many documents at most.
        filter: memorylink's filter language or LangChain-style metadata equality.
        tags: Only memories with at least one of these tags.
        threshold: The minimum similarity in [0, 1].
        sort_by: ``"relevance"``, ``"similarity"`` or ``"date"``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: MemoryStore | AsyncMemoryStore
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    k: int = 4
    filter: dict[str, Any] | None = None
    tags: list[str] | None = None
    threshold: float | None = None
    sort_by: SortBy = "relevance"

    def _search_kwargs(self) -> dict[str, Any]:
        return {
            "top_k": self.k,
            "filter": to_memorylink_filter(self.filter),
            "tags": self.tags,
            "threshold": self.threshold,
            "sort_by": self.sort_by,
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "run_id": self.run_id,
        }

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        store = self.store.sync if isinstance(self.store, AsyncMemoryStore) else self.store
        return _documents(store.search(query, **self._search_kwargs()))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        store = self.store if isinstance(self.store, AsyncMemoryStore) else AsyncMemoryStore(self.store)
        return _documents(await store.search(query, **self._search_kwargs()))


def _documents(result: SearchResult) -> list[Document]:
    return [hit_document(hit) for hit in result.hits]
