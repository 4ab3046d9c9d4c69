"""memorylink for LangChain (``pip install "memorylink[langchain]"``).

* :class:`MemoryLinkVectorStore` — a LangChain ``VectorStore`` over a :class:`~memorylink.MemoryStore`
  or :class:`~memorylink.AsyncMemoryStore`, confined to one scope (user / agent / run); it passes
  ``langchain-tests``' standard ``VectorStoreIntegrationTests``, sync and async.
* :class:`MemoryLinkRetriever` — a retriever with scope, filter, threshold and recency-aware
  ranking, returning each memory's tags, dates and scores with the document.
* :class:`LangChainEmbedder` — a LangChain ``Embeddings`` object used as a memorylink embedder.
* :class:`MemoryLinkEmbeddings` — a memorylink embedder (all-MiniLM-L6-v2 by default) as
  LangChain ``Embeddings``.
* :func:`to_memorylink_filter` — LangChain-style metadata filters (``{"source": "zoom"}``,
  ``{"$and": [...]}``) in memorylink's filter language.

Usage, id mapping and scoping are described in ``docs/integrations-langchain.md``. This
package is not imported by ``import memorylink``; importing it without langchain-core raises
:class:`~memorylink.errors.MissingDependencyError`.
"""

from __future__ import annotations

from memorylink.errors import MissingDependencyError

try:
    import langchain_core  # noqa: F401
except ImportError as exc:
    raise MissingDependencyError("langchain-core", "langchain") from exc

from memorylink.integrations.langchain._documents import ID_KEY
from memorylink.integrations.langchain._embeddings import LangChainEmbedder, MemoryLinkEmbeddings
from memorylink.integrations.langchain._filters import to_memorylink_filter
from memorylink.integrations.langchain._retriever import MemoryLinkRetriever
from memorylink.integrations.langchain._vectorstore import MemoryLinkVectorStore

__all__ = [
    "ID_KEY",
    "LangChainEmbedder",
    "MemoryLinkEmbeddings",
    "MemoryLinkRetriever",
    "MemoryLinkVectorStore",
    "to_memorylink_filter",
]
