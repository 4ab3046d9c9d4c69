"""MemoryLinkVectorStore: a LangChain ``VectorStore`` over a memorylink store, in one scope."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio.to_thread
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from memorylink.async_store import AsyncMemoryStore
from memorylink.embedders.base import Embedder
from memorylink.integrations.langchain._embeddings import LangChainEmbedder, MemoryLinkEmbeddings
from memorylink.integrations.langchain._plans import Planner, run_async, run_sync
from memorylink.models import SortBy
from memorylink.store import MemoryStore

if TYPE_CHECKING:
    from memorylink.integrations.langchain._retriever import MemoryLinkRetriever

__all__ = ["MemoryLinkVectorStore"]


class MemoryLinkVectorStore(VectorStore):
    """A LangChain vector store backed by an encrypted memorylink store.

    Every call is confined to the scope given here: documents are written with this
    ``user_id`` / ``agent_id`` / ``run_id``, and reads, lookups and deletes see only memories
    inside it (give none for the whole store; writes then go to ``Settings.default_user_id``).
    :meth:`with_scope` gives a view of the same store in another scope.

    The store embeds texts itself, with its own embedder (wrap a LangChain model in
    :class:`LangChainEmbedder` to use it). Document ids: a caller-given id is kept in the
    memory's metadata under ``"langchain_id"`` and used for ``get_by_ids``, ``delete`` and
    upserts (adding a document whose id exists in scope replaces it, keeping its history);
    documents added without an id get the memory's own id.

    ``filter=`` takes memorylink's filter language or LangChain-style metadata equality
    (see :func:`to_memorylink_filter`). Scores are cosine similarities in [0, 1] unless
    ``sort_by="relevance"`` (similarity blended with recency).

    Async methods (``aadd_documents``, ``asimilarity_search`` ...) go through an
    :class:`~memorylink.AsyncMemoryStore`, so the event loop never waits on embedding,
    encryption or SQLite.

    Args:
        store: A :class:`~memorylink.MemoryStore` or :class:`~memorylink.AsyncMemoryStore`.
        user_id, agent_id, run_id: The scope of every call.
        sort_by: The order of ``similarity_search``: ``"similarity"`` (default),
            ``"relevance"`` or ``"date"``.
        owns_store: Close the store with :meth:`close` (``from_texts`` sets it).
    """

    def __init__(
        self,
        store: MemoryStore | AsyncMemoryStore,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        sort_by: SortBy = "similarity",
        owns_store: bool = False,
    ) -> None:
        if isinstance(store, AsyncMemoryStore):
            self.async_store = store
            self.store = store.sync
        elif isinstance(store, MemoryStore):
            self.store = store
            self.async_store = AsyncMemoryStore(store)
        else:
            raise TypeError(f"store must be a MemoryStore or an AsyncMemoryStore, not {type(store).__name__}")
        self.user_id = user_id
        self.agent_id = agent_id
        self.run_id = run_id
        self.sort_by: SortBy = sort_by
        self.owns_store = owns_store
        self._plans = Planner(self.store, {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}, sort_by)

    def with_scope(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> MemoryLinkVectorStore:
        """A view of the same store confined to another scope (it does not own the store)."""
        return type(self)(self.async_store, user_id=user_id, agent_id=agent_id, run_id=run_id, sort_by=self.sort_by)

    @property
    def embeddings(self) -> Embeddings:
        """The store's embedder as LangChain ``Embeddings`` (the wrapped model for a LangChainEmbedder)."""
        embedder = self.store.embedder
        if isinstance(embedder, LangChainEmbedder):
            return embedder.embeddings
        return MemoryLinkEmbeddings(embedder)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return _identity  # scores are already in [0, 1], higher is better

    # -- writes ---------------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add texts (one embedding pass); returns their ids. ``tags=[...]`` tags every memory.

        A text whose id names a memory in scope replaces that memory's text and metadata.

        Raises:
            ValidationError: A text, its metadata or id breaks a rule; nothing was written.
        """
        return run_sync(self.store, self._plans.add(texts, metadatas, ids, _tags(kwargs)))

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts`."""
        return await run_async(self.async_store, self._plans.add(texts, metadatas, ids, _tags(kwargs)))

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete documents by id (unknown ids are ignored), or every one matching ``filter=`` in scope."""
        return run_sync(self.store, self._plans.delete(ids, _filter_only(kwargs)))

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Async :meth:`delete`."""
        return await run_async(self.async_store, self._plans.delete(ids, _filter_only(kwargs)))

    # -- reads ----------------------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids in scope, in the order given; unknown ids are skipped."""
        return run_sync(self.store, self._plans.get_by_ids(ids))

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return await run_async(self.async_store, self._plans.get_by_ids(ids))

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` documents nearest ``query``.

        Keyword arguments: ``filter`` (filter language or metadata equality), ``tags``
        (any of), ``threshold`` / ``score_threshold`` (minimum similarity), ``sort_by``.
        """
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Async :meth:`similarity_search`."""
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, float]]:
        """Like :meth:`similarity_search`, with each document's score (similarity in [0, 1] by default)."""
        return run_sync(self.store, self._plans.search(query, k, kwargs))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score`."""
        return await run_async(self.async_store, self._plans.search(query, k, kwargs))

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents near ``query`` and diverse among themselves, chosen from the ``fetch_k`` nearest.

        Takes the same ``filter`` / ``tags`` / ``threshold`` arguments as :meth:`similarity_search`.
        """
        return run_sync(self.store, self._plans.mmr(query, k, fetch_k, lambda_mult, kwargs))

    async def amax_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`."""
        return await run_async(self.async_store, self._plans.mmr(query, k, fetch_k, lambda_mult, kwargs))

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` documents nearest a query vector of the store's embedder (same ``filter`` / ``tags`` /
        ``threshold`` arguments as :meth:`similarity_search`)."""
        return [doc for doc, _ in run_sync(self.store, self._plans.search_by_vector(embedding, k, kwargs))]

    async def asimilarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`."""
        found = await run_async(self.async_store, self._plans.search_by_vector(embedding, k, kwargs))
        return [doc for doc, _ in found]

    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """:meth:`max_marginal_relevance_search` for a query vector of the store's embedder."""
        return run_sync(self.store, self._plans.mmr(embedding, k, fetch_k, lambda_mult, kwargs))

    async def amax_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`."""
        return await run_async(self.async_store, self._plans.mmr(embedding, k, fetch_k, lambda_mult, kwargs))

    def as_memory_retriever(self, **kwargs: Any) -> MemoryLinkRetriever:
        """A :class:`MemoryLinkRetriever` over this store in this scope (``k``, ``filter``, ``threshold`` ...)."""
        from memorylink.integrations.langchain._retriever import MemoryLinkRetriever

        scope = {"user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id}
        return MemoryLinkRetriever(store=self.async_store, **(scope | kwargs))

    # -- construction and lifecycle -------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A vector store holding ``texts``: over ``store=`` if given, else over a store it opens.

        Keyword arguments: ``store`` (an open MemoryStore / AsyncMemoryStore; ``embedding``
        is then unused), or ``path`` (None: in memory), ``passphrase`` / ``key`` and
        ``embedder_name`` (the stable name recorded for ``embedding``) to open one, which the
        vector store then owns (:meth:`close`); plus ``user_id``, ``agent_id``, ``run_id``,
        ``sort_by`` and ``tags``.
        """
        options = _FromTexts(kwargs)
        store = options.store
        if store is None:
            store = MemoryStore.open(
                options.path, passphrase=options.passphrase, key=options.key, embedder=options.embedder(embedding)
            )
        vectorstore = cls(store, **options.scope, owns_store=options.store is None)
        try:
            vectorstore.add_texts(texts, metadatas, ids=ids, tags=options.tags)
        except BaseException:
            vectorstore.close()
            raise
        return vectorstore

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_texts` (opens the store in a worker thread)."""
        options = _FromTexts(kwargs)
        store = options.store
        if store is None:
            embedder = await anyio.to_thread.run_sync(options.embedder, embedding)
            store = await AsyncMemoryStore.open(
                options.path, passphrase=options.passphrase, key=options.key, embedder=embedder
            )
        vectorstore = cls(store, **options.scope, owns_store=options.store is None)
        try:
            await vectorstore.aadd_texts(texts, metadatas, ids=ids, tags=options.tags)
        except BaseException:
            await vectorstore.aclose()
            raise
        return vectorstore

    def close(self) -> None:
        """Close the store if this vector store opened it (``owns_store``); else do nothing."""
        if self.owns_store:
            self.store.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        if self.owns_store:
            await self.async_store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"MemoryLinkVectorStore(path={str(self.store.path) if self.store.path else None!r}, "
            f"user_id={self.user_id!r}, agent_id={self.agent_id!r}, run_id={self.run_id!r})"
        )


def _identity(score: float) -> float:
    return score


def _tags(kwargs: dict[str, Any]) -> list[str] | None:
    options = dict(kwargs)
    tags = options.pop("tags", None)
    if options:
        raise TypeError(f"unexpected arguments: {', '.join(sorted(options))}")
    return list(tags) if tags is not None else None


def _filter_only(kwargs: dict[str, Any]) -> Any:
    options = dict(kwargs)
    spec = options.pop("filter", None)
    if options:
        raise TypeError(f"unexpected arguments: {', '.join(sorted(options))}")
    return spec


class _FromTexts:
    """The keyword arguments of ``from_texts``, checked."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        options = dict(kwargs)
        self.store: MemoryStore | AsyncMemoryStore | None = options.pop("store", None)
        self.path: str | os.PathLike[str] | None = options.pop("path", None)
        self.passphrase: str | None = options.pop("passphrase", None)
        self.key: bytes | str | None = options.pop("key", None)
        self.embedder_name: str | None = options.pop("embedder_name", None)
        self.tags: list[str] | None = options.pop("tags", None)
        self.scope: dict[str, Any] = {
            name: options.pop(name) for name in ("user_id", "agent_id", "run_id", "sort_by") if name in options
        }
        if options:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(options))}")
        opening = [name for name in ("path", "passphrase", "key", "embedder_name") if name in kwargs]
        if self.store is not None and opening:
            raise TypeError(f"store= is already open: {', '.join(opening)} would be ignored")

    def embedder(self, embedding: Embeddings) -> Embedder:
        if isinstance(embedding, MemoryLinkEmbeddings):
            return embedding.embedder
        return LangChainEmbedder(embedding, name=self.embedder_name)
