"""The Embedder role: turns texts into L2-normalised float32 vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder"]


@runtime_checkable
class Embedder(Protocol):
    """Contract for embedders.

    * ``name`` identifies the model (the store records it and refuses another one);
      ``dimension`` is known without loading the model.
    * ``embed(texts)`` returns a C-contiguous ``float32`` array of shape
      ``(len(texts), dimension)`` whose rows have unit L2 norm; the same text always
      gives the same vector (up to float rounding); an empty sequence gives shape ``(0, dimension)``.
    * Implementations must be safe to call from several threads.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...
