"""Contract properties: for generated memories, both backends agree with a plain Python model of the store."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TAGS = ["red", "green", "blue"]
WORDS = st.sampled_from(["apple", "river", "seat", "flight", "peanut", "meeting", "budget", "train"])
MEMORY = st.tuples(
    st.lists(WORDS, min_size=1, max_size=5).map(" ".join),
    st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
    st.integers(0, 3),
)
USERS = itertools.count()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(memories=st.lists(MEMORY, min_size=1, max_size=12), wanted=st.sampled_from(TAGS), page=st.integers(1, 5))
def test_filtered_pages_match_a_model(
    store: Any, memories: list[tuple[str, list[str], int]], wanted: str, page: int
) -> None:
    user = f"user-{next(USERS)}"  # each example has its own user: the store outlives examples
    stored = store.add_many(
        [{"text": t, "tags": tags, "metadata": {"n": n}, "user_id": user} for t, tags, n in memories]
    )
    assert stored.failed == 0
    ids = stored.ids
    expected = [memory_id for memory_id, (_, tags, _) in zip(ids, memories, strict=True) if wanted in tags]
    seen: list[str] = []
    cursor = None
    while True:
        result = store.list(user_id=user, tags=[wanted], order="created_asc", limit=page, cursor=cursor)
        assert len(result.items) <= page
        seen.extend(m.id for m in result.items)
        cursor = result.next_cursor
        if cursor is None:
            break
    assert seen == expected
    high = [memory_id for memory_id, (_, _, n) in zip(ids, memories, strict=True) if n >= 2]
    listed = store.list(user_id=user, filter={"metadata.n": {"gte": 2}}, order="created_asc", limit=50).items
    assert [m.id for m in listed] == high


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(memories=st.lists(MEMORY, min_size=1, max_size=10), query=st.lists(WORDS, min_size=1, max_size=3).map(" ".join))
def test_search_stays_in_scope_and_in_bounds(
    store: Any, memories: list[tuple[str, list[str], int]], query: str
) -> None:
    user = f"user-{next(USERS)}"
    other = f"user-{next(USERS)}"
    store.add_many([{"text": t, "tags": tags, "user_id": user} for t, tags, _ in memories])
    store.add_many([{"text": t, "user_id": other} for t, _, _ in memories])
    result = store.search(query, top_k=5, user_id=user, sort_by="similarity")
    assert {h.memory.user_id for h in result.hits} <= {user}
    assert len(result.hits) <= min(5, len(memories)) and result.total == len(memories)
    assert all(0.0 <= h.similarity <= 1.0 for h in result.hits)
    strict = store.search(query, top_k=5, user_id=user, threshold=0.5)
    assert all(h.similarity >= 0.5 for h in strict.hits)
