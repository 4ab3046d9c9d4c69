"""Brute-force vector index: the reference implementation and test oracle.

Vectors live in one contiguous float32 matrix (normalised to unit length on the way in),
with a parallel label array and a ``label -> row`` dict. Removal moves the last row into
the freed one, so the first ``len(index)`` rows are always the live ones. A search is one
matrix-vector product over all rows (or only the allowed rows) followed by
``argpartition`` and a sort.

:class:`~memorylink.index.hnsw.HnswIndex` keeps one of these beside its graph, as the
exact record of live labels and vectors and for its exact search strategy.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from memorylink.errors import StoreCorruptedError, ValidationError
from memorylink.index._common import (
    Labels,
    Similarities,
    Vectors,
    as_allowed,
    as_labels,
    check_k,
    dedupe_last_wins,
    empty_result,
    iter_labels,
    single_label,
    top_k,
    unit_query,
    unit_row,
    unit_vectors,
)

__all__ = ["ExactIndex"]

Rows = npt.NDArray[np.intp]

_MAGIC = b"MLKEXACT"
_FORMAT_VERSION = 1
# magic, format version, dimension, count; then count int64 labels and count*dim float32.
_HEADER = struct.Struct("<8sIIQ")
_LABEL_DTYPE = np.dtype("<i8")
_VECTOR_DTYPE = np.dtype("<f4")
_MIN_CAPACITY = 16
# A label bitmap is used to match ``allowed`` when labels are below this many times the
# number of rows (or below _DENSE_FLOOR): then the bitmap stays small next to the matrix.
_DENSE_FACTOR = 8
_DENSE_FLOOR = 1 << 20
# Matching through the bitmap costs about one gather per live row; matching through the
# dict costs about 30 dict-lookup-sized steps per allowed label. Pick the cheaper.
_DICT_COST_RATIO = 32


class Selection(NamedTuple):
    """The rows an ``allowed`` filter keeps, and (when labels are dense) its label bitmap."""

    rows: Rows
    mask: npt.NDArray[np.bool_] | None


class ExactIndex:
    """Exact cosine-similarity search over labelled vectors with numpy.

    Implements :class:`~memorylink.index.base.VectorIndex`. Vectors are stored normalised
    to unit length, so :meth:`get_vectors` returns unit vectors and a zero vector (which
    has no direction) scores 0 against every query. Equal similarities are ordered by label.

    Args:
        dimension: Length of every vector.

    Raises:
        ValidationError: ``dimension`` is not a positive integer.
    """

    def __init__(self, dimension: int) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise ValidationError(f"dimension must be a positive integer, got {dimension!r}", field="dimension")
        self._dimension = dimension
        self._vectors: Vectors = np.empty((0, dimension), dtype=np.float32)
        self._labels: Labels = np.empty(0, dtype=np.int64)
        self._rows: dict[int, int] = {}
        self._count = 0
        # True while _vectors is a read-only view of someone else's buffer (see _load).
        self._borrowed = False
        # Upper bound of every label ever added; sizes the label bitmap used for filters.
        self._max_label = -1

    # -- the VectorIndex protocol -------------------------------------------------------

    @property
    def dimension(self) -> int:
        """Length of every vector in the index."""
        return self._dimension

    def __len__(self) -> int:
        return self._count

    def __contains__(self, label: object) -> bool:
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            return False
        return int(label) in self._rows

    def labels(self) -> Labels:
        """Return the live labels, ascending."""
        return np.sort(self._labels[: self._count])

    def add(self, labels: Labels, vectors: Vectors) -> None:
        """Insert or replace vectors (upsert); within one call the last duplicate wins.

        Args:
            labels: ``(n,)`` non-negative integer labels.
            vectors: ``(n, dimension)`` vectors (a ``(dimension,)`` vector when ``n == 1``).

        Raises:
            ValidationError: Bad labels, wrong shape, or non-finite values.
        """
        label = single_label(labels)
        if label is not None:
            self._add_one(label, unit_row(vectors, self._dimension, "vectors"))
            return
        label_array = as_labels(labels)
        unit = unit_vectors(vectors, label_array.size, self._dimension)
        label_array, unit = dedupe_last_wins(label_array, unit)
        self._add_unit(label_array, unit)

    def remove(self, labels: Iterable[int]) -> None:
        """Remove labels; labels not in the index are ignored."""
        for label in iter_labels(labels):
            self._remove_one(label)

    def get_vectors(self, labels: Labels) -> Vectors:
        """Return the stored (unit) vectors of ``labels``, in order.

        Raises:
            KeyError: A label is not in the index.
        """
        rows = self._rows_of(as_labels(labels))
        result: Vectors = self._vectors[rows]
        return result

    def search(self, vector: Vectors, k: int, *, allowed: Labels | None = None) -> tuple[Labels, Similarities]:
        """Return up to ``k`` ``(labels, similarities)``, most similar first.

        Args:
            vector: The query, ``(dimension,)`` or ``(1, dimension)``; it need not be unit length.
            k: How many hits at most; more than ``len(self)`` is fine.
            allowed: If given, only these labels may be returned; unknown labels are ignored.

        Raises:
            ValidationError: Bad query shape or values, or a negative ``k``.
        """
        query = unit_query(vector, self._dimension)
        k = check_k(k)
        if allowed is None:
            return self._search_all(query, k)
        return self._search_rows(query, k, self._select(as_allowed(allowed)).rows)

    def to_bytes(self) -> bytes:
        """Serialise the index (magic, version, dimension, count, labels, vectors; no pickle)."""
        n = self._count
        header = _HEADER.pack(_MAGIC, _FORMAT_VERSION, self._dimension, n)
        labels = self._labels[:n].astype(_LABEL_DTYPE, copy=False)
        vectors = self._vectors[:n].astype(_VECTOR_DTYPE, copy=False)
        return b"".join((header, labels.view(np.uint8).data, vectors.reshape(-1).view(np.uint8).data))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, *, dimension: int | None = None) -> ExactIndex:
        """Rebuild an index from :meth:`to_bytes` output (the input is copied, not kept).

        Args:
            data: The snapshot.
            dimension: If given, the snapshot's dimension must equal it.

        Raises:
            StoreCorruptedError: The bytes are not a valid snapshot.
            ValidationError: ``dimension`` differs from the snapshot's.
        """
        view = memoryview(data).cast("B")
        if view.nbytes < _HEADER.size:
            raise StoreCorruptedError("exact index snapshot is truncated")
        magic, version, dim, count = _HEADER.unpack_from(view, 0)
        if magic != _MAGIC:
            raise StoreCorruptedError("not an exact index snapshot (bad magic)")
        if version != _FORMAT_VERSION:
            raise StoreCorruptedError(f"unsupported exact index snapshot version {version}")
        if dim < 1 or view.nbytes != _HEADER.size + count * (8 + 4 * dim):
            raise StoreCorruptedError("exact index snapshot has the wrong length")
        if dimension is not None and dimension != dim:
            raise ValidationError(f"snapshot dimension {dim} differs from the expected {dimension}", field="dimension")
        labels = np.frombuffer(view, dtype=_LABEL_DTYPE, count=count, offset=_HEADER.size)
        vectors = np.frombuffer(view, dtype=_VECTOR_DTYPE, count=count * dim, offset=_HEADER.size + 8 * count)
        if count and (int(labels.min()) < 0 or np.unique(labels).size != count):
            raise StoreCorruptedError("exact index snapshot has negative or duplicate labels")
        index = cls(dim)
        index._load(labels.astype(np.int64), vectors.reshape(count, dim))
        return index

    # -- internals, also used by HnswIndex ----------------------------------------------

    def _load(
        self, labels: Labels, vectors: npt.NDArray[Any], rows: Rows | None = None, *, borrow: bool = False
    ) -> None:
        """Replace the contents with ``labels`` and their (already unit) vectors, copied once.

        ``vectors`` is ``(n, dimension)`` float32, or ``(m, dimension)`` float32 (possibly a
        strided view) or ``(m,)`` records of ``4 * dimension`` raw float32 bytes (void dtype)
        of which ``rows`` are taken.

        With ``borrow`` (and no ``rows``), a 2-D float32 ``vectors`` is kept as a read-only
        view and copied only before the first write: a reopened store that only reads never
        pays for (or touches the pages of) a second copy of every vector.
        """
        n = labels.size
        if borrow and rows is None and vectors.ndim == 2 and vectors.dtype == np.float32:
            view = vectors[:n].view()
            view.flags.writeable = False
            self._vectors = view
            self._borrowed = True
            self._labels = np.array(labels, dtype=np.int64)
            self._rows = dict(zip(labels.tolist(), range(n), strict=True))
            self._count = n
            self._max_label = max(self._max_label, int(labels.max()) if n else -1)
            return
        self._borrowed = False
        capacity = max(_MIN_CAPACITY, n + n // 8)
        self._vectors = np.empty((capacity, self._dimension), dtype=np.float32)
        if rows is None:
            self._vectors[:n] = vectors
        elif vectors.ndim == 2:
            np.take(vectors, rows, axis=0, out=self._vectors[:n], mode="clip")
        else:
            records = self._vectors.view(vectors.dtype).reshape(capacity)
            # mode="clip" avoids the buffered copy np.take makes for out= in its default mode.
            np.take(vectors, rows, out=records[:n], mode="clip")
        self._labels = np.empty(capacity, dtype=np.int64)
        self._labels[:n] = labels
        self._rows = dict(zip(labels.tolist(), range(n), strict=True))
        self._count = n
        self._max_label = max(self._max_label, int(labels.max()) if n else -1)

    def _note_label_bound(self, label: int) -> None:
        """Widen the label bitmap to cover ``label`` (labels known to an outer graph)."""
        self._max_label = max(self._max_label, label)

    def _add_one(self, label: int, unit: Vectors) -> None:
        """Upsert one unit vector (the fast path of a one-row ``add``)."""
        if self._borrowed:
            self._own(self._count + 1)
        row = self._rows.get(label)
        if row is None:
            row = self._count
            if row == self._vectors.shape[0]:
                self._reserve(row + 1)
            self._labels[row] = label
            self._rows[label] = row
            self._count = row + 1
            if label > self._max_label:
                self._max_label = label
        self._vectors[row] = unit

    def _add_unit(self, labels: Labels, unit: Vectors) -> None:
        """Upsert unit vectors whose labels are already validated and unique."""
        n_in = labels.size
        if n_in == 0:
            return
        if self._borrowed:
            self._own(self._count + n_in)
        rows = self._rows
        label_list: list[int] = labels.tolist()
        if n_in == 1:
            row = rows.get(label_list[0])
            if row is not None:
                self._vectors[row] = unit[0]
                return
            existing_rows: list[int] = []
            new_positions: list[int] = [0]
        else:
            existing_positions: list[int] = []
            existing_rows = []
            new_positions = []
            for position, label in enumerate(label_list):
                row = rows.get(label)
                if row is None:
                    new_positions.append(position)
                else:
                    existing_positions.append(position)
                    existing_rows.append(row)
            if existing_rows:
                self._vectors[existing_rows] = unit[existing_positions]
        if not new_positions:
            return
        m = len(new_positions)
        self._reserve(self._count + m)
        start = self._count
        if m == n_in:
            new_labels, new_vectors = labels, unit
        else:
            new_labels, new_vectors = labels[new_positions], unit[new_positions]
        self._vectors[start : start + m] = new_vectors
        self._labels[start : start + m] = new_labels
        if m == 1:
            rows[int(new_labels[0])] = start
        else:
            rows.update(zip(new_labels.tolist(), range(start, start + m), strict=True))
        self._count = start + m
        self._max_label = max(self._max_label, int(new_labels.max()))

    def _own(self, needed: int) -> None:
        """Replace a borrowed view by an owned, writable copy with room for ``needed`` rows."""
        self._reserve(max(needed, self._count + self._count // 8, _MIN_CAPACITY), force=True)

    def _reserve(self, needed: int, *, force: bool = False) -> None:
        capacity = self._vectors.shape[0]
        if needed <= capacity and not force:
            return
        new_capacity = max(needed, capacity if force else 2 * capacity, _MIN_CAPACITY)
        vectors = np.empty((new_capacity, self._dimension), dtype=np.float32)
        vectors[: self._count] = self._vectors[: self._count]
        labels = np.empty(new_capacity, dtype=np.int64)
        labels[: self._count] = self._labels[: self._count]
        self._vectors, self._labels = vectors, labels
        self._borrowed = False

    def _remove_one(self, label: int) -> bool:
        """Remove one label by moving the last row into its place; False if absent."""
        row = self._rows.pop(label, None)
        if row is None:
            return False
        last = self._count - 1
        if row != last:
            if self._borrowed:
                self._own(self._count)
            moved = int(self._labels[last])
            self._vectors[row] = self._vectors[last]
            self._labels[row] = moved
            self._rows[moved] = row
        self._count = last
        return True

    def _rows_of(self, labels: Labels) -> list[int]:
        rows = self._rows
        try:
            return [rows[label] for label in labels.tolist()]
        except KeyError as error:
            raise KeyError(f"label {error.args[0]} is not in the index") from None

    def _select(self, allowed: Labels) -> Selection:
        """Return the rows (unique, any order) whose labels are in ``allowed``.

        With dense labels and a large ``allowed`` the match runs through a label bitmap
        (returned too, so a caller can reuse it as a filter); otherwise through the dict.
        """
        if allowed.size == 0 or self._count == 0:
            return Selection(np.empty(0, dtype=np.intp), None)
        n = self._count
        bound = self._max_label + 1
        if bound <= max(_DENSE_FLOOR, _DENSE_FACTOR * n) and allowed.size * _DICT_COST_RATIO >= n:
            mask = self._label_mask(allowed)
            return Selection(np.flatnonzero(mask[self._labels[:n]]), mask)
        found = {row for row in map(self._rows.get, allowed.tolist()) if row is not None}
        return Selection(np.fromiter(found, dtype=np.intp, count=len(found)), None)

    def _dense_labels(self) -> bool:
        """Whether a label bitmap (:meth:`_label_mask`) is small enough to build."""
        return self._max_label + 1 <= max(_DENSE_FLOOR, _DENSE_FACTOR * self._count)

    def _label_mask(self, allowed: Labels) -> npt.NDArray[np.bool_]:
        """A bool array indexed by label, True for allowed labels, covering every known label."""
        bound = self._max_label + 1
        mask = np.zeros(bound, dtype=np.bool_)
        mask[allowed[(allowed >= 0) & (allowed < bound)]] = True
        return mask

    def _search_all(self, query: Vectors, k: int) -> tuple[Labels, Similarities]:
        n = self._count
        if k == 0 or n == 0:
            return empty_result()
        return top_k(_dot_rows(self._vectors[:n], query), self._labels[:n], k)

    def _search_rows(self, query: Vectors, k: int, rows: Rows) -> tuple[Labels, Similarities]:
        if k == 0 or rows.size == 0:
            return empty_result()
        # Gather in label order, so the same candidates give the same matrix (and the same
        # float rounding) however rows happen to be stored, e.g. after a snapshot round trip.
        labels = self._labels[rows]
        order = np.argsort(labels)
        return top_k(_dot_rows(self._vectors[rows[order]], query), labels[order], k)


def _dot_rows(matrix: Vectors, query: Vectors) -> Similarities:
    """``matrix @ query``, single-threaded.

    numpy's einsum loop is used instead of BLAS: OpenBLAS's threaded matrix-vector product
    was 2x slower than one thread on an idle 2-core machine and 15-40x slower when other
    processes kept the cores busy, while the einsum loop stays near the one-thread speed.
    """
    scores: Similarities = np.einsum("ij,j->i", matrix, query)
    return scores
