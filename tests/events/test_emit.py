"""store.emit: a front-end's own events reach subscribers, the durable outbox and the feed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from memorylink import AsyncMemoryStore, EventSettings, LimitExceededError, MemoryStore, Settings, ValidationError
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.events import Event, request_id

KEY = bytes(range(32))
ALWAYS = Settings(events=EventSettings(outbox="always", deliver=False))


def test_subscribers_and_the_feed_get_the_event(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder(), settings=ALWAYS) as store:
        seen: list[Event] = []
        store.events.subscribe(seen.append, types=["auth.*"])
        with request_id("req-7"):
            event = store.emit("auth.login", {"username": "ann", "outcome": "success"}, user_id="ann")
        assert seen == [event]
        assert event.type == "auth.login" and event.user_id == "ann" and event.request_id == "req-7"
        assert event.data == {"username": "ann", "outcome": "success"}
        assert [e.id for e in store.events.feed()] == [event.id]
    # Durable: another process (here, a reopened store) reads it from the outbox.
    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder(), settings=ALWAYS) as store:
        assert [e for e in store.events.feed()] == [event]


def test_without_an_active_outbox_only_subscribers_see_it(tmp_path: Path) -> None:
    never = Settings(events=EventSettings(outbox="never"))
    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder(), settings=never) as store:
        seen: list[Event] = []
        store.events.subscribe(seen.append)
        store.emit("api_key.used", {"key_id": "abcd1234"})
        assert [e.type for e in seen] == ["api_key.used"]
        assert list(store.events.feed()) == []


def test_the_data_is_copied(tmp_path: Path) -> None:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        data = {"nested": {"n": 1}}
        event = store.emit("custom.thing", data)
        data["nested"]["n"] = 2
        assert event.data == {"nested": {"n": 1}}


@pytest.mark.parametrize("event_type", ["memory.created", "batch.completed", "webhook.test", "memory.anything"])
def test_the_store_s_own_types_are_refused(event_type: str) -> None:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        seen: list[Event] = []
        store.events.subscribe(seen.append)
        with pytest.raises(ValidationError) as caught:
            store.emit(event_type)
        assert caught.value.details["field"] == "event_type"
        assert seen == []


@pytest.mark.parametrize("event_type", ["", "nodot", "Auth.login", "auth.", "auth..x", "auth.log in", "a." + "x" * 80])
def test_malformed_types_are_refused(event_type: str) -> None:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store, pytest.raises(ValidationError) as caught:
        store.emit(event_type)
    assert caught.value.details["field"] == "event_type"


def test_bad_data_and_scope_are_refused() -> None:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        with pytest.raises(ValidationError) as caught:
            store.emit("custom.thing", ["not", "an", "object"])  # type: ignore[arg-type]
        assert caught.value.details["field"] == "data"
        with pytest.raises(ValidationError) as caught:
            store.emit("custom.thing", {"bad": object()})
        assert caught.value.details["field"] == "data"
        with pytest.raises(LimitExceededError) as limit:
            store.emit("custom.thing", {"big": "x" * 20_000})
        assert limit.value.limit == "max_metadata_bytes"
        with pytest.raises(ValidationError) as caught:
            store.emit("custom.thing", user_id="")
        assert caught.value.details["field"] == "user_id"


def test_async_emit(tmp_path: Path) -> None:
    async def main() -> None:
        async with await AsyncMemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder()) as store:
            seen: list[Event] = []
            store.events.subscribe(seen.append)
            event = await store.emit("auth.login", {"outcome": "failure"})
            assert seen == [event]

    asyncio.run(main())
