"""Recall@10 of HnswIndex against ExactIndex on embedding-like data, per search strategy.

The data are 128-d unit vectors drawn around a random 32-d subspace (plus noise), which,
like sentence embeddings, have a much lower intrinsic dimension than their length.
(Uniform random high-dimensional vectors are a worst case no HNSW index does well on.)
The graph is built single-threaded, so it, and every figure here, is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from memorylink.index import ExactIndex, HnswIndex

N = 12_000
DIM = 128
LATENT = 32
K = 10
MIN_RECALL = 0.98


def sample(rng: np.random.Generator, basis: np.ndarray, count: int) -> np.ndarray:
    latent = rng.standard_normal((count, basis.shape[0]))
    x = latent @ basis + 0.5 * rng.standard_normal((count, basis.shape[1]))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    basis = rng.standard_normal((LATENT, DIM))
    return sample(rng, basis, N), sample(rng, basis, 200)


@pytest.fixture(scope="module")
def built(data: tuple[np.ndarray, np.ndarray]) -> tuple[HnswIndex, ExactIndex]:
    vectors, _ = data
    hnsw = HnswIndex(DIM, num_threads=1)
    hnsw.add(np.arange(N), vectors)
    exact = ExactIndex(DIM)
    exact.add(np.arange(N), vectors)
    return hnsw, exact


@pytest.fixture
def hnsw(built: tuple[HnswIndex, ExactIndex]) -> HnswIndex:
    return built[0]


@pytest.fixture
def exact(built: tuple[HnswIndex, ExactIndex]) -> ExactIndex:
    return built[1]


@pytest.fixture
def queries(data: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return data[1]


AllowedFor = Callable[[np.ndarray], np.ndarray | None]


def recall(
    index: HnswIndex, oracle: ExactIndex, queries: np.ndarray, allowed_for: AllowedFor
) -> tuple[float, set[str | None]]:
    """Mean recall@K over the queries, and the set of strategies the index used."""
    found = expected = 0
    strategies: set[str | None] = set()
    for query in queries:
        allowed = allowed_for(query)
        got, _ = index.search(query, K, allowed=allowed)
        strategies.add(index.last_strategy)
        truth, _ = oracle.search(query, K, allowed=allowed)
        found += len(set(got.tolist()) & set(truth.tolist()))
        expected += len(truth)
    return found / expected, strategies


def random_subset(fraction: float, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).choice(N, max(1, int(N * fraction)), replace=False)


def graph_only(index: HnswIndex) -> HnswIndex:
    """The same graph with exact search switched off, so every filter goes through hnswlib."""
    return HnswIndex.from_bytes(index.to_bytes(), exact_search_max_candidates=0, exact_search_max_fraction=0.0)


def test_unfiltered_recall(hnsw: HnswIndex, exact: ExactIndex, queries: np.ndarray) -> None:
    value, strategies = recall(hnsw, exact, queries, lambda _: None)
    assert strategies == {"hnsw"}
    assert value >= MIN_RECALL


@pytest.mark.parametrize(
    ("fraction", "strategy"),
    [(0.5, "filtered_hnsw"), (0.1, "exact"), (0.01, "exact"), (0.001, "exact")],
)
def test_filtered_recall_with_default_thresholds(
    hnsw: HnswIndex, exact: ExactIndex, queries: np.ndarray, fraction: float, strategy: str
) -> None:
    allowed = random_subset(fraction)
    value, strategies = recall(hnsw, exact, queries, lambda _: allowed)
    assert strategies == {strategy}
    assert value >= MIN_RECALL
    if strategy == "exact":
        assert value == 1.0


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.01, 0.001])
def test_filtered_recall_through_the_graph(
    hnsw: HnswIndex, exact: ExactIndex, queries: np.ndarray, fraction: float
) -> None:
    allowed = random_subset(fraction)
    value, strategies = recall(graph_only(hnsw), exact, queries, lambda _: allowed)
    assert strategies == {"filtered_hnsw"}
    assert value >= MIN_RECALL


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.02])
def test_filters_that_exclude_the_neighbourhood(
    hnsw: HnswIndex,
    exact: ExactIndex,
    queries: np.ndarray,
    data: tuple[np.ndarray, np.ndarray],
    fraction: float,
) -> None:
    # Allow only the points least similar to the query: the search must leave its region.
    vectors, _ = data

    def farthest(query: np.ndarray) -> np.ndarray:
        return np.argsort(vectors @ query)[: int(N * fraction)]

    value, strategies = recall(graph_only(hnsw), exact, queries[:50], farthest)
    assert strategies == {"filtered_hnsw"}
    assert value >= MIN_RECALL


def test_recall_after_deletes_updates_and_a_snapshot(
    hnsw: HnswIndex, exact: ExactIndex, queries: np.ndarray, data: tuple[np.ndarray, np.ndarray]
) -> None:
    vectors, _ = data
    index = HnswIndex.from_bytes(hnsw.to_bytes(), num_threads=1)
    oracle = ExactIndex.from_bytes(exact.to_bytes())
    rng = np.random.default_rng(11)
    gone = rng.choice(N, N // 3, replace=False)
    index.remove(gone)
    oracle.remove(gone)
    # New labels (they take the deleted slots) and moved vectors for some live labels.
    fresh = sample(rng, rng.standard_normal((LATENT, DIM)), 1000)
    new_labels = np.arange(N, N + 1000)
    moved = rng.choice(np.setdiff1d(np.arange(N), gone), 500, replace=False)
    moved_vectors = np.roll(vectors[moved], 1, axis=0)
    for target in (index, oracle):
        target.add(new_labels, fresh)
        target.add(moved, moved_vectors)
    assert index.capacity == hnsw.capacity  # deleted slots were reused, no growth
    restored = HnswIndex.from_bytes(index.to_bytes())
    for candidate in (index, restored):
        value, strategies = recall(candidate, oracle, queries, lambda _: None)
        assert strategies == {"hnsw"}
        assert value >= MIN_RECALL
        value, _ = recall(candidate, oracle, queries, lambda _: new_labels)
        assert value == 1.0
