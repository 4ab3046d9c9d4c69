"""Property tests: the store against a plain dict and an exact-search oracle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from memorylink import Filter, MemoryStore
from memorylink.crypto import AesGcmCipher, generate_key
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.index import ExactIndex
from memorylink.storage import SqliteStorage

WORDS = ["apple", "river", "meeting", "budget", "alice", "bob", "zoom", "flight", "blue", "seven"]
USERS = ["u1", "u2", "u3"]
TAGS = ["a", "b", "c"]
EMBEDDER = HashingEmbedder(dimension=64)

texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
tag_lists = st.lists(st.sampled_from(TAGS), max_size=3, unique=True)
metadata_values = st.dictionaries(
    st.sampled_from(["n", "src"]), st.integers(0, 5) | st.sampled_from(["x", "y"]), max_size=2
)


def exact_store() -> MemoryStore:
    """An in-memory store over the exact index, so search results have one right answer."""
    return MemoryStore(
        storage=SqliteStorage(":memory:"),
        cipher=AesGcmCipher(generate_key()),
        embedder=EMBEDDER,
        index=ExactIndex(EMBEDDER.dimension),
    )


class StoreMachine(RuleBasedStateMachine):
    """Random adds, updates, deletes and searches; the store must agree with the model."""

    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.store = exact_store()
        self.model: dict[str, dict[str, Any]] = {}

    def teardown(self) -> None:
        self.store.close()

    @rule(target=ids, text=texts, tags=tag_lists, user=st.sampled_from(USERS), metadata=metadata_values)
    def add(self, text: str, tags: list[str], user: str, metadata: dict[str, Any]) -> str:
        memory = self.store.add(text, tags=tags, user_id=user, metadata=metadata)
        self.model[memory.id] = {
            "text": text,
            "tags": tags,
            "user_id": user,
            "metadata": metadata,
            "version": 1,
        }
        return memory.id

    @rule(items=st.lists(st.tuples(texts, st.sampled_from(USERS), st.booleans()), max_size=6))
    def add_many(self, items: list[tuple[str, str, bool]]) -> None:
        batch: list[Any] = [{"text": t, "user_id": u} if ok else {"text": "", "user_id": u} for t, u, ok in items]
        result = self.store.add_many(batch)
        assert result.succeeded == sum(ok for _, _, ok in items)
        assert [i.index for i in result.errors] == [n for n, (_, _, ok) in enumerate(items) if not ok]
        for item in result.items:
            if item.id is not None:
                text, user, _ = items[item.index]
                self.model[item.id] = {
                    "text": text,
                    "tags": [],
                    "user_id": user,
                    "metadata": {},
                    "version": 1,
                }

    @rule(memory_id=ids, text=st.none() | texts, tags=st.none() | tag_lists)
    def update(self, memory_id: str, text: str | None, tags: list[str] | None) -> None:
        if memory_id not in self.model:
            return
        entry = self.model[memory_id]
        memory = self.store.update(memory_id, text=text, tags=tags)
        changed = (text is not None and text != entry["text"]) or (tags is not None and tags != entry["tags"])
        if text is not None:
            entry["text"] = text
        if tags is not None:
            entry["tags"] = tags
        entry["version"] += int(changed)
        assert memory.version == entry["version"]

    @rule(memory_id=consumes(ids))
    def delete(self, memory_id: str) -> None:
        assert self.store.delete(memory_id) == (memory_id in self.model)
        self.model.pop(memory_id, None)

    @rule(
        query=texts,
        user=st.none() | st.sampled_from(USERS),
        tag=st.none() | st.sampled_from(TAGS),
        k=st.integers(1, 8),
    )
    def search(self, query: str, user: str | None, tag: str | None, k: int) -> None:
        tags = [tag] if tag is not None else None
        result = self.store.search(query, top_k=k, user_id=user, tags=tags, sort_by="similarity", mode="vector")
        candidates = {
            i: e
            for i, e in self.model.items()
            if (user is None or e["user_id"] == user) and (tag is None or tag in e["tags"])
        }
        assert result.total == len(candidates)
        query_vector = EMBEDDER.embed([query])[0]
        expected = sorted(
            (max(0.0, float(EMBEDDER.embed([e["text"]])[0] @ query_vector)) for e in candidates.values()),
            reverse=True,
        )[:k]
        got = [hit.similarity for hit in result.hits]
        assert np.allclose(got, expected, atol=1e-5), (got, expected)
        for hit in result.hits:
            entry = candidates[hit.memory.id]
            assert hit.memory.text == entry["text"] and hit.memory.user_id == entry["user_id"]

    @invariant()
    def same_contents(self) -> None:
        stored = {}
        cursor = None
        while True:
            page = self.store.list(limit=7, cursor=cursor)
            stored.update({m.id: m for m in page.items})
            cursor = page.next_cursor
            if cursor is None:
                break
        assert set(stored) == set(self.model)
        for memory_id, memory in stored.items():
            entry = self.model[memory_id]
            assert (memory.text, memory.tags, memory.user_id, memory.version) == (
                entry["text"],
                entry["tags"],
                entry["user_id"],
                entry["version"],
            )


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


records = st.lists(st.tuples(texts, st.sampled_from(USERS), tag_lists, metadata_values), min_size=1, max_size=25)
filters = st.sampled_from(
    [
        {"tags": {"any": ["a"]}},
        {"tags": {"all": ["a", "b"]}},
        {"tags": {"none": ["c"]}},
        {"metadata.n": {"gte": 2}},
        {"metadata.src": "x"},
        {"or": [{"metadata.n": {"lt": 1}}, {"tags": {"any": ["b"]}}]},
        {"not": {"user_id": "u1"}},
        {"metadata.n": {"exists": False}},
    ]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=records, spec=filters, user=st.none() | st.sampled_from(USERS))
def test_search_and_list_apply_scope_and_filter_exactly(
    items: list[tuple[str, str, list[str], dict[str, Any]]], spec: dict[str, Any], user: str | None
) -> None:
    with exact_store() as store:
        batch = store.add_many([{"text": t, "user_id": u, "tags": g, "metadata": m} for t, u, g, m in items])
        memories = [store.get(i) for i in batch.ids]
        parsed = Filter.parse(spec)
        assert parsed is not None
        expected = {
            m.id for m in memories if m is not None and parsed.matches(m) and (user is None or m.user_id == user)
        }
        found = store.search("apple river meeting", top_k=100, filter=spec, user_id=user)
        assert {h.memory.id for h in found.hits} == expected
        assert found.total == len(expected)
        listed = store.list(filter=spec, user_id=user, limit=100)
        assert {m.id for m in listed.items} == expected
        if user is not None:
            assert all(m.user_id == user for m in listed.items)
            assert store.delete_many(filter=spec, user_id=user) == len(expected)
            assert all(store.get(i) is not None for i in batch.ids if i not in expected)


@settings(max_examples=25, deadline=None)
@given(items=st.lists(st.one_of(texts, st.just(""), st.integers(), st.just({"text": "x", "bad": 1})), max_size=12))
def test_batch_items_fail_alone(items: list[Any]) -> None:
    with exact_store() as store:
        result = store.add_many(items)
        valid = [n for n, item in enumerate(items) if isinstance(item, str) and item.strip()]
        assert [i.index for i in result.items if i.ok] == valid
        assert result.succeeded + result.failed == len(items)
        assert store.stats().memories == len(valid)
        for item in result.items:
            if item.ok:
                memory = store.get(item.id or "")
                assert memory is not None and memory.text == items[item.index]


def test_exact_store_factory_is_isolated() -> None:
    make: Callable[[], MemoryStore] = exact_store
    with make() as first, make() as second:
        first.add("only in the first")
        assert second.list().items == []
