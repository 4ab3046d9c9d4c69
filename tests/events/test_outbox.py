"""The durable outbox: an event is stored if and only if its change committed, encrypted, in order."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.errors import MemoryLinkError, NotFoundError
from memorylink.events import Event, EventEmitter

ALWAYS = Settings(events=EventSettings(outbox="always"))


def stored(store: MemoryStore) -> list[Any]:
    return store._outbox.read(0, 10_000)


def test_every_change_is_recorded_with_the_event_subscribers_saw(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    seen: list[Event] = []
    store.events.subscribe(seen.append)
    first = store.add("the cat sat on the mat", tags=["pets"], user_id="ann", agent_id="bot")
    store.update(first.id, text="the cat sat on the warm mat", user_id="ann")
    store.update(first.id, tags=["pets", "home"])
    batch = store.add_many(["one", "two", {"text": "three", "user_id": "bob"}, {"text": ""}])
    store.delete(first.id)
    store.delete_many(filter={}, user_id="bob")
    records = stored(store)
    durable = [r.event for r in records]
    in_process = [e for e in seen if e.type != "memory.searched"]
    assert [e.id for e in durable] == [e.id for e in in_process]
    assert durable == in_process
    assert [e.type for e in durable] == [
        "memory.created",
        "memory.updated",
        "memory.updated",
        "memory.created",
        "memory.created",
        "memory.created",
        "memory.error",
        "batch.completed",
        "memory.deleted",
        "memory.deleted",
    ]
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    created, text_update, tag_update = durable[0], durable[1], durable[2]
    assert (created.user_id, created.agent_id, created.data) == (
        "ann",
        "bot",
        {"id": first.id, "version": 1, "tags": ["pets"]},
    )
    assert records[0].private == {"text": "the cat sat on the mat"}
    assert text_update.data == {"id": first.id, "version": 2, "changed": ["text"]}
    assert records[1].private == {"text": "the cat sat on the warm mat"}
    assert tag_update.data["changed"] == ["tags"]
    assert durable[6].data["index"] == 3
    assert durable[7].data == {"succeeded": 3, "failed": 1, "ids": batch.ids}
    # Deletions carry the deleted memory's own scope, whoever asked.
    assert (durable[8].user_id, durable[8].agent_id) == ("ann", "bot")
    assert durable[9].user_id == "bob" and durable[9].data == {"id": batch.ids[2]}
    assert all(e.id.startswith("evt_") and e.source.startswith("memorylink/") for e in durable)


def test_auto_records_nothing_without_webhooks_and_never_records_nothing(
    open_store: Callable[..., MemoryStore],
) -> None:
    auto = open_store("auto")
    auto.add("kept quiet")
    assert stored(auto) == []
    never = open_store("never", settings=Settings(events=EventSettings(outbox="never")))
    never.add("kept quiet too")
    assert stored(never) == []


def test_a_failed_write_leaves_no_event(
    open_store: Callable[..., MemoryStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(settings=ALWAYS)
    memory = store.add("before")
    count = len(stored(store))

    def broken(*args: object, **kwargs: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store._storage, "append_changes", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.update(memory.id, text="after")
    with pytest.raises(sqlite3.OperationalError):
        store.add("never stored")
    with pytest.raises(sqlite3.OperationalError):
        store.delete(memory.id)
    monkeypatch.undo()
    assert len(stored(store)) == count
    assert store.get(memory.id).text == "before"


def test_id_collision_retry_records_one_event(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    taken = store.add("first")
    real_next = store._ids.next
    handed: list[int] = []

    def colliding(at_ms: int | None = None) -> int:
        # The first memory id handed out collides with an existing row; events ids stay fresh.
        if not handed:
            handed.append(1)
            from memorylink.ids import decode_id

            return decode_id(taken.id)
        return real_next(at_ms)

    store._ids.next = colliding  # type: ignore[method-assign]
    second = store.add("second")
    store._ids.next = real_next  # type: ignore[method-assign]
    created = [r.event for r in stored(store) if r.event.type == "memory.created"]
    assert [e.data["id"] for e in created] == [taken.id, second.id]


def test_outbox_is_encrypted_at_rest(open_store: Callable[..., MemoryStore], tmp_path: Path) -> None:
    store = open_store(settings=ALWAYS)
    canary = "canary-outbox-7f3a9c"
    memory = store.add(f"secret {canary}", tags=["canary-tag-b81"], user_id="canary-user-42")
    store.update(memory.id, text=f"still {canary}")
    store.close()
    for path in (tmp_path / "store").iterdir():
        data = path.read_bytes()
        for needle in (canary, "canary-tag-b81", "canary-user-42", "memory.created"):
            assert needle.encode() not in data, (needle, path.name)


def test_import_records_created_events(open_store: Callable[..., MemoryStore], tmp_path: Path) -> None:
    source = open_store("source")
    source.add_many(["alpha", "beta"])
    export = tmp_path / "export.jsonl"
    source.export(export)
    target = open_store("target", settings=ALWAYS)
    result = target.import_(export)
    created = [r.event for r in stored(target) if r.event.type == "memory.created"]
    assert sorted(e.data["id"] for e in created) == sorted(result.ids)


def test_feed_resumes_after_an_event_id(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    for text in ("one", "two", "three"):
        store.add(text)
    everything = list(store.events.feed())
    assert [e.type for e in everything] == ["memory.created"] * 3
    resumed = list(store.events.feed(after=everything[0].id))
    assert [e.id for e in resumed] == [e.id for e in everything[1:]]
    assert list(store.events.feed(after=everything[-1].id)) == []
    with pytest.raises(NotFoundError):
        list(store.events.feed(after="evt_unknown"))


def test_feed_sees_another_instance_s_events(open_store: Callable[..., MemoryStore]) -> None:
    reader = open_store(settings=ALWAYS)
    writer = open_store(settings=ALWAYS)
    writer.add("from the other process")
    assert [e.data["id"] for e in reader.events.feed()] == [m.id for m in writer.list().items]


def test_following_feed_waits_for_new_events_until_closed(open_store: Callable[..., MemoryStore]) -> None:
    import threading

    store = open_store(settings=ALWAYS)
    store.add("before")
    feed = store.events.feed(follow=True, poll_interval_s=5.0)
    received: list[str] = []

    def consume() -> None:
        for event in feed:
            received.append(event.data["id"])
            if len(received) == 3:
                feed.close()

    thread = threading.Thread(target=consume)
    thread.start()
    later = [store.add("after 1").id, store.add("after 2").id]
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert received[1:] == later
    assert feed.last_event_id is not None


def test_async_feed(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    ids = [store.add(text).id for text in ("a", "b")]

    async def main() -> list[str]:
        got: list[str] = []
        feed = store.events.feed(follow=True, poll_interval_s=0.1)
        async for event in feed:
            got.append(event.data["id"])
            if len(got) == 2:
                await anyio.to_thread.run_sync(lambda: ids.append(store.add("c").id))
            if len(got) == 3:
                feed.close()
        return got

    assert anyio.run(main) == ids


def test_feed_needs_a_store() -> None:
    with pytest.raises(MemoryLinkError):
        EventEmitter().feed()


def test_a_change_whose_event_cannot_be_recorded_is_rolled_back(
    open_store: Callable[..., MemoryStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(settings=ALWAYS)
    memory = store.add("before")

    def full(*args: object, **kwargs: object) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store._storage, "append_events", full)
    with pytest.raises(sqlite3.OperationalError):
        store.update(memory.id, text="after")
    with pytest.raises(sqlite3.OperationalError):
        store.add("never stored")
    with pytest.raises(sqlite3.OperationalError):
        store.delete(memory.id)
    monkeypatch.undo()
    assert store.get(memory.id).text == "before"
    assert [m.text for m in store.list().items] == ["before"]
    assert [r.event.type for r in stored(store)] == ["memory.created"]


def test_searches_are_recorded_only_when_the_outbox_is_always_on(open_store: Callable[..., MemoryStore]) -> None:
    always = open_store("always", settings=ALWAYS)
    always.add("the cat sat on the mat")
    always.search("where is the cat", top_k=3)
    searched = [r.event for r in stored(always) if r.event.type == "memory.searched"]
    assert len(searched) == 1
    assert "where is the cat" not in searched[0].model_dump_json()  # only its SHA-256
    auto = open_store("auto")
    seen: list[Event] = []
    auto.events.subscribe(seen.append, types=["memory.searched"])
    auto.search("anything")
    assert [e.type for e in seen] == ["memory.searched"] and stored(auto) == []


def test_searches_are_recorded_when_an_endpoint_subscribes_to_them(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=Settings(events=EventSettings(deliver=False)))
    store.add("the cat sat on the mat")
    hook = store.webhooks.add("https://example.com/hook", events=["memory.created"])
    store.search("cat")
    assert [r.event.type for r in stored(store)] == []
    store.webhooks.update(hook.id, events=["memory.*"])
    store.search("cat")
    assert [r.event.type for r in stored(store)] == ["memory.searched"]
    store.webhooks.disable(hook.id)
    store.search("cat")
    assert len(stored(store)) == 1


def test_rejected_batch_items_emit_memory_error(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    seen: list[Event] = []
    store.events.subscribe(seen.append, types=["memory.error", "batch.completed"])
    store.add_many(["fine", {"text": ""}, {"text": "ok", "tags": ["x" * 500]}])
    errors = [e for e in seen if e.type == "memory.error"]
    assert [(e.data["operation"], e.data["index"], e.data["code"]) for e in errors] == [
        ("add_many", 1, "validation_error"),
        ("add_many", 2, "limit_exceeded"),
    ]
    assert seen[-1].type == "batch.completed"
    assert [r.event.type for r in stored(store)][-3:] == ["memory.error", "memory.error", "batch.completed"]


def test_events_carry_the_request_id_of_their_call(open_store: Callable[..., MemoryStore]) -> None:
    from memorylink import AsyncMemoryStore
    from memorylink.errors import ValidationError
    from memorylink.events import request_id

    store = open_store(settings=ALWAYS)
    with request_id("req-sync-1"):
        store.add("inside")
    store.add("outside")

    async def main() -> None:
        with request_id("req-async-2"):
            await AsyncMemoryStore(store).add("from a task")

    anyio.run(main)
    assert [r.event.request_id for r in stored(store)] == ["req-sync-1", None, "req-async-2"]
    for bad in ("", "x" * 200, "line\nbreak"):
        with pytest.raises(ValidationError), request_id(bad):
            pass
