"""The VectorIndex role: nearest-neighbour search over labelled unit vectors.

* :class:`VectorIndex` — the Protocol (see ``base.py`` for the contract).
* :class:`ExactIndex` — brute-force numpy search; the reference implementation and oracle.
* :class:`HnswIndex` — the default, over hnswlib, with exact search for selective filters.

``HnswIndex`` (and with it hnswlib) is imported on first access, so importing this
package costs only numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memorylink.index.base import VectorIndex
from memorylink.index.exact import ExactIndex

if TYPE_CHECKING:
    from memorylink.index.hnsw import HnswIndex

__all__ = ["ExactIndex", "HnswIndex", "VectorIndex"]


def __getattr__(name: str) -> Any:
    if name == "HnswIndex":
        from memorylink.index.hnsw import HnswIndex

        return HnswIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
