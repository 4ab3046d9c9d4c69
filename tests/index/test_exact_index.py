"""ExactIndex specifics: the snapshot format, filter matching paths and tie order."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from memorylink.errors import StoreCorruptedError, ValidationError
from memorylink.index import ExactIndex

DIM = 6


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_snapshot_format() -> None:
    index = ExactIndex(DIM)
    data = vectors(3)
    index.add(np.array([7, 8, 9]), data)
    index.remove([8])
    raw = index.to_bytes()
    magic, version, dim, count = struct.unpack_from("<8sIIQ", raw)
    assert (magic, version, dim, count) == (b"MLKEXACT", 1, DIM, 2)
    assert len(raw) == 24 + 2 * 8 + 2 * DIM * 4
    labels = np.frombuffer(raw, dtype="<i8", count=2, offset=24)
    stored = np.frombuffer(raw, dtype="<f4", offset=24 + 16).reshape(2, DIM)
    assert sorted(labels.tolist()) == [7, 9]
    for label, row in zip(labels.tolist(), stored, strict=True):
        np.testing.assert_allclose(row, index.get_vectors(np.array([label]))[0])


def test_snapshot_keeps_row_order_and_capacity_grows_after() -> None:
    index = ExactIndex(DIM)
    index.add(np.arange(40), vectors(40))
    index.remove(range(0, 40, 3))
    restored = ExactIndex.from_bytes(index.to_bytes())
    np.testing.assert_array_equal(restored._labels[: len(restored)], index._labels[: len(index)])
    restored.add(np.arange(100, 200), vectors(100, seed=1))
    assert len(restored) == len(index) + 100


def test_from_bytes_checks_the_dimension() -> None:
    raw = ExactIndex(DIM).to_bytes()
    assert ExactIndex.from_bytes(raw, dimension=DIM).dimension == DIM
    with pytest.raises(ValidationError):
        ExactIndex.from_bytes(raw, dimension=DIM + 1)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:10],
        lambda d: b"XXXXXXXX" + d[8:],
        lambda d: d[:8] + struct.pack("<I", 2) + d[12:],
        lambda d: d[:-4],
        lambda d: d + b"\x00",
        lambda d: d[:24] + struct.pack("<q", -5) + d[32:],
        lambda d: d[:32] + d[24:32] + d[40:],  # duplicate label
    ],
    ids=["short", "magic", "version", "truncated", "trailing", "negative-label", "duplicate-label"],
)
def test_damaged_snapshots_are_rejected(damage: object) -> None:
    index = ExactIndex(DIM)
    index.add(np.array([1, 2]), vectors(2))
    raw = index.to_bytes()
    with pytest.raises(StoreCorruptedError):
        ExactIndex.from_bytes(damage(raw))  # type: ignore[operator]


def test_dense_and_dict_filter_paths_agree() -> None:
    dense = ExactIndex(DIM)
    data = vectors(500, seed=2)
    dense.add(np.arange(500), data)
    assert dense._dense_labels()
    allowed = np.random.default_rng(3).choice(700, 300)
    via_mask = dense._select(allowed)  # large filter: bitmap
    assert via_mask.mask is not None
    via_dict = dense._select(allowed[:10])  # small filter: dict lookups
    assert via_dict.mask is None
    expected = {row for row, label in enumerate(dense._labels[:500].tolist()) if label in set(allowed.tolist())}
    assert set(via_mask.rows.tolist()) == expected
    assert len(via_mask.rows) == len(expected)
    expected_small = {dense._rows[label] for label in allowed[:10].tolist() if label < 500}
    assert set(via_dict.rows.tolist()) == expected_small


def test_sparse_labels_use_the_dict() -> None:
    index = ExactIndex(DIM)
    labels = np.array([2**62, 2**61, 5])
    index.add(labels, vectors(3))
    assert not index._dense_labels()
    selection = index._select(np.array([5, 2**62, 2**62, 7]))
    assert selection.mask is None
    assert sorted(index._labels[selection.rows].tolist()) == [5, 2**62]


def test_negative_allowed_labels_match_nothing() -> None:
    index = ExactIndex(DIM)
    index.add(np.arange(10), vectors(10))
    labels, _ = index.search(vectors(1)[0], 5, allowed=np.array([-1, -5, 3]))
    assert labels.tolist() == [3]


def test_equal_scores_are_ordered_by_label() -> None:
    index = ExactIndex(DIM)
    same = np.ones((6, DIM), dtype=np.float32)
    index.add(np.array([50, 10, 40, 20, 60, 30]), same)
    assert index.search(np.ones(DIM), 3)[0].tolist() == [10, 20, 30]
    assert index.search(np.ones(DIM), 10)[0].tolist() == [10, 20, 30, 40, 50, 60]


def test_labels_must_be_int64_representable() -> None:
    index = ExactIndex(DIM)
    with pytest.raises(ValidationError):
        index.add(np.array([2**63], dtype=np.uint64), vectors(1))
    index.add(np.array([2**63 - 1], dtype=np.uint64), vectors(1))
    assert index.labels().tolist() == [2**63 - 1]


def test_empty_add_is_a_no_op() -> None:
    index = ExactIndex(DIM)
    index.add(np.array([], dtype=np.int64), np.zeros((0, DIM), dtype=np.float32))
    index.add(np.array([]), np.zeros((0, DIM)))
    assert len(index) == 0
