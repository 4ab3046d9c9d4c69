"""The documented scoring formulas, on hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memorylink._ranking import rank
from memorylink.config import SearchSettings
from memorylink.models import SortBy

DAY_MS = 86_400_000
NOW_MS = 1_800_000_000_000


def label(age_days: float, counter: int = 0) -> int:
    return (int(NOW_MS - age_days * DAY_MS) << 20) | counter


def test_relevance_blends_similarity_and_recency() -> None:
    settings = SearchSettings(recency_weight=0.2, recency_half_life_days=10)
    labels = np.array([label(0), label(10), label(20)], dtype=np.int64)
    sims = np.array([0.5, 0.9, -0.3], dtype=np.float32)
    ranked = rank(labels, sims, None, "relevance", None, settings, now_ms=NOW_MS)
    expected = {
        int(labels[0]): 0.8 * 0.5 + 0.2 * 1.0,
        int(labels[1]): 0.8 * 0.9 + 0.2 * 0.5,
        int(labels[2]): 0.8 * 0.0 + 0.2 * 0.25,
    }
    assert [entry[1] for entry in ranked] == [int(labels[1]), int(labels[0]), int(labels[2])]
    for score, memory_label, similarity in ranked:
        assert score == pytest.approx(expected[memory_label], abs=1e-6)
        assert 0.0 <= similarity <= 1.0


def test_similarity_date_threshold_and_exclude() -> None:
    settings = SearchSettings()
    labels = np.array([label(5), label(1), label(3)], dtype=np.int64)
    sims = np.array([0.9, 0.2, 0.6], dtype=np.float32)
    by_similarity = rank(labels, sims, None, "similarity", None, settings)
    assert [e[1] for e in by_similarity] == [int(labels[0]), int(labels[2]), int(labels[1])]
    by_date = rank(labels, sims, None, "date", None, settings)
    assert [e[1] for e in by_date] == [int(labels[1]), int(labels[2]), int(labels[0])]
    filtered = rank(labels, sims, 0.5, "similarity", int(labels[0]), settings)
    assert [e[1] for e in filtered] == [int(labels[2])]


def test_ties_go_to_the_newer_memory() -> None:
    labels = np.array([label(3), label(1)], dtype=np.int64)
    ranked = rank(labels, np.array([0.7, 0.7], dtype=np.float32), None, "similarity", None, SearchSettings())
    assert ranked[0][1] == int(labels[1])


@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.floats(-1.0, 1.0, width=32)),
        max_size=60,
        unique_by=lambda pair: pair[0],
    ),
    st.sampled_from(["relevance", "similarity", "date"]),
    st.none() | st.floats(0.0, 1.0),
)
def test_rank_keeps_what_passes_and_orders_best_first(
    pairs: list[tuple[int, float]], sort_by: SortBy, threshold: float | None
) -> None:
    labels = np.array([label(age / 100.0, counter) for counter, (age, _) in enumerate(pairs)], dtype=np.int64)
    sims = np.array([sim for _, sim in pairs], dtype=np.float32)
    ranked = rank(labels, sims, threshold, sort_by, None, SearchSettings(), now_ms=NOW_MS)
    kept = {
        int(memory_label)
        for memory_label, sim in zip(labels, sims, strict=True)
        if threshold is None or max(0.0, float(sim)) >= threshold
    }
    assert {entry[1] for entry in ranked} == kept
    assert all(0.0 <= entry[2] <= 1.0 for entry in ranked)
    keys = [(entry[0], entry[1]) for entry in ranked]
    assert keys == sorted(keys, reverse=True)
