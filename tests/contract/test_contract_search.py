"""Contract: search, search_by_vector and similar rank, filter and report the same on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memorylink import LimitExceededError, MemoryStore, NotFoundError, SearchResult, ValidationError
from memorylink.embedders.hashing import HashingEmbedder


@pytest.fixture
def notes(store: Any) -> dict[str, str]:
    return {
        "budget": store.add("The quarterly budget meeting moved to Thursday", tags=["meeting"]).id,
        "peanuts": store.add("Bob is allergic to peanuts", tags=["health"]).id,
        "deploy": store.add("Deploy the payment service on Friday", tags=["work"]).id,
    }


def test_search_finds_by_meaning_and_reports(store: Any, notes: dict[str, str]) -> None:
    result = store.search("when is the budget meeting", top_k=2)
    assert isinstance(result, SearchResult)
    assert result.hits[0].memory.id == notes["budget"]
    assert len(result.hits) == 2 and result.total == 3
    assert result.query == "when is the budget meeting" and result.query_time_ms >= 0
    assert result.sort_by == "relevance" and result.filter is None
    assert all(0.0 <= hit.similarity <= 1.0 for hit in result.hits)


def test_top_k_bounds_the_hits(store: Any, notes: dict[str, str]) -> None:
    assert len(store.search("meeting", top_k=1).hits) == 1
    assert len(store.search("meeting", top_k=10).hits) == 3


def test_threshold_drops_weak_hits(store: Any) -> None:
    apples = store.add("red apples and green apples")
    store.add("completely unrelated zebra text")
    strict = store.search("apples", threshold=0.2, sort_by="similarity")
    assert [hit.memory.id for hit in strict.hits] == [apples.id]
    assert store.search("apples", threshold=1.0).hits == []


def test_sort_by_similarity_date_and_relevance(store: Any) -> None:
    for text in ("apples", "green apples", "red apples and green apples", "apple pie"):
        store.add(text)
    assert store.search("apples", sort_by="similarity").sort_by == "similarity"
    by_date = store.search("apples", sort_by="date")
    dates = [hit.memory.created_at for hit in by_date.hits]
    assert dates == sorted(dates, reverse=True)
    scores = [hit.score for hit in store.search("apples", sort_by="relevance").hits]
    assert scores == sorted(scores, reverse=True)


def test_ranks_exactly_as_a_local_store_does(store: Any) -> None:
    notes = [(f"note about topic {i % 4} and item {i}", ["even" if i % 2 == 0 else "odd"]) for i in range(20)]
    for text, tags in notes:
        store.add(text, tags=tags)
    with MemoryStore.open(None, embedder=HashingEmbedder()) as oracle:
        for text, tags in notes:
            oracle.add(text, tags=tags)
        for query, options in (
            ("topic 2 item", {}),
            ("item 13", {"top_k": 4, "sort_by": "similarity"}),
            ("note about topic", {"tags": ["odd"], "top_k": 20}),
            ("topic 3", {"threshold": 0.3}),
        ):
            got = store.search(query, **options)
            want = oracle.search(query, **options)
            assert [h.memory.text for h in got.hits] == [h.memory.text for h in want.hits], query
            assert [round(h.similarity, 6) for h in got.hits] == [round(h.similarity, 6) for h in want.hits]
            assert got.total == want.total


def test_filters_and_shortcuts(store: Any) -> None:
    a = store.add("meeting notes from zoom call", tags=["meeting", "q4"], metadata={"source": "zoom", "minutes": 45})
    b = store.add("meeting notes from teams call", tags=["meeting"], metadata={"source": "teams", "minutes": 20})
    store.add("grocery list", tags=["personal"])
    assert [h.memory.id for h in store.search("meeting notes", filter={"metadata.source": "zoom"}).hits] == [a.id]
    assert [h.memory.id for h in store.search("meeting notes", tags=["q4"]).hits] == [a.id]
    assert [h.memory.id for h in store.search("meeting notes", metadata={"source": "teams"}).hits] == [b.id]
    assert [h.memory.id for h in store.search("meeting", filter={"metadata.minutes": {"gt": 30}}).hits] == [a.id]
    result = store.search("meeting", filter={"tags": {"none": ["personal"]}}, top_k=10)
    assert {h.memory.id for h in result.hits} == {a.id, b.id}
    assert result.total == 2 and result.filter == {"tags": {"none": ["personal"]}}


def test_combinators(store: Any) -> None:
    long_call = store.add("call", metadata={"minutes": 90}, tags=["draft"])
    short_call = store.add("call", metadata={"minutes": 5})
    store.add("call", metadata={"minutes": 50}, tags=["draft"])
    spec = {
        "or": [
            {"metadata.minutes": {"lt": 10}},
            {"and": [{"metadata.minutes": {"gte": 60}}, {"tags": {"any": ["draft"]}}]},
        ]
    }
    assert {h.memory.id for h in store.search("call", filter=spec).hits} == {long_call.id, short_call.id}
    assert [h.memory.id for h in store.search("call", filter={"not": {"tags": {"any": ["draft"]}}}).hits] == [
        short_call.id
    ]


def test_date_range_on_search(store: Any, notes: dict[str, str]) -> None:
    future = datetime.now(UTC) + timedelta(days=1)
    assert store.search("meeting", date_range=(future, None)).hits == []
    assert len(store.search("meeting", date_range=("2000-01-01", future)).hits) == 3


def test_bad_filter_is_named(store: Any, notes: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        store.search("x", filter={"metadata.a": {"bogus": 1}})
    assert "bogus" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        store.search("x", filter={"colour": "red"})
    assert "colour" in str(caught.value)


def test_bad_search_arguments(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.search("x", threshold=1.5)
    assert "threshold" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        store.search("x", sort_by="loudness")
    assert "sort_by" in str(caught.value)
    with pytest.raises(ValidationError):
        store.search("")


def test_top_k_limit_is_named(store: Any) -> None:
    with pytest.raises(LimitExceededError) as caught:
        store.search("x", top_k=10_000)
    assert caught.value.limit == "max_top_k" and caught.value.actual == 10_000


def test_include_similar_attaches_related(store: Any) -> None:
    store.add("solar panels on the roof")
    store.add("solar panels installed on a roof")
    store.add("chocolate cake recipe")
    hit = store.search("solar panels", top_k=1, include_similar=True).hits[0]
    assert hit.related
    assert all(r.memory.id != hit.memory.id for r in hit.related)
    assert store.search("solar panels", top_k=1).hits[0].related == []


def test_similar_excludes_itself(store: Any) -> None:
    a = store.add("solar panels on the roof")
    b = store.add("solar panels installed on a roof")
    store.add("chocolate cake recipe")
    result = store.similar(a.id, top_k=2)
    assert result.hits[0].memory.id == b.id
    assert all(h.memory.id != a.id for h in result.hits) and len(result.hits) == 2


def test_similar_with_threshold_and_filter(store: Any) -> None:
    a = store.add("solar panels on the roof", tags=["home"])
    store.add("solar panels installed on a roof", tags=["work"])
    near = store.add("solar panels on the roof again", tags=["home"])
    result = store.similar(a.id, filter={"tags": {"any": ["home"]}})
    assert [h.memory.id for h in result.hits] == [near.id]
    assert store.similar(a.id, threshold=1.0).hits == []


def test_similar_of_a_missing_memory(store: Any) -> None:
    with pytest.raises(NotFoundError):
        store.similar("0000000000000")


def test_search_by_vector_matches_search(store: Any, notes: dict[str, str]) -> None:
    vector = HashingEmbedder().embed(["when is the budget meeting"])[0]
    by_vector = store.search_by_vector(vector, top_k=2, sort_by="similarity")
    by_text = store.search("when is the budget meeting", top_k=2, sort_by="similarity")
    assert [h.memory.id for h in by_vector.hits] == [h.memory.id for h in by_text.hits]
    assert by_vector.query == ""
    assert [round(h.similarity, 5) for h in by_vector.hits] == [round(h.similarity, 5) for h in by_text.hits]
    listed = store.search_by_vector([float(v) for v in vector], top_k=1, tags=["meeting"])
    assert [h.memory.id for h in listed.hits] == [notes["budget"]]


def test_search_by_vector_checks_the_vector(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.search_by_vector([1.0, 2.0])
    assert "vector" in str(caught.value)
    with pytest.raises(ValidationError):
        store.search_by_vector([0.0] * 384)


def test_hits_are_copies_callers_may_mutate(store: Any) -> None:
    store.add("the cat sat on the mat", tags=["pets"], metadata={"room": {"name": "hall"}})
    hit = store.search("cat on a mat", top_k=1).hits[0]
    hit.memory.tags.append("mutated")
    hit.memory.metadata["room"]["name"] = "mutated"
    fresh = store.search("cat on a mat", top_k=1, metadata={"room.name": "hall"}).hits[0].memory
    assert fresh.tags == ["pets"] and fresh.metadata == {"room": {"name": "hall"}}
