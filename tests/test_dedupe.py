"""add / add_many with dedupe=True: identical and near-identical texts of the same scope are not stored twice."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from memorylink import MemoryStore, Settings
from memorylink.events.models import Event


def created(store: MemoryStore) -> list[Event]:
    seen: list[Event] = []
    store.events.subscribe(seen.append, types=["memory.created"])
    return seen


def cosine(store: MemoryStore, a: str, b: str) -> float:
    va, vb = store.embedder.embed([a, b])
    return float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb)))


def test_an_exact_duplicate_returns_the_existing_memory(store: MemoryStore) -> None:
    first = store.add("Alice moved to Berlin in May 2024", tags=["move"])
    events = created(store)
    again = store.add("Alice moved to Berlin in May 2024", dedupe=True)
    assert again == first
    assert events == []
    assert len(store.list().items) == 1


def test_without_dedupe_copies_are_stored(store: MemoryStore) -> None:
    first = store.add("Alice moved to Berlin")
    second = store.add("Alice moved to Berlin")
    assert first.id != second.id and len(store.list().items) == 2


def test_a_near_duplicate_above_the_threshold_dedupes_and_one_below_does_not(
    open_store: Callable[..., MemoryStore],
) -> None:
    store = open_store(settings=Settings(dedupe_threshold=0.8))
    original = store.add("Bob prefers green tea over coffee in the morning")
    near = "bob prefers green tea over coffee in the morning, usually"
    far = "The quarterly report is due on Friday"
    assert cosine(store, original.text, near) >= 0.8 > cosine(store, original.text, far)
    assert store.add(near, dedupe=True) == original
    assert store.add(far, dedupe=True).id != original.id
    strict = open_store("strict", settings=Settings(dedupe_threshold=1.0))
    kept = strict.add("Bob prefers green tea over coffee in the morning")
    assert strict.add(near, dedupe=True).id != kept.id  # not identical, not similar enough
    assert strict.add(kept.text, dedupe=True) == kept  # an identical text always dedupes


@pytest.mark.parametrize(
    "other_scope",
    [{"user_id": "bob"}, {"user_id": "alice", "agent_id": "helper"}, {"user_id": "alice", "run_id": "r1"}],
)
def test_a_different_scope_never_dedupes(store: MemoryStore, other_scope: dict[str, str]) -> None:
    first = store.add("The wifi password is hunter2", user_id="alice")
    copy = store.add("The wifi password is hunter2", dedupe=True, **other_scope)
    assert copy.id != first.id
    assert (copy.user_id, copy.agent_id, copy.run_id) == (
        other_scope["user_id"],
        other_scope.get("agent_id"),
        other_scope.get("run_id"),
    )
    # ... and a narrower memory is no duplicate for the wider scope either.
    assert store.add("The wifi password is hunter2", user_id="alice", dedupe=True) == first


def test_a_batch_dedupes_against_itself_and_the_store(store: MemoryStore) -> None:
    stored = store.add("Carol's birthday is on 3 March")
    events = created(store)
    result = store.add_many(
        [
            "The office moves to Lyon in June",
            "The office moves to Lyon in June",
            {"text": "The office moves to Lyon in June", "user_id": "someone-else"},
            "Carol's birthday is on 3 March",
            "",  # a bad item still fails alone
        ],
        dedupe=True,
    )
    items = result.items
    assert (result.succeeded, result.failed) == (4, 1)
    assert items[1].id == items[0].id and items[1].deduplicated and not items[0].deduplicated
    assert items[2].id != items[0].id and not items[2].deduplicated
    assert items[3].id == stored.id and items[3].deduplicated
    assert items[4].error is not None
    assert len(events) == 2  # the two memories actually stored
    assert len(store.list(user_id="default").items) == 2


def test_a_batch_larger_than_a_write_chunk_dedupes_across_chunks(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=Settings(write_chunk_size=2))
    result = store.add_many(["alpha beta", "gamma delta", "alpha beta", "epsilon", "gamma delta"], dedupe=True)
    ids = [item.id for item in result.items]
    assert ids[2] == ids[0] and ids[4] == ids[1]
    assert [item.deduplicated for item in result.items] == [False, False, True, False, True]
    assert len(store.list().items) == 3
