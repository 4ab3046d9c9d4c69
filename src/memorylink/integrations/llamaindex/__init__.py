"""memorylink for LlamaIndex (``pip install "memorylink[llamaindex]"``).

* :class:`MemoryLinkVectorStore`: a ``BasePydanticVectorStore`` over a memorylink store,
  usable under ``VectorStoreIndex`` (text, metadata filters, scoping, async methods).
* :class:`MemoryLinkEmbedding`: a memorylink embedder as a LlamaIndex embed model, so the
  index and the store embed with the same model.
* :class:`MemoryLinkMemoryBlock`: a long-term memory block for LlamaIndex's ``Memory``.

See ``docs/integrations-llamaindex.md``. This package is not imported by ``import memorylink``;
importing it without llama-index-core raises :class:`~memorylink.errors.MissingDependencyError`.
"""

from __future__ import annotations

from memorylink.errors import MissingDependencyError

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:
    raise MissingDependencyError("llama-index-core", "llamaindex") from exc

from memorylink.integrations.llamaindex._filters import SUPPORTED_OPERATORS, to_memorylink_filter
from memorylink.integrations.llamaindex.embedding import MemoryLinkEmbedding
from memorylink.integrations.llamaindex.memory_block import MemoryLinkMemoryBlock
from memorylink.integrations.llamaindex.vector_store import MemoryLinkVectorStore

__all__ = [
    "SUPPORTED_OPERATORS",
    "MemoryLinkEmbedding",
    "MemoryLinkMemoryBlock",
    "MemoryLinkVectorStore",
    "to_memorylink_filter",
]
