"""A reopened store answers a scoped search from the scope blind indexes, without building its catalog.

(Building the catalog decrypts every memory; the first scoped search of a reopened store
no longer pays for that.) The answers must equal a fresh store's, stay current with every
write, and never cross a scope, even if every blind index collided.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memorylink import MemoryStore
from memorylink._records import RecordCodec
from memorylink.embedders.hashing import HashingEmbedder

KEY = bytes(range(32))


def _open(path: Path) -> MemoryStore:
    return MemoryStore.open(path, key=KEY, embedder=HashingEmbedder())


def _fill(path: Path) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {"alice": [], "bob": []}
    with _open(path) as store:
        for n in range(30):
            user = "alice" if n % 3 else "bob"
            ids[user].append(store.add(f"{user} wrote note {n} about gardening and tomatoes", user_id=user).id)
    return ids


def test_scoped_search_after_reopen_needs_no_catalog(tmp_path: Path) -> None:
    ids = _fill(tmp_path / "s")
    with _open(tmp_path / "s") as store:
        result = store.search("gardening tomatoes", user_id="bob", top_k=50)
        assert store._state.catalog is None
        assert {h.memory.id for h in result.hits} == set(ids["bob"]) and result.total == len(ids["bob"])
        assert all(h.memory.user_id == "bob" for h in result.hits)
        alice = store.search("gardening tomatoes", user_id="alice", top_k=5, sort_by="similarity")
        assert len(alice.hits) == 5 and {h.memory.id for h in alice.hits} <= set(ids["alice"])


def test_it_stays_current_with_own_and_other_writes(tmp_path: Path) -> None:
    ids = _fill(tmp_path / "s")
    with _open(tmp_path / "s") as store, _open(tmp_path / "s") as other:
        before = store.search("tomatoes", user_id="bob", top_k=50)
        added = store.add("bob planted more tomatoes", user_id="bob")
        assert store.search("tomatoes", user_id="bob", top_k=50).total == before.total + 1
        assert store.delete(ids["bob"][0])
        from_other = other.add("bob's tomatoes need water", user_id="bob")
        after = store.search("tomatoes", user_id="bob", top_k=50)
        found = {h.memory.id for h in after.hits}
        assert added.id in found and from_other.id in found and ids["bob"][0] not in found
        assert after.total == before.total + 1
        assert store._state.catalog is None


def test_colliding_blind_indexes_still_never_cross_a_scope(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RecordCodec, "_blind", lambda self, value, domain: b"\x00" * 8)
    ids = _fill(tmp_path / "s")
    with _open(tmp_path / "s") as store:
        hits = store.search("gardening tomatoes", user_id="bob", top_k=50).hits
        assert {h.memory.id for h in hits} == set(ids["bob"])
        assert store.get(ids["alice"][0], user_id="bob") is None
