"""search_by_vector: the same answers as search for the query's own vector, and clear errors."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

from memorylink import MemoryStore, ValidationError


def test_it_answers_as_search_does(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store()
    for n in range(20):
        store.add(f"note {n} about {'tomatoes' if n % 2 else 'roses'} in the garden", user_id=f"u{n % 3}")
    query = "tomatoes garden"
    vector = store.embedder.embed([query])[0]
    for kwargs in ({}, {"user_id": "u1"}, {"sort_by": "similarity", "top_k": 3}, {"filter": {"user_id": "u2"}}):
        by_text = store.search(query, mode="vector", **kwargs)  # type: ignore[arg-type]
        by_vector = store.search_by_vector(vector * 3.0, **kwargs)  # type: ignore[arg-type]
        assert [h.memory.id for h in by_vector.hits] == [h.memory.id for h in by_text.hits]
        assert by_vector.total == by_text.total and by_vector.query == ""
    listed = store.search_by_vector(list(map(float, vector)), top_k=1)
    assert len(listed.hits) == 1


@pytest.mark.parametrize("scale", [1e20, 1e30, 1e-30])
def test_a_vector_of_any_finite_scale_ranks_as_its_direction(
    open_store: Callable[..., MemoryStore], scale: float
) -> None:
    store = open_store()
    for n in range(12):
        store.add(f"note {n} about {'tomatoes' if n % 2 else 'roses'}")
    vector = store.embedder.embed(["tomatoes"])[0].astype(np.float64)
    expected = store.search_by_vector(vector, sort_by="similarity")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or underflow on the way
        scaled = store.search_by_vector(vector * scale, sort_by="similarity")
    assert [h.memory.id for h in scaled.hits] == [h.memory.id for h in expected.hits]
    assert [h.score for h in scaled.hits] == pytest.approx([h.score for h in expected.hits], abs=1e-5)


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ([1.0, 2.0], "384 values"),
        (np.zeros(384), "all zeros"),
        (np.full(384, np.nan), "finite"),
        ([1e300] * 384, "finite"),  # beyond float32: refused without a numpy overflow warning
        ("not a vector", "384 values|numbers"),
    ],
)
def test_bad_vectors_are_named(open_store: Callable[..., MemoryStore], vector: object, message: str) -> None:
    store = open_store()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValidationError, match=message) as info:
            store.search_by_vector(vector)  # type: ignore[arg-type]
    assert info.value.details.get("field") == "vector"
