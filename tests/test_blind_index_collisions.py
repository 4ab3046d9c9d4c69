"""Scope blind indexes are 8 bytes: even if every scope id collided, no call would cross a scope.

The test forces the worst case (every user, agent and run id gets the same blind index)
and checks that the decrypted scope of each row still decides what a scoped call sees.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memorylink import MemoryStore
from memorylink._records import RecordCodec


@pytest.fixture
def colliding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RecordCodec, "_blind", lambda self, value, domain: b"\x00" * 8)


@pytest.mark.usefixtures("colliding")
def test_colliding_scope_indexes_never_cross_a_scope(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store()
    alice = [store.add(f"alice note {n} about the garden", user_id="alice", agent_id="a1").id for n in range(5)]
    bob = [store.add(f"bob note {n} about the garden", user_id="bob", agent_id="a1").id for n in range(5)]
    assert {m.id for m in store.list(user_id="alice", limit=100).items} == set(alice)
    assert {h.memory.id for h in store.search("garden note", user_id="bob", top_k=50).hits} == set(bob)
    assert store.search("garden note", user_id="bob", top_k=50).total == 5
    assert store.get(alice[0], user_id="bob") is None
    assert not store.delete(alice[0], user_id="bob")
    assert store.delete_many(alice, user_id="bob") == 0
    assert store.delete_many(filter={"tags": {"none": ["x"]}}, user_id="bob") == 5
    assert {m.id for m in store.list(user_id="alice", agent_id="a1", limit=100).items} == set(alice)
    page = store.list(user_id="alice", limit=2)
    seen = [m.id for m in page.items]
    while page.next_cursor:
        page = store.list(user_id="alice", limit=2, cursor=page.next_cursor)
        seen += [m.id for m in page.items]
    assert sorted(seen) == sorted(alice)
