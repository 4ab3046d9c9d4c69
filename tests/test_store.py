"""MemoryStore behaviour through its public API, on the hashing embedder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from memorylink import (
    LimitExceededError,
    Limits,
    MemoryStore,
    NotFoundError,
    Settings,
    StoreClosedError,
    ValidationError,
)
from memorylink.events import Event


def test_add_get_round_trip(store: MemoryStore) -> None:
    memory = store.add(
        "Alice prefers window seats on long flights",
        tags=["travel", "preference"],
        metadata={"source": "chat", "priority": 2},
        user_id="alice",
        agent_id="planner",
    )
    assert len(memory.id) == 13
    assert memory.version == 1
    assert memory.created_at.tzinfo is not None
    fetched = store.get(memory.id)
    assert fetched == memory
    assert fetched is not None and fetched.tags == ["travel", "preference"]
    assert fetched.metadata == {"source": "chat", "priority": 2}
    assert fetched.user_id == "alice" and fetched.agent_id == "planner" and fetched.run_id is None


def test_default_user_and_get_missing(store: MemoryStore) -> None:
    memory = store.add("no user given")
    assert memory.user_id == "default"
    assert store.get("0000000000000") is None
    with pytest.raises(ValidationError) as caught:
        store.get("not-an-id")
    assert caught.value.field == "id"


def test_ids_sort_by_creation(store: MemoryStore) -> None:
    ids = [store.add(f"memory number {i}").id for i in range(20)]
    assert ids == sorted(ids)


def test_search_finds_by_meaning_and_reports(store: MemoryStore) -> None:
    store.add("The quarterly budget meeting moved to Thursday", tags=["meeting"])
    store.add("Bob is allergic to peanuts", tags=["health"])
    store.add("Deploy the payment service on Friday", tags=["work"])
    result = store.search("when is the budget meeting", top_k=2)
    assert result.hits[0].memory.text.startswith("The quarterly budget meeting")
    assert len(result.hits) == 2
    assert result.total == 3
    assert result.query == "when is the budget meeting"
    assert result.query_time_ms >= 0
    assert all(0.0 <= hit.similarity <= 1.0 for hit in result.hits)


def test_search_threshold_and_sorts(store: MemoryStore) -> None:
    store.add("red apples and green apples")
    store.add("completely unrelated zebra text")
    strict = store.search("apples", threshold=0.2, sort_by="similarity")
    assert [hit.memory.text for hit in strict.hits] == ["red apples and green apples"]
    by_date = store.search("apples", sort_by="date")
    dates = [hit.memory.created_at for hit in by_date.hits]
    assert dates == sorted(dates, reverse=True)
    by_relevance = store.search("apples", sort_by="relevance")
    scores = [hit.score for hit in by_relevance.hits]
    assert scores == sorted(scores, reverse=True)


def test_search_filters_and_shortcuts(store: MemoryStore) -> None:
    a = store.add("meeting notes from zoom call", tags=["meeting", "q4"], metadata={"source": "zoom", "minutes": 45})
    b = store.add("meeting notes from teams call", tags=["meeting"], metadata={"source": "teams", "minutes": 20})
    store.add("grocery list", tags=["personal"])
    hits = store.search("meeting notes", filter={"metadata.source": "zoom"}).hits
    assert [h.memory.id for h in hits] == [a.id]
    hits = store.search("meeting notes", tags=["q4"]).hits
    assert [h.memory.id for h in hits] == [a.id]
    hits = store.search("meeting notes", metadata={"source": "teams"}).hits
    assert [h.memory.id for h in hits] == [b.id]
    hits = store.search("meeting", filter={"metadata.minutes": {"gt": 30}}).hits
    assert [h.memory.id for h in hits] == [a.id]
    future = datetime.now(UTC) + timedelta(days=1)
    assert store.search("meeting", date_range=(future, None)).hits == []
    result = store.search("meeting", filter={"tags": {"none": ["personal"]}}, top_k=10)
    assert {h.memory.id for h in result.hits} == {a.id, b.id}
    assert result.total == 2
    assert result.filter == {"tags": {"none": ["personal"]}}


def test_bad_filter_is_named(store: MemoryStore) -> None:
    store.add("x")
    with pytest.raises(ValidationError) as caught:
        store.search("x", filter={"metadata.a": {"bogus": 1}})
    assert "bogus" in str(caught.value)
    with pytest.raises(ValidationError):
        store.search("x", filter={"colour": "red"})


def test_scoping_never_leaks(store: MemoryStore) -> None:
    mine = store.add("my secret plan", user_id="alice")
    store.add("my secret plan", user_id="bob")
    hits = store.search("secret plan", user_id="alice").hits
    assert [h.memory.user_id for h in hits] == ["alice"]
    assert store.get(mine.id, user_id="bob") is None
    assert store.delete(mine.id, user_id="bob") is False
    with pytest.raises(NotFoundError):
        store.update(mine.id, text="stolen", user_id="bob")
    with pytest.raises(NotFoundError):
        store.history(mine.id, user_id="bob")
    assert [m.user_id for m in store.list(user_id="bob").items] == ["bob"]
    assert store.search("secret", user_id="carol").hits == []


def test_agent_and_run_scopes(store: MemoryStore) -> None:
    store.add("one", user_id="u", agent_id="a1", run_id="r1")
    store.add("two", user_id="u", agent_id="a2", run_id="r1")
    store.add("three", user_id="u", agent_id="a1", run_id="r2")
    assert {m.text for m in store.list(agent_id="a1").items} == {"one", "three"}
    assert {m.text for m in store.list(run_id="r1").items} == {"one", "two"}
    assert {m.text for m in store.list(agent_id="a1", run_id="r1").items} == {"one"}
    assert {h.memory.text for h in store.search("one two three", agent_id="a2").hits} == {"two"}


def test_update_keeps_history_and_reembeds_only_on_text(store: MemoryStore) -> None:
    memory = store.add("the cat sat on the mat", tags=["a"])
    retagged = store.update(memory.id, tags=["b"])
    assert retagged.version == 2 and retagged.tags == ["b"] and retagged.text == memory.text
    changed = store.update(memory.id, text="dogs run in the park", metadata={"k": 1})
    assert changed.version == 3
    assert store.search("dogs park", top_k=1).hits[0].memory.id == memory.id
    assert store.search("cat mat", top_k=1, threshold=0.5).hits == []
    versions = store.history(memory.id)
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.text for v in versions] == [
        "the cat sat on the mat",
        "the cat sat on the mat",
        "dogs run in the park",
    ]
    assert versions[0].tags == ["a"] and versions[1].tags == ["b"]
    unchanged = store.update(memory.id, text="dogs run in the park")
    assert unchanged.version == 3


def test_delete_and_delete_many(store: MemoryStore) -> None:
    ids = [store.add(f"note {i}", tags=["even" if i % 2 == 0 else "odd"]).id for i in range(10)]
    assert store.delete(ids[0]) is True
    assert store.delete(ids[0]) is False
    assert store.get(ids[0]) is None
    assert all(h.memory.id != ids[0] for h in store.search("note 0", top_k=10).hits)
    assert store.delete_many(ids=[*ids[1:3], "0000000000000"]) == 2
    assert store.delete_many(filter={"tags": {"any": ["even"]}}) == 3
    assert store.delete_many() == 0
    remaining = {m.id for m in store.list().items}
    assert remaining == {ids[i] for i in (3, 5, 7, 9)}
    assert store.delete_many(filter={}) == 4
    assert store.list().items == []


def test_list_pagination_and_orders(store: MemoryStore) -> None:
    ids = [store.add(f"item {i}", tags=["t"]).id for i in range(25)]
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list(limit=10, cursor=cursor)
        seen.extend(m.id for m in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    ascending = store.list(order="created_asc", limit=5)
    assert [m.id for m in ascending.items] == ids[:5]
    filtered: list[str] = []
    cursor = None
    while True:
        page = store.list(tags=["t"], order="created_asc", limit=7, cursor=cursor)
        filtered.extend(m.id for m in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert filtered == ids
    store.update(ids[3], text="touched")
    assert store.list(order="updated_desc", limit=1).items[0].id == ids[3]
    with pytest.raises(ValidationError):
        store.list(cursor=ascending.next_cursor)  # belongs to another order
    with pytest.raises(ValidationError):
        store.list(cursor="garbage!!")


def test_similar_excludes_itself(store: MemoryStore) -> None:
    a = store.add("solar panels on the roof")
    b = store.add("solar panels installed on a roof")
    store.add("chocolate cake recipe")
    result = store.similar(a.id, top_k=2)
    assert result.hits[0].memory.id == b.id
    assert all(h.memory.id != a.id for h in result.hits)


def test_include_similar_attaches_related(store: MemoryStore) -> None:
    store.add("solar panels on the roof")
    store.add("solar panels installed on a roof")
    store.add("chocolate cake recipe")
    hit = store.search("solar panels", top_k=1, include_similar=True).hits[0]
    assert hit.related
    assert all(r.memory.id != hit.memory.id for r in hit.related)


def test_add_many_bad_item_fails_alone(store: MemoryStore) -> None:
    progress: list[tuple[int, int]] = []
    result = store.add_many(
        ["first", {"text": ""}, {"text": "third", "tags": ["x"]}, {"text": "bad", "colour": 1}, 42],  # type: ignore[list-item]
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert result.succeeded == 2 and result.failed == 3
    assert [i.index for i in result.errors] == [1, 3, 4]
    assert result.items[1].error is not None and result.items[1].error.details["field"] == "text"
    assert result.items[3].error is not None and "colour" in result.items[3].error.message
    assert progress[-1] == (5, 5)
    assert [store.get(i) is not None for i in result.ids] == [True, True]


def test_add_messages_reads_back_in_order(store: MemoryStore) -> None:
    conversation = [
        {"role": "user", "content": "I'm flying to Lisbon on May 3rd"},
        {"role": "assistant", "content": "Noted, Lisbon on May 3rd."},
        {"role": "user", "content": "Book a hotel near the river"},
    ]
    result = store.add_messages(conversation, user_id="alice", run_id="trip-1")
    assert result.succeeded == 3
    page = store.list(run_id="trip-1", order="created_asc")
    assert [m.text for m in page.items] == [m["content"] for m in conversation]
    assert [m.metadata["turn"] for m in page.items] == [0, 1, 2]
    assert [m.metadata["role"] for m in page.items] == ["user", "assistant", "user"]
    bad = store.add_messages([{"role": "user"}, {"role": "user", "content": "ok"}])
    assert bad.failed == 1 and bad.items[0].error is not None
    assert bad.succeeded == 1


def test_limits_are_named(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=Settings(limits=Limits(max_text_length=10, max_tags=2, max_top_k=5, max_batch_size=3)))
    with pytest.raises(LimitExceededError) as caught:
        store.add("x" * 11)
    assert caught.value.limit == "max_text_length" and "max_text_length" in str(caught.value)
    with pytest.raises(LimitExceededError) as caught:
        store.add("ok", tags=["a", "b", "c"])
    assert caught.value.limit == "max_tags"
    with pytest.raises(LimitExceededError) as caught:
        store.search("ok", top_k=6)
    assert caught.value.limit == "max_top_k"
    with pytest.raises(LimitExceededError) as caught:
        store.add_many(["a", "b", "c", "d"])
    assert caught.value.limit == "max_batch_size"
    with pytest.raises(ValidationError):
        store.add("ok", metadata={"a.b": 1})
    with pytest.raises(ValidationError):
        store.add("ok", metadata={"f": object()})
    assert store.list().items == []


def test_events_for_every_change(store: MemoryStore) -> None:
    seen: list[Event] = []
    store.events.subscribe(seen.append)
    memory = store.add("hello", user_id="u1")
    store.update(memory.id, tags=["x"])
    store.search("hello")
    store.add_many(["a", "b"])
    store.delete(memory.id)
    types = [e.type for e in seen]
    assert types == [
        "memory.created",
        "memory.updated",
        "memory.searched",
        "memory.created",
        "memory.created",
        "batch.completed",
        "memory.deleted",
    ]
    assert seen[0].user_id == "u1" and seen[0].data["id"] == memory.id
    assert seen[1].data["changed"] == ["tags"]
    assert "hello" not in str(seen[2].data)  # the query text is not in the event


def test_failing_subscriber_never_breaks_a_write(store: MemoryStore, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    store.events.subscribe(broken, types=["memory.*"])
    memory = store.add("still stored")
    assert store.get(memory.id) is not None
    assert "boom" in caplog.text or "failed" in caplog.text


def test_closed_store_raises(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store()
    store.close()
    store.close()
    with pytest.raises(StoreClosedError):
        store.add("x")
    with pytest.raises(StoreClosedError):
        store.search("x")


def test_stats(store: MemoryStore) -> None:
    store.add("a", user_id="u1")
    store.add("b", user_id="u2")
    memory = store.add("c", user_id="u2")
    store.update(memory.id, text="c2")
    stats = store.stats()
    assert stats.memories == 3 and stats.users == 2 and stats.history_versions == 1
    assert stats.index_entries == 3
    assert stats.dimension == 384 and stats.embedder == store.embedder.name
    assert stats.disk_bytes > 0


def test_query_embedding_cache(store: MemoryStore) -> None:
    calls: list[int] = []
    original = store.embedder.embed

    def counting(texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return original(texts)

    store.add("cache me")
    object.__setattr__(
        store,
        "_embedder",
        type("E", (), {"name": store.embedder.name, "dimension": 384, "embed": staticmethod(counting)})(),
    )
    store.search("the same query")
    store.search("the same query")
    assert calls == [1]


def test_in_memory_store(memory_store: MemoryStore) -> None:
    memory = memory_store.add("ephemeral")
    assert memory_store.search("ephemeral").hits[0].memory.id == memory.id
    assert memory_store.path is None


def test_search_hits_are_copies_callers_may_mutate(store: MemoryStore) -> None:
    store.add("the cat sat on the mat", tags=["pets"], metadata={"room": {"name": "hall"}, "legs": [4]})
    for user_id in ("default", None):  # the scoped search builds the catalog; both read hits from it
        hit = store.search("cat on a mat", top_k=1, user_id=user_id).hits[0]
        hit.memory.tags.append("mutated")
        hit.memory.metadata["room"]["name"] = "mutated"
        hit.memory.metadata["legs"].append(5)
    fresh = store.search("cat on a mat", top_k=1, metadata={"room.name": "hall"}).hits[0].memory
    assert fresh.tags == ["pets"]
    assert fresh.metadata == {"room": {"name": "hall"}, "legs": [4]}
    assert store.search("cat on a mat", tags=["mutated"]).hits == []


def test_search_hits_follow_another_instance_s_writes(open_store: Callable[..., MemoryStore]) -> None:
    reader = open_store()
    writer = open_store()
    memory = writer.add("the cat sat on the mat", metadata={"v": 1})
    assert reader.search("cat on a mat", user_id="default").hits[0].memory.metadata == {"v": 1}
    writer.update(memory.id, text="the cat sat on the warm mat", metadata={"v": 2})
    for user_id in ("default", None):
        hit = reader.search("cat on a mat", user_id=user_id).hits[0].memory
        assert (hit.text, hit.metadata, hit.version) == ("the cat sat on the warm mat", {"v": 2}, 2)
    writer.delete(memory.id)
    assert reader.search("cat on a mat").hits == []
    assert reader.search("cat on a mat", user_id="default").hits == []


@pytest.mark.parametrize("tags", [5, "one-string", b"bytes", 3.5, object()])
def test_tags_that_are_not_a_list_are_a_validation_error(store: MemoryStore, tags: object) -> None:
    with pytest.raises(ValidationError, match="tags must be a list of strings") as raised:
        store.add("a note", tags=tags)  # type: ignore[arg-type]
    assert raised.value.field == "tags"
    memory = store.add("a note", tags=iter(["kept", "kept", "too"]))  # any iterable of strings is fine
    assert memory.tags == ["kept", "too"]
    with pytest.raises(ValidationError, match="tags must be a list of strings"):
        store.update(memory.id, tags=tags)  # type: ignore[arg-type]
    assert store.get(memory.id).tags == ["kept", "too"]  # nothing changed


@pytest.mark.parametrize("bad", ["a\x00b", "alice\n", "\x1b[31mroot", "tab\there", "del\x7f", "nel\x85"])
def test_scope_ids_with_control_characters_are_refused(store: MemoryStore, bad: str) -> None:
    for call in (
        lambda: store.add("a note", user_id=bad),
        lambda: store.add("a note", agent_id=bad),
        lambda: store.list(run_id=bad),
        lambda: store.search("a note", user_id=bad),
    ):
        with pytest.raises(ValidationError, match="control characters") as raised:
            call()
        assert raised.value.field in ("user_id", "agent_id", "run_id")
    assert store.list().items == []  # nothing was stored
    assert store.add("a note", user_id="ünïcode ok").user_id == "ünïcode ok"
