"""Random add/remove/search/snapshot sequences on HnswIndex and ExactIndex in lockstep.

A plain dict of unit vectors is the model. After every step both indexes hold exactly
the model's labels, and every search answer is checked against brute force over the
model:

* returned labels are live, allowed, unique, and there are ``min(k, candidates)`` of them;
* each returned similarity is the label's true cosine similarity, in descending order;
* the returned similarities equal the true top-k similarities.

The last check is made on similarity values rather than labels because equal vectors
(the strategy draws many on purpose) tie, and ties may be returned in any order. It is
made exactly (up to float rounding) for HnswIndex too, not as a recall bound: these
indexes stay below ``ef_search`` (96) elements, and an HNSW search whose beam is wider
than the graph visits every node reachable from the entry point, with deleted nodes
still used for routing. So any miss here would be a real bug (a lost or unreachable
node, a deleted label leaking, a wrong upsert), not approximation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from memorylink.index import ExactIndex, HnswIndex

DIM = 8
MAX_LABEL = 45
TOLERANCE = 1e-5

# A few fixed vectors (a zero vector, a vector and its multiple, ...) make ties likely.
_POOL = np.random.default_rng(0).standard_normal((6, DIM))
_POOL[0] = 0.0
_POOL[2] = 3.0 * _POOL[1]


def vector(seed: int) -> np.ndarray:
    if seed < len(_POOL):
        return _POOL[seed].astype(np.float32)
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


def unit(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float64)
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


labels_st = st.integers(0, MAX_LABEL)
seeds_st = st.integers(0, 60)
allowed_st = st.none() | st.lists(st.integers(0, MAX_LABEL + 10), max_size=30)


class LockstepMachine(RuleBasedStateMachine):
    """ExactIndex and HnswIndex against a dict model."""

    hnsw_options: dict[str, Any] = {}  # noqa: RUF012 - overridden per subclass

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[int, np.ndarray] = {}
        self.exact = ExactIndex(DIM)
        self.hnsw = HnswIndex(DIM, initial_capacity=16, **self.hnsw_options)

    @rule(items=st.lists(st.tuples(labels_st, seeds_st), min_size=1, max_size=8))
    def add(self, items: list[tuple[int, int]]) -> None:
        labels = np.array([label for label, _ in items], dtype=np.int64)
        vectors = np.stack([vector(seed) for _, seed in items])
        for index in (self.exact, self.hnsw):
            index.add(labels, vectors)
        for label, seed in items:
            self.model[label] = unit(vector(seed))

    @rule(label=labels_st, seed=seeds_st)
    def add_one(self, label: int, seed: int) -> None:
        for index in (self.exact, self.hnsw):
            index.add(np.array([label]), vector(seed))
        self.model[label] = unit(vector(seed))

    @rule(labels=st.lists(st.integers(0, MAX_LABEL + 5), max_size=8))
    def remove(self, labels: list[int]) -> None:
        for index in (self.exact, self.hnsw):
            index.remove(labels)
        for label in labels:
            self.model.pop(label, None)

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def remove_live(self, data: st.DataObject) -> None:
        label = data.draw(st.sampled_from(sorted(self.model)))
        self.remove([label])

    @rule()
    def snapshot_round_trip(self) -> None:
        self.exact = ExactIndex.from_bytes(self.exact.to_bytes())
        self.hnsw = HnswIndex.from_bytes(bytearray(self.hnsw.to_bytes()))

    @rule(seed=seeds_st, k=st.integers(0, 12), allowed=allowed_st)
    def search(self, seed: int, k: int, allowed: list[int] | None) -> None:
        query = vector(seed)
        allowed_array = None if allowed is None else np.array(allowed, dtype=np.int64)
        for index in (self.exact, self.hnsw):
            labels, sims = index.search(query, k, allowed=allowed_array)
            self.check_answer(labels, sims, unit(query), k, allowed)

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data(), k=st.integers(1, 12))
    def search_by_stored_vector(self, data: st.DataObject, k: int) -> None:
        label = data.draw(st.sampled_from(sorted(self.model)))
        for index in (self.exact, self.hnsw):
            query = index.get_vectors(np.array([label]))[0]
            np.testing.assert_allclose(query, self.model[label], atol=TOLERANCE)
            labels, sims = index.search(query, k)
            self.check_answer(labels, sims, self.model[label], k, None)

    def check_answer(
        self, labels: np.ndarray, sims: np.ndarray, query: np.ndarray, k: int, allowed: list[int] | None
    ) -> None:
        candidates = set(self.model) if allowed is None else set(self.model) & set(allowed)
        got = labels.tolist()
        assert len(got) == min(k, len(candidates))
        assert len(set(got)) == len(got)
        assert set(got) <= candidates
        true_sims = {label: float(self.model[label] @ query) for label in candidates}
        np.testing.assert_allclose(sims, [true_sims[label] for label in got], atol=TOLERANCE)
        assert np.all(np.diff(sims) <= TOLERANCE)
        best = sorted(true_sims.values(), reverse=True)[: len(got)]
        np.testing.assert_allclose(sims, best, atol=TOLERANCE)

    @invariant()
    def same_live_labels(self) -> None:
        expected = sorted(self.model)
        for index in (self.exact, self.hnsw):
            assert index.labels().tolist() == expected
            assert len(index) == len(expected)
            assert all(label in index for label in expected)
            assert not any(label in index for label in range(MAX_LABEL + 6) if label not in self.model)


class GraphFilterMachine(LockstepMachine):
    """The same, with HnswIndex's exact strategy off: every filter goes through the graph."""

    hnsw_options: dict[str, Any] = {  # noqa: RUF012
        "exact_search_max_candidates": 0,
        "exact_search_max_fraction": 0.0,
    }


_SETTINGS = settings(
    max_examples=120,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TestLockstep = LockstepMachine.TestCase
TestLockstep.settings = _SETTINGS
TestGraphFilterLockstep = GraphFilterMachine.TestCase
TestGraphFilterLockstep.settings = _SETTINGS
