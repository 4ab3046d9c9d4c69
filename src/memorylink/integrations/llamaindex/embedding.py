"""MemoryLinkEmbedding: a memorylink Embedder as a LlamaIndex embed model."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from memorylink._concurrency import run_sync_in_thread
from memorylink.async_store import AsyncMemoryStore
from memorylink.embedders.base import Embedder
from memorylink.store import MemoryStore

__all__ = ["MemoryLinkEmbedding"]


class MemoryLinkEmbedding(BaseEmbedding):
    """A LlamaIndex ``BaseEmbedding`` over a memorylink :class:`~memorylink.embedders.base.Embedder`.

    Give it to ``VectorStoreIndex(..., embed_model=...)`` so LlamaIndex embeds with the same
    model as the store (and never reaches for its network default)::

        embed_model = MemoryLinkEmbedding.from_store(store)

    The async methods run the embedder in a worker thread, off the event loop.
    """

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", embedder.name)
        super().__init__(**kwargs)
        self._embedder = embedder

    @classmethod
    def from_store(cls, store: MemoryStore | AsyncMemoryStore, **kwargs: Any) -> MemoryLinkEmbedding:
        """The embed model matching ``store``'s embedder."""
        return cls(store.embedder, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "MemoryLinkEmbedding"

    @property
    def embedder(self) -> Embedder:
        """The wrapped memorylink embedder."""
        return self._embedder

    def _embed(self, texts: list[str]) -> list[Embedding]:
        return [[float(x) for x in row] for row in self._embedder.embed(texts)]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await run_sync_in_thread(self._embed, [query]))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await run_sync_in_thread(self._embed, [text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await run_sync_in_thread(self._embed, texts)
