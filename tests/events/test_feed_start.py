"""Where a feed starts: the oldest event kept, the newest (only new events), or after an id, fixed by seek()."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.errors import NotFoundError, StoreClosedError, ValidationError

ALWAYS = Settings(events=EventSettings(outbox="always"))


def test_latest_skips_what_was_recorded_before_the_feed_started(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    store.add("old one")
    store.add("old two")
    feed = store.events.feed(start="latest")
    newest = list(store.events.feed())[-1]
    assert feed.seek() == newest.id
    fresh = store.add("new")
    assert [e.data["id"] for e in feed] == [fresh.id]
    assert feed.last_event_id is not None and feed.last_event_id != newest.id


def test_latest_on_an_empty_outbox_starts_at_the_beginning(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    feed = store.events.feed(start="latest")
    assert feed.seek() is None
    first = store.add("first")
    assert [e.data["id"] for e in feed] == [first.id]


def test_seek_refuses_an_unknown_id_before_iteration(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    store.add("one")
    with pytest.raises(NotFoundError) as caught:
        store.events.feed(after="evt_unknown").seek()
    assert caught.value.details["id"] == "evt_unknown"


def test_seek_is_idempotent_and_fixes_the_position(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    store.add("one")
    feed = store.events.feed(start="latest")
    position = feed.seek()
    store.add("two")
    assert feed.seek() == position  # the second call does not move the start to "two"
    assert [e.type for e in feed] == ["memory.created"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"start": "middle"}, "start"), ({"after": "evt_x", "start": "latest"}, "start")],
)
def test_bad_start_arguments_name_the_field(
    open_store: Callable[..., MemoryStore], kwargs: dict[str, str], field: str
) -> None:
    store = open_store(settings=ALWAYS)
    with pytest.raises(ValidationError) as caught:
        store.events.feed(**kwargs)  # type: ignore[arg-type]
    assert caught.value.details.get("field") == field


def test_a_closed_store_s_feed_raises_store_closed(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    store.add("one")
    store.close()
    with pytest.raises(StoreClosedError):
        list(store.events.feed())
    with pytest.raises(StoreClosedError):
        store.events.feed(start="latest").seek()


def test_a_following_feed_ends_with_store_closed_when_the_store_closes(
    open_store: Callable[..., MemoryStore],
) -> None:
    store = open_store(settings=ALWAYS)
    feed = store.events.feed(follow=True, poll_interval_s=60)
    failures: list[BaseException] = []

    def follow() -> None:
        try:
            for _ in feed:
                pass
        except BaseException as error:
            failures.append(error)

    store.add("one")
    thread = threading.Thread(target=follow)
    thread.start()
    store.close()  # wherever the thread is (reading, or waiting for a commit), it meets the closed store
    thread.join(10)
    assert not thread.is_alive()
    assert [type(error) for error in failures] == [StoreClosedError]
