"""The VectorIndex contract, run over every implementation (ExactIndex and HnswIndex)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from memorylink.errors import ValidationError
from memorylink.index import ExactIndex, HnswIndex, VectorIndex

DIM = 16

Factory = Callable[..., Any]


def _exact(dimension: int = DIM, **_: Any) -> ExactIndex:
    return ExactIndex(dimension)


def _hnsw(dimension: int = DIM, **kwargs: Any) -> HnswIndex:
    kwargs.setdefault("initial_capacity", 16)
    return HnswIndex(dimension, **kwargs)


def _hnsw_graph_only(dimension: int = DIM, **kwargs: Any) -> HnswIndex:
    """HNSW with the exact strategy switched off, so filtered searches go through the graph."""
    kwargs.setdefault("initial_capacity", 16)
    return HnswIndex(dimension, exact_search_max_candidates=0, exact_search_max_fraction=0.0, **kwargs)


@pytest.fixture(params=[_exact, _hnsw, _hnsw_graph_only], ids=["exact", "hnsw", "hnsw-graph-filter"])
def make(request: pytest.FixtureRequest) -> Factory:
    factory: Factory = request.param
    return factory


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def random_vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def labels_of(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def brute_force(vectors: dict[int, np.ndarray], query: np.ndarray, k: int) -> list[int]:
    q = query / np.linalg.norm(query)
    scored = sorted(vectors, key=lambda label: (-float(unit(vectors[label]) @ q), label))
    return scored[:k]


def roundtrip(index: Any) -> Any:
    return type(index).from_bytes(index.to_bytes())


def test_implements_the_protocol(make: Factory) -> None:
    index = make()
    assert isinstance(index, VectorIndex)
    assert index.dimension == DIM


def test_add_and_search_basics(make: Factory) -> None:
    index = make()
    vectors = np.eye(DIM, dtype=np.float32)[:3] * 5  # not unit length on purpose
    index.add(labels_of(10, 20, 30), vectors)
    labels, sims = index.search(vectors[1], 3)
    assert labels.tolist()[0] == 20
    assert labels.dtype == np.int64
    assert sims.dtype == np.float32
    assert sims[0] == pytest.approx(1.0, abs=1e-6)
    assert sims[1:] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert sorted(labels.tolist()) == [10, 20, 30]


def test_results_are_sorted_and_bounded(make: Factory) -> None:
    index = make()
    data = random_vectors(200, seed=1)
    index.add(np.arange(200), data)
    for query in random_vectors(20, seed=2):
        labels, sims = index.search(query, 15)
        assert len(labels) == 15 == len(set(labels.tolist()))
        assert np.all(np.diff(sims) <= 1e-6)
        assert np.all(sims <= 1.0)
        assert np.all(sims >= -1.0)
        expected = unit(data[labels]) @ unit(query)
        np.testing.assert_allclose(sims, expected, atol=1e-5)


def test_search_finds_the_nearest(make: Factory) -> None:
    index = make()
    data = random_vectors(300, seed=3)
    index.add(np.arange(300), data)
    by_label = dict(enumerate(data))
    for query in random_vectors(10, seed=4):
        labels, _ = index.search(query, 5)
        assert labels.tolist() == brute_force(by_label, query, 5)


def test_query_shape_and_scale(make: Factory) -> None:
    index = make()
    data = random_vectors(20, seed=5)
    index.add(np.arange(20), data)
    a = index.search(data[3], 5)
    b = index.search(data[3][None, :] * 7.5, 5)
    assert a[0].tolist() == b[0].tolist()
    np.testing.assert_allclose(a[1], b[1], atol=1e-6)


def test_upsert_replaces_the_vector(make: Factory) -> None:
    index = make()
    data = random_vectors(30, seed=6)
    index.add(np.arange(30), data)
    replacement = random_vectors(1, seed=99)[0]
    index.add(labels_of(7), replacement)
    assert len(index) == 30
    np.testing.assert_allclose(index.get_vectors(labels_of(7))[0], unit(replacement), atol=1e-6)
    labels, sims = index.search(replacement, 1)
    assert labels.tolist() == [7]
    assert sims[0] == pytest.approx(1.0, abs=1e-6)
    labels, _ = index.search(data[7], 30)
    position = labels.tolist().index(7)
    assert position > 0 or np.allclose(unit(data[7]), unit(replacement))


def test_batch_upsert_mixes_new_and_existing(make: Factory) -> None:
    index = make()
    data = random_vectors(40, seed=7)
    index.add(np.arange(20), data[:20])
    index.add(np.arange(10, 40), data[10:40][::-1].copy())  # 10..19 replaced, 20..39 new
    assert len(index) == 40
    np.testing.assert_allclose(index.get_vectors(labels_of(10))[0], unit(data[39]), atol=1e-6)
    np.testing.assert_allclose(index.get_vectors(labels_of(39))[0], unit(data[10]), atol=1e-6)


def test_duplicate_labels_in_one_add_last_wins(make: Factory) -> None:
    index = make()
    data = random_vectors(4, seed=8)
    index.add(labels_of(1, 2, 1, 1), data)
    assert len(index) == 2
    assert index.labels().tolist() == [1, 2]
    np.testing.assert_allclose(index.get_vectors(labels_of(1))[0], unit(data[3]), atol=1e-6)
    labels, _ = index.search(data[3], 2)
    assert labels.tolist()[0] == 1


def test_remove_then_search_never_returns_it(make: Factory) -> None:
    index = make()
    data = random_vectors(100, seed=9)
    index.add(np.arange(100), data)
    removed = list(range(0, 100, 3))
    index.remove(removed)
    assert len(index) == 100 - len(removed)
    for query in [*data[removed[:10]], *random_vectors(10, seed=10)]:
        labels, _ = index.search(query, 100)
        assert not set(labels.tolist()) & set(removed)
        assert len(labels) == len(index)
        labels, _ = index.search(query, 10, allowed=np.array([*removed[:5], 1, 2]))
        assert set(labels.tolist()) == {1, 2}


def test_remove_unknown_and_repeated_labels_are_ignored(make: Factory) -> None:
    index = make()
    index.add(np.arange(5), random_vectors(5, seed=11))
    index.remove([])
    index.remove([42, 4, 4, 4])
    index.remove(np.array([4, 43]))
    index.remove(x for x in [3])
    assert index.labels().tolist() == [0, 1, 2]


def test_re_add_after_remove_uses_the_new_vector(make: Factory) -> None:
    index = make()
    data = random_vectors(50, seed=12)
    index.add(np.arange(50), data)
    index.remove([5, 6])
    fresh = random_vectors(2, seed=13)
    index.add(labels_of(5), fresh[0])  # one-row path
    index.add(labels_of(6, 70), np.stack([fresh[1], data[0]]))  # batch path
    assert len(index) == 51
    assert 5 in index
    assert 6 in index
    assert 70 in index
    for label, vector in [(5, fresh[0]), (6, fresh[1])]:
        np.testing.assert_allclose(index.get_vectors(labels_of(label))[0], unit(vector), atol=1e-6)
        labels, sims = index.search(vector, 1)
        assert labels.tolist() == [label]
        assert sims[0] == pytest.approx(1.0, abs=1e-6)


def test_allowed_filter(make: Factory) -> None:
    index = make()
    data = random_vectors(120, seed=14)
    index.add(np.arange(120), data)
    allowed = np.array([3, 17, 17, 64, 99, 1000, 5000])  # duplicates and unknown labels
    for query in random_vectors(10, seed=15):
        labels, sims = index.search(query, 10, allowed=allowed)
        assert sorted(labels.tolist()) == [3, 17, 64, 99]
        assert np.all(np.diff(sims) <= 1e-6)
        labels, _ = index.search(query, 2, allowed=allowed)
        assert labels.tolist() == brute_force({i: data[i] for i in (3, 17, 64, 99)}, query, 2)


def test_allowed_accepts_lists_and_large_filters(make: Factory) -> None:
    index = make()
    data = random_vectors(200, seed=16)
    index.add(np.arange(200), data)
    keep = list(range(0, 200, 2))
    labels, _ = index.search(data[4], 20, allowed=keep)  # type: ignore[arg-type]
    assert set(labels.tolist()) <= set(keep)
    assert len(labels) == 20
    assert labels.tolist()[0] == 4


def test_empty_allowed_gives_empty_result(make: Factory) -> None:
    index = make()
    index.add(np.arange(10), random_vectors(10, seed=17))
    labels, sims = index.search(random_vectors(1, seed=18)[0], 5, allowed=np.array([], dtype=np.int64))
    assert labels.size == 0
    assert sims.size == 0
    labels, _ = index.search(random_vectors(1, seed=18)[0], 5, allowed=np.array([500, 600]))
    assert labels.size == 0


def test_k_larger_than_len_and_zero(make: Factory) -> None:
    index = make()
    index.add(np.arange(7), random_vectors(7, seed=19))
    query = random_vectors(1, seed=20)[0]
    labels, _ = index.search(query, 100)
    assert sorted(labels.tolist()) == list(range(7))
    labels, _ = index.search(query, 100, allowed=np.array([1, 2, 3]))
    assert sorted(labels.tolist()) == [1, 2, 3]
    assert index.search(query, 0)[0].size == 0
    with pytest.raises(ValidationError):
        index.search(query, -1)


def test_empty_index(make: Factory) -> None:
    index = make()
    query = random_vectors(1, seed=21)[0]
    assert len(index) == 0
    assert index.labels().size == 0
    assert index.search(query, 5)[0].size == 0
    assert index.search(query, 5, allowed=np.array([1]))[0].size == 0
    restored = roundtrip(index)
    assert len(restored) == 0
    restored.add(labels_of(1), query)
    assert restored.search(query, 1)[0].tolist() == [1]


def test_everything_removed(make: Factory) -> None:
    index = make()
    index.add(np.arange(20), random_vectors(20, seed=22))
    index.remove(range(20))
    query = random_vectors(1, seed=23)[0]
    assert index.search(query, 5)[0].size == 0
    assert roundtrip(index).search(query, 5)[0].size == 0


def test_get_vectors(make: Factory) -> None:
    index = make()
    data = random_vectors(10, seed=24)
    index.add(np.arange(10), data)
    got = index.get_vectors(labels_of(9, 0, 4))
    assert got.dtype == np.float32
    assert got.shape == (3, DIM)
    np.testing.assert_allclose(got, unit(data[[9, 0, 4]]), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    with pytest.raises(KeyError):
        index.get_vectors(labels_of(1, 77))
    assert index.get_vectors(np.array([], dtype=np.int64)).shape[0] == 0


def test_zero_vector_scores_zero(make: Factory) -> None:
    index = make()
    index.add(labels_of(1, 2), np.stack([np.zeros(DIM), np.ones(DIM)]).astype(np.float32))
    labels, sims = index.search(np.ones(DIM), 2)
    assert labels.tolist() == [2, 1]
    assert sims.tolist() == pytest.approx([1.0, 0.0], abs=1e-6)


def test_labels_len_contains_are_exact(make: Factory) -> None:
    index = make()
    index.add(np.arange(0, 60, 2), random_vectors(30, seed=25))
    index.remove([0, 2, 4, 1000])
    index.add(labels_of(4, 7), random_vectors(2, seed=26))
    expected = sorted({*range(6, 60, 2), 4, 7})
    assert index.labels().tolist() == expected
    assert index.labels().dtype == np.int64
    assert len(index) == len(expected)
    assert 4 in index
    assert np.int64(7) in index
    assert 0 not in index
    assert 2 not in index
    assert "4" not in index
    assert None not in index
    assert 4.5 not in index


@pytest.mark.parametrize(
    ("labels", "vectors"),
    [
        (np.array([1, 2]), np.zeros((3, DIM))),
        (np.array([1]), np.zeros((1, DIM + 1))),
        (np.array([-1]), np.zeros((1, DIM))),
        (np.array([1.5]), np.zeros((1, DIM))),
        (np.array([[1, 2]]), np.zeros((2, DIM))),
        (np.array([1]), np.full((1, DIM), np.nan)),
        (np.array([1, 2]), np.array([[np.inf] * DIM, [0.0] * DIM])),
        (np.array([1]), np.array([["a"] * DIM])),
    ],
)
def test_bad_input_is_rejected_and_changes_nothing(make: Factory, labels: Any, vectors: Any) -> None:
    index = make()
    index.add(labels_of(1), np.ones(DIM))
    with pytest.raises(ValidationError):
        index.add(labels, vectors)
    assert index.labels().tolist() == [1]
    np.testing.assert_allclose(index.get_vectors(labels_of(1))[0], unit(np.ones(DIM)), atol=1e-6)


def test_large_finite_values_are_fine(make: Factory) -> None:
    index = make()
    index.add(labels_of(1, 2), np.array([[1e30] * DIM, [-1e30] * DIM]))
    index.add(labels_of(3), np.array([1e300] * DIM))
    labels, sims = index.search(np.array([1e25] * DIM), 3)
    assert labels.tolist()[0] in (1, 3)
    assert sims[0] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("query", [np.zeros(DIM + 1), np.zeros((2, DIM)), np.full(DIM, np.nan)])
def test_bad_query_is_rejected(make: Factory, query: Any) -> None:
    index = make()
    index.add(labels_of(1), np.ones(DIM))
    with pytest.raises(ValidationError):
        index.search(query, 1)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview], ids=["bytes", "bytearray", "memoryview"])
def test_snapshot_round_trip(make: Factory, wrap: Callable[[bytes], Any]) -> None:
    index = make()
    data = random_vectors(400, seed=27)
    index.add(np.arange(400), data)
    index.remove(range(0, 400, 5))
    index.add(labels_of(0, 1000), random_vectors(2, seed=28))  # a revived label and a new one
    restored = type(index).from_bytes(wrap(index.to_bytes()))

    assert restored.labels().tolist() == index.labels().tolist()
    assert len(restored) == len(index)
    assert 5 not in restored
    assert 0 in restored
    np.testing.assert_array_equal(restored.get_vectors(index.labels()), index.get_vectors(index.labels()))
    allowed_sets = [None, np.arange(0, 400, 7), np.array([5, 10, 15, 1000, 3])]
    for query in random_vectors(25, seed=29):
        for allowed in allowed_sets:
            a_labels, a_sims = index.search(query, 10, allowed=allowed)
            b_labels, b_sims = restored.search(query, 10, allowed=allowed)
            assert a_labels.tolist() == b_labels.tolist()
            np.testing.assert_array_equal(a_sims, b_sims)
            assert not set(b_labels.tolist()) & set(range(5, 400, 5))


def test_restored_index_keeps_working(make: Factory) -> None:
    index = make()
    index.add(np.arange(20), random_vectors(20, seed=30))
    index.remove([3, 4])
    restored = roundtrip(index)
    more = random_vectors(100, seed=31)
    restored.add(np.arange(100, 200), more)  # grows past the old capacity
    restored.add(labels_of(3), more[0])  # revives a deleted label
    restored.remove([5, 150])
    assert len(restored) == 20 - 2 + 100 + 1 - 2
    labels, _ = restored.search(more[0], 2)
    assert set(labels.tolist()) == {3, 100}
    assert roundtrip(restored).labels().tolist() == restored.labels().tolist()


def test_growth_past_initial_capacity(make: Factory) -> None:
    index = make()
    data = random_vectors(300, seed=32)
    for label in range(40):  # one at a time
        index.add(labels_of(label), data[label])
    index.add(np.arange(40, 300), data[40:])  # then a batch
    assert len(index) == 300
    if isinstance(index, HnswIndex):
        assert index.capacity >= 300
    by_label = dict(enumerate(data))
    for query in data[::37]:
        assert index.search(query, 5)[0].tolist() == brute_force(by_label, query, 5)


def test_ties_are_ordered_by_label(make: Factory) -> None:
    index = make()
    same = np.ones((4, DIM), dtype=np.float32)
    index.add(labels_of(9, 3, 7, 5), same)
    labels, _ = index.search(np.ones(DIM), 4, allowed=np.array([3, 5, 7, 9]))
    # The exact paths order ties by label; hnswlib's graph search makes no such promise.
    if not isinstance(index, HnswIndex) or index.last_strategy == "exact":
        assert labels.tolist() == [3, 5, 7, 9]
    assert sorted(labels.tolist()) == [3, 5, 7, 9]
    if isinstance(index, ExactIndex):
        assert index.search(np.ones(DIM), 2)[0].tolist() == [3, 5]
