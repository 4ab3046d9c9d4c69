"""Input checks, normalisation and top-k selection shared by the index implementations."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from memorylink.errors import ValidationError

__all__ = [
    "EPSILON",
    "Labels",
    "Similarities",
    "Vectors",
    "as_allowed",
    "as_labels",
    "bound_similarities",
    "check_k",
    "dedupe_last_wins",
    "empty_result",
    "iter_labels",
    "single_label",
    "top_k",
    "unit_query",
    "unit_row",
    "unit_vectors",
]

Labels = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Similarities = npt.NDArray[np.float32]

# The same guard hnswlib's own cosine space uses: a zero vector stays zero.
EPSILON = 1e-30
_INT64_MAX = np.iinfo(np.int64).max
# Below this float32 norm, squares of the components may have lost precision (underflow).
_TINY = 1e-15
_TINY_SQUARED = _TINY * _TINY


def as_labels(labels: Any, *, field: str = "labels") -> Labels:
    """Return ``labels`` as a 1-D int64 array of non-negative labels.

    Raises:
        ValidationError: The labels are not integers, not 1-D, or negative.
    """
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValidationError(f"{field} must be a 1-D array of integers", field=field)
    if arr.dtype.kind not in "iu":
        if arr.size:
            raise ValidationError(f"{field} must be integers, got dtype {arr.dtype}", field=field)
        return np.empty(0, dtype=np.int64)
    if arr.size:
        if arr.dtype.kind == "u" and int(arr.max()) > _INT64_MAX:
            raise ValidationError(f"{field} must fit in int64", field=field)
        if arr.dtype.kind == "i" and int(arr.min()) < 0:
            raise ValidationError(f"{field} must be >= 0", field=field)
    return arr.astype(np.int64, copy=False)


def as_allowed(allowed: Any) -> Labels:
    """Return an ``allowed`` filter as a 1-D int64 array (negative labels simply match nothing)."""
    if isinstance(allowed, np.ndarray):
        arr = allowed
    elif isinstance(allowed, (set, frozenset)) or not hasattr(allowed, "__len__"):
        arr = np.fromiter(allowed, dtype=np.int64)
    else:
        arr = np.asarray(allowed)
    arr = arr.reshape(-1)
    if arr.dtype.kind not in "iu":
        if arr.size:
            raise ValidationError(f"allowed must be integers, got dtype {arr.dtype}", field="allowed")
        return np.empty(0, dtype=np.int64)
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > _INT64_MAX:
        arr = arr[arr <= _INT64_MAX]
    return arr.astype(np.int64, copy=False)


def iter_labels(labels: Iterable[int]) -> list[int]:
    """Return the labels of a ``remove`` call as a list of Python ints."""
    if isinstance(labels, np.ndarray):
        flat: list[int] = labels.reshape(-1).tolist()
        return flat
    return [int(label) for label in labels]


def single_label(labels: Any) -> int | None:
    """Return the label of a one-label ``add`` quickly, or ``None`` to take the general path.

    Raises:
        ValidationError: The one label is negative.
    """
    if type(labels) is np.ndarray and labels.shape == (1,) and labels.dtype.kind in "iu":
        label = int(labels[0])
    elif type(labels) is int:
        label = labels
    else:
        return None
    if label < 0 or label > _INT64_MAX:
        raise ValidationError("labels must be >= 0 and fit in int64", field="labels")
    return label


def _numeric(arr: npt.NDArray[Any], field: str) -> None:
    if arr.dtype.kind not in "fiu":
        raise ValidationError(f"{field} must be numeric, got dtype {arr.dtype}", field=field)


def unit_vectors(vectors: Any, count: int, dimension: int) -> Vectors:
    """Return ``vectors`` as a C-contiguous ``(count, dimension)`` float32 array of unit rows.

    A zero row stays zero. Rows whose squared norm over- or underflows float32 are rescaled
    in float64 first.

    Raises:
        ValidationError: Wrong shape, non-numeric or non-finite values.
    """
    arr = np.asarray(vectors)
    if arr.ndim == 1 and count == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape != (count, dimension):
        raise ValidationError(f"vectors must have shape ({count}, {dimension}), got {arr.shape}", field="vectors")
    _numeric(arr, "vectors")
    narrow = _float32(arr)
    norms = np.sqrt(np.einsum("ij,ij->i", narrow, narrow))
    if np.all((norms > _TINY) & (norms < np.inf)):
        scale = (1.0 / (norms + EPSILON)).astype(np.float32)
        unit: Vectors = np.ascontiguousarray(narrow * scale[:, None], dtype=np.float32)
        return unit
    # float32 overflowed or underflowed, or the input is not finite (or is zero): take the
    # careful path.
    unit = _rescaled(arr, "vectors")
    return unit


def unit_row(vector: Any, dimension: int, field: str) -> Vectors:
    """Return one vector, ``(dimension,)`` or ``(1, dimension)``, as a ``(dimension,)`` unit float32 row.

    Raises:
        ValidationError: Wrong shape, non-numeric or non-finite values.
    """
    arr = np.asarray(vector)
    if arr.shape != (dimension,):
        if arr.shape != (1, dimension):
            raise ValidationError(f"{field} must have shape ({dimension},), got {arr.shape}", field=field)
        arr = arr[0]
    if arr.dtype == np.float32:
        narrow = arr
    else:
        _numeric(arr, field)
        narrow = _float32(arr)
    squared = float(np.vdot(narrow, narrow))  # vdot, unlike dot or @, does not warn on overflow
    if _TINY_SQUARED < squared < math.inf:
        unit: Vectors = narrow * np.float32(1.0 / (math.sqrt(squared) + EPSILON))
        return unit
    # float32 overflowed or underflowed, or the input is not finite (or is zero): take the
    # careful path.
    unit = _rescaled(arr.reshape(1, -1), field)[0]
    return unit


def _float32(arr: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    if arr.dtype == np.float32:
        return arr
    with np.errstate(over="ignore"):  # values beyond float32 become inf: the careful path
        narrow: npt.NDArray[np.float32] = arr.astype(np.float32)
    return narrow


def _rescaled(arr: npt.NDArray[Any], field: str) -> Vectors:
    """Unit rows of a 2-D array whose squared norms overflow float32 (the slow, careful path)."""
    wide = arr.astype(np.float64)
    if not np.isfinite(wide).all():
        raise ValidationError(f"{field} must be finite (no NaN or infinity)", field=field)
    peak = np.abs(wide).max(axis=1, keepdims=True)
    peak[peak == 0] = 1.0
    wide /= peak
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))
    unit: Vectors = np.ascontiguousarray(wide / (norms + EPSILON)[:, None], dtype=np.float32)
    return unit


def unit_query(vector: Any, dimension: int) -> Vectors:
    """Return a query as a ``(dimension,)`` float32 unit vector.

    Raises:
        ValidationError: Wrong shape, non-numeric or non-finite values.
    """
    return unit_row(vector, dimension, "vector")


def check_k(k: int) -> int:
    """Return ``k`` as an int, rejecting negative or non-integer values.

    Raises:
        ValidationError: ``k`` is negative or not an integer.
    """
    if type(k) is int and k >= 0:
        return k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValidationError(f"k must be an integer, got {type(k).__name__}", field="k")
    if k < 0:
        raise ValidationError(f"k must be >= 0, got {k}", field="k")
    return int(k)


def dedupe_last_wins(labels: Labels, vectors: Vectors) -> tuple[Labels, Vectors]:
    """Drop all but the last occurrence of each label (an upsert batch applies in order)."""
    if labels.size < 2:
        return labels, vectors
    _, first_in_reversed = np.unique(labels[::-1], return_index=True)
    if first_in_reversed.size == labels.size:
        return labels, vectors
    keep = np.sort(labels.size - 1 - first_in_reversed)
    return labels[keep], vectors[keep]


def empty_result() -> tuple[Labels, Similarities]:
    """The answer of a search with nothing to return."""
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)


def top_k(scores: Similarities, labels: Labels, k: int) -> tuple[Labels, Similarities]:
    """Return the ``k`` best ``(labels, scores)``, best first; equal scores are ordered by label.

    Ties are broken by label (not by position) so that the answer does not depend on the
    order rows happen to be stored in, e.g. before and after a snapshot round trip.
    """
    n = scores.shape[0]
    if k <= 0 or n == 0:
        return empty_result()
    if k < n:
        kth = scores[np.argpartition(scores, n - k)[n - k :]].min()
        candidates = np.flatnonzero(scores >= kth)
    else:
        candidates = np.arange(n)
    order = np.lexsort((labels[candidates], -scores[candidates]))[:k]
    chosen = candidates[order]
    return labels[chosen].astype(np.int64, copy=False), bound_similarities(scores[chosen])


def bound_similarities(sims: Similarities) -> Similarities:
    """Clamp float rounding (e.g. 1.0000001 for a vector against itself) into [-1, 1], in place."""
    # Two ufunc calls cost about a third of np.clip's Python-level dispatch.
    np.minimum(sims, 1.0, out=sims)
    np.maximum(sims, -1.0, out=sims)
    return sims
