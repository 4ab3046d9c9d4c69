"""Contract: user / agent / run scopes never leak, on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from memorylink import NotFoundError


@pytest.fixture
def plans(store: Any) -> dict[str, Any]:
    return {
        "alice": store.add("my secret plan", user_id="alice", tags=["plan"]),
        "bob": store.add("my secret plan", user_id="bob", tags=["plan"]),
    }


def test_search_in_one_users_scope(store: Any, plans: dict[str, Any]) -> None:
    hits = store.search("secret plan", user_id="alice").hits
    assert [h.memory.id for h in hits] == [plans["alice"].id]
    assert store.search("secret", user_id="carol").hits == []
    assert store.search("secret", user_id="carol").total == 0


def test_get_update_delete_history_outside_the_scope(store: Any, plans: dict[str, Any]) -> None:
    mine = plans["alice"]
    assert store.get(mine.id, user_id="bob") is None
    assert store.delete(mine.id, user_id="bob") is False
    with pytest.raises(NotFoundError):
        store.update(mine.id, text="stolen", user_id="bob")
    with pytest.raises(NotFoundError):
        store.history(mine.id, user_id="bob")
    with pytest.raises(NotFoundError):
        store.similar(mine.id, user_id="bob")
    assert store.get(mine.id, user_id="alice") == mine
    assert store.get(mine.id).text == "my secret plan"


def test_list_and_delete_many_stay_in_scope(store: Any, plans: dict[str, Any]) -> None:
    assert [m.id for m in store.list(user_id="bob").items] == [plans["bob"].id]
    assert store.delete_many(ids=[plans["alice"].id], user_id="bob") == 0
    assert store.delete_many(filter={"tags": {"any": ["plan"]}}, user_id="bob") == 1
    assert [m.id for m in store.list().items] == [plans["alice"].id]


def test_unscoped_calls_see_every_user(store: Any, plans: dict[str, Any]) -> None:
    assert {m.user_id for m in store.list().items} == {"alice", "bob"}
    assert {h.memory.user_id for h in store.search("secret plan").hits} == {"alice", "bob"}


def test_similar_stays_in_scope(store: Any, plans: dict[str, Any]) -> None:
    store.add("my secret plan, again", user_id="alice")
    hits = store.similar(plans["alice"].id, user_id="alice").hits
    assert {h.memory.user_id for h in hits} == {"alice"}


def test_agent_and_run_scopes(store: Any) -> None:
    store.add("one", user_id="u", agent_id="a1", run_id="r1")
    store.add("two", user_id="u", agent_id="a2", run_id="r1")
    store.add("three", user_id="u", agent_id="a1", run_id="r2")
    assert {m.text for m in store.list(agent_id="a1").items} == {"one", "three"}
    assert {m.text for m in store.list(run_id="r1").items} == {"one", "two"}
    assert {m.text for m in store.list(agent_id="a1", run_id="r1").items} == {"one"}
    assert {h.memory.text for h in store.search("one two three", agent_id="a2").hits} == {"two"}


def test_scope_fields_in_the_filter_language(store: Any) -> None:
    store.add("one", user_id="u1", agent_id="a1")
    store.add("two", user_id="u2", agent_id="a2")
    assert [m.text for m in store.list(filter={"agent_id": {"in": ["a2"]}}).items] == ["two"]
    assert [m.text for m in store.list(filter={"user_id": {"ne": "u2"}}).items] == ["one"]
