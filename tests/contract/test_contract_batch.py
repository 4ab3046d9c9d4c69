"""Contract: add_many, delete_many and add_messages on every backend (a bad item fails alone)."""

from __future__ import annotations

from typing import Any

import pytest

from memorylink import BatchResult, LimitExceededError, Limits, NewMemory, Settings, ValidationError


def test_add_many_stores_every_kind_of_item(store: Any) -> None:
    result = store.add_many(
        ["plain string", {"text": "a dict", "tags": ["d"], "user_id": "u1"}, NewMemory(text="a model", tags=["m"])]
    )
    assert isinstance(result, BatchResult)
    assert (result.succeeded, result.failed) == (3, 0)
    stored = [store.get(memory_id) for memory_id in result.ids]
    assert [m.text for m in stored] == ["plain string", "a dict", "a model"]
    assert stored[1].user_id == "u1" and stored[1].tags == ["d"] and stored[2].tags == ["m"]


def test_add_many_bad_item_fails_alone(store: Any) -> None:
    progress: list[tuple[int, int]] = []
    result = store.add_many(
        ["first", {"text": ""}, {"text": "third", "tags": ["x"]}, {"text": "bad", "colour": 1}, 42],
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert result.succeeded == 2 and result.failed == 3
    assert [i.index for i in result.errors] == [1, 3, 4]
    assert [i.index for i in result.items] == [0, 1, 2, 3, 4]
    assert result.items[1].error is not None and result.items[1].error.details["field"] == "text"
    assert result.items[1].error.code == "validation_error"
    assert result.items[3].error is not None and "colour" in result.items[3].error.message
    assert progress[-1] == (5, 5)
    assert [store.get(i).text for i in result.ids] == ["first", "third"]


def test_add_many_item_over_a_limit_fails_alone_with_the_limit(make_store: Any) -> None:
    store = make_store(Settings(limits=Limits(max_text_length=10)))
    result = store.add_many(["short", "x" * 11])
    assert (result.succeeded, result.failed) == (1, 1)
    error = result.items[1].error
    assert error is not None and error.code == "limit_exceeded"
    assert error.details["limit"] == "max_text_length" and error.details["maximum"] == 10


def test_add_many_empty(store: Any) -> None:
    result = store.add_many([])
    assert (result.succeeded, result.failed, result.items) == (0, 0, [])


def test_add_many_too_many_items(make_store: Any) -> None:
    store = make_store(Settings(limits=Limits(max_batch_size=3)))
    with pytest.raises(LimitExceededError) as caught:
        store.add_many(["a", "b", "c", "d"])
    assert caught.value.limit == "max_batch_size" and caught.value.maximum == 3
    assert store.list().items == []


def test_delete_many_by_ids_counts_exactly(store: Any) -> None:
    ids = [store.add(f"note {i}").id for i in range(5)]
    assert store.delete_many(ids=[*ids[:2], "0000000000000"]) == 2
    assert store.delete_many(ids=ids[:2]) == 0
    assert {m.id for m in store.list().items} == set(ids[2:])


def test_delete_many_by_filter(store: Any) -> None:
    ids = [store.add(f"note {i}", tags=["even" if i % 2 == 0 else "odd"]).id for i in range(6)]
    assert store.delete_many(filter={"tags": {"any": ["even"]}}) == 3
    assert {m.id for m in store.list().items} == {ids[1], ids[3], ids[5]}


def test_delete_many_needs_a_target(store: Any) -> None:
    store.add("survives")
    assert store.delete_many() == 0
    assert len(store.list().items) == 1
    assert store.delete_many(filter={}) == 1
    assert store.list().items == []


def test_delete_many_within_a_scope(store: Any) -> None:
    store.add("mine", user_id="alice")
    theirs = store.add("theirs", user_id="bob")
    assert store.delete_many(user_id="alice") == 1
    assert [m.id for m in store.list().items] == [theirs.id]


def test_delete_many_ids_and_filter_together_is_refused(store: Any) -> None:
    memory = store.add("x")
    with pytest.raises(ValidationError):
        store.delete_many(ids=[memory.id], filter={})
    assert store.get(memory.id) is not None


def test_add_messages_reads_back_in_order(store: Any) -> None:
    conversation = [
        {"role": "user", "content": "I'm flying to Lisbon on May 3rd"},
        {"role": "assistant", "content": "Noted, Lisbon on May 3rd."},
        {"role": "user", "content": "Book a hotel near the river"},
    ]
    result = store.add_messages(conversation, user_id="alice", run_id="trip-1", tags=["trip"], metadata={"k": 1})
    assert result.succeeded == 3
    page = store.list(run_id="trip-1", order="created_asc")
    assert [m.text for m in page.items] == [m["content"] for m in conversation]
    assert [m.metadata for m in page.items] == [
        {"k": 1, "role": "user", "turn": 0},
        {"k": 1, "role": "assistant", "turn": 1},
        {"k": 1, "role": "user", "turn": 2},
    ]
    assert all(m.tags == ["trip"] and m.user_id == "alice" for m in page.items)


def test_add_messages_makes_a_run_id(store: Any) -> None:
    result = store.add_messages([{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}])
    runs = {store.get(memory_id).run_id for memory_id in result.ids}
    assert len(runs) == 1 and next(iter(runs)).startswith("run-")


def test_add_messages_bad_turn_fails_alone(store: Any) -> None:
    bad = store.add_messages([{"role": "user"}, {"role": "user", "content": "ok"}, "not a message"])
    assert (bad.succeeded, bad.failed) == (1, 2)
    assert [item.index for item in bad.errors] == [0, 2]
    assert store.get(bad.items[1].id).metadata["turn"] == 1
