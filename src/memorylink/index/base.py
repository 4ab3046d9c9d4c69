"""The VectorIndex role: nearest-neighbour search over labelled unit vectors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["VectorIndex"]

Labels = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]


@runtime_checkable
class VectorIndex(Protocol):
    """Contract for vector indexes (cosine similarity over unit vectors, int64 labels >= 0).

    * ``add`` upserts: a label already present has its vector replaced.
    * ``remove`` drops labels; labels not present are ignored.
    * ``search`` returns up to ``k`` ``(labels, similarities)`` sorted by similarity
      descending, where similarity is the cosine similarity (1 - cosine distance).
      With ``allowed`` given, only those labels may be returned (labels in ``allowed``
      that are not in the index are ignored); the implementation picks its strategy
      (e.g. exact search over few candidates, filtered graph search over many).
    * ``to_bytes`` / ``from_bytes`` snapshot the whole index; ``from_bytes(to_bytes())``
      answers every search as the original does. The bytes are plaintext: the caller
      encrypts them.
    * Not thread-safe: the store serialises writers against readers
      (concurrent ``search`` calls are allowed, ``add``/``remove`` must be exclusive).
    """

    @property
    def dimension(self) -> int: ...

    def __len__(self) -> int: ...

    def __contains__(self, label: object) -> bool: ...

    def labels(self) -> Labels: ...

    def add(self, labels: Labels, vectors: Vectors) -> None: ...

    def remove(self, labels: Iterable[int]) -> None: ...

    def get_vectors(self, labels: Labels) -> Vectors: ...

    def search(
        self, vector: Vectors, k: int, *, allowed: Labels | None = None
    ) -> tuple[Labels, npt.NDArray[np.float32]]: ...

    def to_bytes(self) -> bytes: ...
