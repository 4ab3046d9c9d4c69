"""Contract: add, get, update, delete and history behave the same on every store backend."""

from __future__ import annotations

from typing import Any

import pytest

from memorylink import Memory, MemoryVersion, NotFoundError, ValidationError


def test_add_get_round_trip(store: Any) -> None:
    memory = store.add(
        "Alice prefers window seats on long flights",
        tags=["travel", "preference"],
        metadata={"source": "chat", "priority": 2, "nested": {"a": [1, 2]}},
        user_id="alice",
        agent_id="planner",
    )
    assert isinstance(memory, Memory)
    assert len(memory.id) == 13 and memory.version == 1
    assert memory.created_at.tzinfo is not None and memory.updated_at >= memory.created_at
    fetched = store.get(memory.id)
    assert fetched == memory
    assert fetched.tags == ["travel", "preference"]
    assert fetched.metadata == {"source": "chat", "priority": 2, "nested": {"a": [1, 2]}}
    assert (fetched.user_id, fetched.agent_id, fetched.run_id) == ("alice", "planner", None)


def test_add_defaults(store: Any) -> None:
    memory = store.add("no user given")
    assert memory.user_id == "default"
    assert memory.tags == [] and memory.metadata == {}
    assert memory.agent_id is None and memory.run_id is None


def test_tags_accept_any_iterable_and_keep_order(store: Any) -> None:
    memory = store.add("iterable tags", tags=(t for t in ["b", "a", "c"]))
    assert memory.tags == ["b", "a", "c"]
    assert store.get(memory.id).tags == ["b", "a", "c"]


def test_duplicate_tags_are_dropped(store: Any) -> None:
    assert store.add("dupes", tags=["x", "y", "x"]).tags == ["x", "y"]


def test_unicode_text_round_trips(store: Any) -> None:
    text = 'Zoë\'s café — 東京 🚀 "quoted" \\ backslash\nnew line'
    memory = store.add(text, metadata={"émoji": "✓"})
    assert store.get(memory.id).text == text
    assert store.get(memory.id).metadata == {"émoji": "✓"}


def test_get_missing_is_none(store: Any) -> None:
    assert store.get("0000000000000") is None


def test_get_malformed_id_names_the_field(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.get("not-an-id")
    assert caught.value.field == "id"


def test_ids_sort_by_creation(store: Any) -> None:
    ids = [store.add(f"memory number {i}").id for i in range(12)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 12


def test_update_text_bumps_version_and_keeps_the_rest(store: Any) -> None:
    memory = store.add("the cat sat on the mat", tags=["a"], metadata={"k": 1})
    updated = store.update(memory.id, text="dogs run in the park")
    assert (updated.version, updated.text, updated.tags, updated.metadata) == (
        2,
        "dogs run in the park",
        ["a"],
        {"k": 1},
    )
    assert updated.created_at == memory.created_at and updated.updated_at >= memory.updated_at
    assert store.get(memory.id) == updated


def test_update_replaces_tags_and_metadata_whole(store: Any) -> None:
    memory = store.add("x", tags=["a", "b"], metadata={"k": 1, "j": 2})
    updated = store.update(memory.id, tags=["c"], metadata={"z": True})
    assert (updated.tags, updated.metadata, updated.text) == (["c"], {"z": True}, "x")


def test_update_with_empty_tags_clears_them(store: Any) -> None:
    memory = store.add("x", tags=["a"])
    assert store.update(memory.id, tags=[]).tags == []


def test_update_without_changes_keeps_the_version(store: Any) -> None:
    memory = store.add("same", tags=["t"])
    assert store.update(memory.id, text="same").version == 1
    assert store.update(memory.id).version == 1
    assert len(store.history(memory.id)) == 1


def test_update_reembeds_only_on_text(store: Any) -> None:
    memory = store.add("the cat sat on the mat", tags=["a"])
    store.update(memory.id, tags=["b"])
    store.update(memory.id, text="dogs run in the park")
    assert store.search("dogs park", top_k=1).hits[0].memory.id == memory.id
    assert store.search("cat mat", top_k=1, threshold=0.5).hits == []


def test_update_missing_raises_not_found(store: Any) -> None:
    with pytest.raises(NotFoundError) as caught:
        store.update("0000000000000", text="nothing here")
    assert caught.value.memory_id == "0000000000000"


def test_update_bad_value_is_a_validation_error(store: Any) -> None:
    memory = store.add("x")
    with pytest.raises(ValidationError) as caught:
        store.update(memory.id, text="")
    assert caught.value.field == "text"
    assert store.get(memory.id).text == "x"


def test_history_lists_every_version_oldest_first(store: Any) -> None:
    memory = store.add("the cat sat on the mat", tags=["a"])
    store.update(memory.id, tags=["b"])
    store.update(memory.id, text="dogs run in the park", metadata={"k": 1})
    versions = store.history(memory.id)
    assert all(isinstance(v, MemoryVersion) for v in versions)
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.text for v in versions] == ["the cat sat on the mat", "the cat sat on the mat", "dogs run in the park"]
    assert [v.tags for v in versions] == [["a"], ["b"], ["b"]]
    assert versions[-1].metadata == {"k": 1}
    assert all(v.memory_id == memory.id for v in versions)
    assert [v.changed_at for v in versions] == sorted(v.changed_at for v in versions)


def test_history_of_a_missing_memory_raises(store: Any) -> None:
    with pytest.raises(NotFoundError):
        store.history("0000000000000")


def test_delete_then_gone_everywhere(store: Any) -> None:
    memory = store.add("to be deleted", tags=["gone"])
    keep = store.add("to be kept")
    assert store.delete(memory.id) is True
    assert store.get(memory.id) is None
    assert [m.id for m in store.list().items] == [keep.id]
    assert all(h.memory.id != memory.id for h in store.search("to be deleted").hits)
    with pytest.raises(NotFoundError):
        store.history(memory.id)


def test_delete_twice_is_false(store: Any) -> None:
    memory = store.add("once")
    assert store.delete(memory.id) is True
    assert store.delete(memory.id) is False
    assert store.delete("0000000000000") is False
