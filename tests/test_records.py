"""Record bodies (the encrypted part of a row) and the catalog a fresh store keeps from its first write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memorylink import MemoryStore
from memorylink._records import Body
from memorylink.errors import StoreCorruptedError

_TEXT = st.text(max_size=80)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_BODIES = st.builds(
    Body,
    text=_TEXT,
    tags=st.lists(st.text(max_size=8), max_size=4).map(tuple),
    metadata=st.dictionaries(st.text(max_size=8), _JSON, max_size=4),
    user_id=_TEXT,
    agent_id=st.none() | _TEXT,
    run_id=st.none() | _TEXT,
)


@given(_BODIES)
def test_bodies_round_trip_in_both_encodings(body: Body) -> None:
    assert Body.decode(body.encode()) == body
    assert Body.decode(body.to_json()) == body  # rows written before the positional encoding


def test_the_positional_encoding_is_smaller_than_keyed_json() -> None:
    body = Body("met Ana in Lisbon about the offsite budget", (), {"bucket": 7}, "default", None, None)
    assert len(body.encode()) <= len(body.to_json()) - 12


def test_long_fields_switch_to_wide_lengths() -> None:
    body = Body("t" * 10, ("tag",), {"k": "v" * 70_000}, "u", "a", "r")
    assert Body.decode(body.encode()) == body


@pytest.mark.parametrize("raw", [b"", b"\x02", b"\x07\x00abc", b"\x02\x08\x05\x00\x09\x00u"])
def test_damaged_bodies_are_rejected(raw: bytes) -> None:
    with pytest.raises(StoreCorruptedError):
        Body.decode(raw)


def test_rows_with_keyed_json_bodies_still_open(
    open_store: Callable[..., MemoryStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(Body, "encode", Body.to_json)  # write as the code before the positional encoding did
        store = open_store()
        old = store.add("written as keyed json", tags=["t"], metadata={"k": [1, {"x": None}]}, user_id="ana")
        store.close()
    reopened = open_store()
    assert reopened.get(old.id) == old
    assert [hit.memory.id for hit in reopened.search("written as keyed json", user_id="ana").hits] == [old.id]
    updated = reopened.update(old.id, metadata={"k": 2})
    assert reopened.get(old.id) == updated
    assert [v.metadata for v in reopened.history(old.id)] == [{"k": [1, {"x": None}]}, {"k": 2}]


def test_a_fresh_store_keeps_its_catalog_from_the_first_write(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store()
    assert store._state.catalog is not None
    metadata: dict[str, Any] = {"nested": {"a": 1}, "flat": "x"}
    added = store.add("the blue kettle", metadata=metadata, user_id="ana")
    added.metadata["nested"]["a"] = 99  # the caller's copy is its own
    metadata["flat"] = "changed"
    result = store.search("the blue kettle")  # unscoped: hits come from the catalog, no row is read
    assert result.hits[0].memory.metadata == {"nested": {"a": 1}, "flat": "x"}
    assert result.hits[0].memory == store.get(added.id)
    result.hits[0].memory.metadata["nested"]["a"] = 5
    assert store.search("the blue kettle").hits[0].memory.metadata == {"nested": {"a": 1}, "flat": "x"}


def test_the_catalog_follows_writes_of_another_process(open_store: Callable[..., MemoryStore]) -> None:
    first = open_store()
    mine = first.add("written here", user_id="ana")
    second = open_store()
    assert second._state.catalog is None  # opened non-empty: built on first need
    theirs = second.add("written there", user_id="ana")
    second.update(mine.id, text="rewritten there")
    found = {hit.memory.id: hit.memory for hit in first.search("written", top_k=5).hits}
    assert found[theirs.id] == second.get(theirs.id)
    assert found[mine.id].text == "rewritten there"
    second.delete(theirs.id)
    assert theirs.id not in {hit.memory.id for hit in first.search("written", top_k=5).hits}
    second.close()
