"""The embeddings bridge, both ways: LangChain ``Embeddings`` <-> memorylink ``Embedder``."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread
import numpy as np
import numpy.typing as npt
from langchain_core.embeddings import Embeddings

from memorylink.embedders.base import Embedder
from memorylink.errors import ValidationError

__all__ = ["LangChainEmbedder", "MemoryLinkEmbeddings"]


class LangChainEmbedder:
    """A LangChain ``Embeddings`` object as a memorylink :class:`~memorylink.embedders.base.Embedder`.

    The store records its embedder's ``name`` and ``dimension`` and refuses to reopen with
    another, so ``name`` must identify the model, not the Python object: pass it explicitly
    (for example ``"openai/text-embedding-3-small"``). Without it the name is derived from the
    class and its ``model`` / ``model_name`` attribute (``"langchain/OpenAIEmbeddings/..."``).
    Without ``dimension``, one probe text is embedded at construction to learn it.

    Rows come back as C-contiguous float32 with unit L2 norm (LangChain models need not
    normalise). Every text, queries included, goes through ``embed_documents``: the
    Embedder contract has one ``embed``, so models with separate query prompts see the
    document prompt for queries too.

    Raises:
        ValidationError: The model returned the wrong number of rows, a row of the wrong
            length, a non-finite value or an all-zero vector (which has no direction).
    """

    def __init__(self, embeddings: Embeddings, *, name: str | None = None, dimension: int | None = None) -> None:
        self.embeddings = embeddings
        self._name = name if name is not None else _derived_name(embeddings)
        if dimension is None:
            dimension = len(embeddings.embed_documents(["dimension probe"])[0])
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise ValidationError("dimension must be a positive integer", field="dimension")
        self._dimension = dimension

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        rows = self.embeddings.embed_documents(list(texts))
        if len(rows) != len(texts):
            raise ValidationError(f"{self._name} returned {len(rows)} vectors for {len(texts)} texts", field="embedder")
        matrix = np.asarray(rows, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self._dimension:
            raise ValidationError(
                f"{self._name} returned vectors of shape {matrix.shape[1:]}, expected ({self._dimension},)",
                field="embedder",
            )
        if not np.isfinite(matrix).all():
            raise ValidationError(f"{self._name} returned a non-finite value", field="embedder")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if (norms == 0).any():
            raise ValidationError(f"{self._name} returned an all-zero vector", field="embedder")
        return np.ascontiguousarray(matrix / norms, dtype=np.float32)

    def __repr__(self) -> str:
        return f"LangChainEmbedder(name={self._name!r}, dimension={self._dimension})"


def _derived_name(embeddings: Embeddings) -> str:
    model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
    base = f"langchain/{type(embeddings).__name__}"
    return f"{base}/{model}" if isinstance(model, str) and model else base


class MemoryLinkEmbeddings(Embeddings):
    """A memorylink embedder as LangChain ``Embeddings`` (lists of floats, unit norm).

    Without an embedder it uses memorylink's default, all-MiniLM-L6-v2 on
    sentence-transformers (``pip install "memorylink[embed]"``), loaded on first use. The
    async methods embed in a worker thread, so they do not block the event loop.
    """

    def __init__(self, embedder: Embedder | None = None) -> None:
        if embedder is None:
            from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder()
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.embedder.embed(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await anyio.to_thread.run_sync(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await anyio.to_thread.run_sync(self.embed_query, text)

    def __repr__(self) -> str:
        return f"MemoryLinkEmbeddings({self.embedder!r})"
