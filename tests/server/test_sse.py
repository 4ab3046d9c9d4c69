"""GET /api/v1/events: live events over SSE, resume with Last-Event-ID, scoping, filters, shutdown."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import httpx
import pytest

from memorylink import MemoryStore
from memorylink.server.streams import close_streams
from stream_helpers import (
    ADMIN_KEY,
    ALICE_KEY,
    ALWAYS,
    BOB_KEY,
    WAIT_S,
    WRITE_ONLY_KEY,
    Live,
    SSEReader,
    key,
    open_feeds,
    serving,
    start,
    stream_app,
    wait_until,
)

EVENTS = "/api/v1/events"


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store(settings=ALWAYS)


@pytest.fixture
def live(store: MemoryStore) -> Iterator[Live]:
    with serving(stream_app(store, poll_interval_s=0.05)) as running:
        yield running


@pytest.fixture
def readers() -> Iterator[Callable[..., SSEReader]]:
    opened: list[SSEReader] = []

    def factory(url: str, **kwargs: object) -> SSEReader:
        reader = SSEReader(url, **kwargs)  # type: ignore[arg-type]
        opened.append(reader)
        return reader

    yield factory
    for reader in opened:
        reader.close()


def outbox_ids(store: MemoryStore) -> list[str]:
    return [event.id for event in store.events.feed()]


def test_a_client_receives_events_live(live: Live, store: MemoryStore, readers: Callable[..., SSEReader]) -> None:
    reader = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    first = reader.next()
    assert first.retry == 2000 and first.data is None  # the opening frame: retry advice, no event
    memory = store.add("hello stream", user_id="alice")
    store.update(memory.id, tags=["t"], user_id="alice")
    store.delete(memory.id, user_id="alice")
    frames = reader.events(3)
    recorded = list(store.events.feed())
    assert [f.id for f in frames] == [e.id for e in recorded]
    assert [f.event for f in frames] == ["memory.created", "memory.updated", "memory.deleted"]
    assert [f.json() for f in frames] == [e.model_dump(mode="json") for e in recorded]
    assert reader.response is not None
    assert reader.response.headers["content-type"].startswith("text/event-stream")
    assert reader.response.headers["x-request-id"]


def test_a_cut_connection_resumes_from_last_event_id_without_gaps_or_repeats(
    live: Live, store: MemoryStore, readers: Callable[..., SSEReader]
) -> None:
    reader = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    store.add("before the cut")
    (seen,) = reader.events(1)
    reader.cut()
    assert reader.ended(), "the reader noticed the cut"
    wait_until(lambda: open_feeds(live.app) == 0, "the server to drop the cut stream")
    written = [store.add(f"while away {n}").id for n in range(7)]
    resumed = readers(live.url + EVENTS, headers={**key(ADMIN_KEY), "Last-Event-ID": str(seen.id)})
    frames = resumed.events(7)
    expected = outbox_ids(store)[1:]
    assert [f.id for f in frames] == expected
    assert [f.json()["data"]["id"] for f in frames] == written
    store.add("after the resume")
    (live_frame,) = resumed.events(1)
    assert live_frame.id == outbox_ids(store)[-1]


def test_after_query_parameter_resumes_and_the_header_wins(
    live: Live, store: MemoryStore, readers: Callable[..., SSEReader]
) -> None:
    for n in range(4):
        store.add(f"m{n}")
    ids = outbox_ids(store)
    by_query = readers(live.url + EVENTS, headers=key(ADMIN_KEY), params={"after": ids[1], "follow": "false"})
    assert [f.id for f in by_query.events(2)] == ids[2:]
    assert by_query.ended()
    both = readers(
        live.url + EVENTS,
        headers={**key(ADMIN_KEY), "Last-Event-ID": ids[2]},
        params={"after": ids[0], "follow": "false"},
    )
    assert [f.id for f in both.events(1)] == ids[3:]


def test_start_latest_is_the_default_and_announces_its_position(
    live: Live, store: MemoryStore, readers: Callable[..., SSEReader]
) -> None:
    store.add("old")
    old_id = outbox_ids(store)[-1]
    reader = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    opening = reader.next()
    assert opening.id == old_id and opening.data is None  # a reconnect before any event resumes from here
    store.add("new")
    (frame,) = reader.events(1)
    assert frame.id == outbox_ids(store)[-1]
    everything = readers(live.url + EVENTS, headers=key(ADMIN_KEY), params={"start": "oldest", "follow": "false"})
    assert [f.id for f in everything.events(2)] == outbox_ids(store)
    assert everything.ended()


def test_a_users_position_is_sealed_and_resumes_without_a_gap(
    live: Live, store: MemoryStore, readers: Callable[..., SSEReader]
) -> None:
    # The store's newest event is bob's: alice gets a position that names it without showing it.
    store.add("bob's private note", user_id="bob")
    bobs_event = outbox_ids(store)[-1]
    reader = readers(live.url + EVENTS, headers=key(ALICE_KEY))
    opening = reader.next()
    assert opening.id is not None and opening.id.startswith("pos_") and opening.data is None
    assert bobs_event not in opening.id and bobs_event.removeprefix("evt_") not in opening.id
    reader.close()
    store.add("bob again", user_id="bob")
    store.add("alice's own", user_id="alice")  # committed while alice was away
    resumed = readers(live.url + EVENTS, headers={**key(ALICE_KEY), "Last-Event-ID": opening.id})
    assert resumed.next().id.startswith("pos_")  # type: ignore[union-attr]
    (frame,) = resumed.events(1)
    assert frame.json()["user_id"] == "alice" and frame.id == outbox_ids(store)[-1]  # her own ids stay bare
    admin = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    assert admin.next().id == outbox_ids(store)[-1]  # admins see every event: bare ids
    forged = httpx.get(live.url + EVENTS, headers={**key(ALICE_KEY), "Last-Event-ID": "pos_" + "A" * 60})
    assert forged.status_code == 404 and forged.json()["error"]["details"]["field"] == "Last-Event-ID"


def test_non_admins_see_only_their_own_user_s_events(
    live: Live, store: MemoryStore, readers: Callable[..., SSEReader]
) -> None:
    alice = readers(live.url + EVENTS, headers=key(ALICE_KEY))
    admin = readers(live.url + EVENTS, headers=key(ADMIN_KEY), params={"user_id": "bob"})
    for n in range(3):
        store.add(f"bob's {n}", user_id="bob")
    store.add_many(["unscoped batch"])  # batch.completed and friends of another user
    mine = store.add("alice's", user_id="alice")
    (frame,) = alice.events(1)  # the first event Alice gets is her own: Bob's were never sent
    assert frame.json()["data"]["id"] == mine.id and frame.json()["user_id"] == "alice"
    bob_frames = admin.events(3)
    assert {f.json()["user_id"] for f in bob_frames} == {"bob"}


def test_a_non_admin_naming_another_user_is_refused(live: Live) -> None:
    response = httpx.get(live.url + EVENTS, headers=key(ALICE_KEY), params={"user_id": "bob"}, timeout=WAIT_S)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_types_filter_passes_only_matching_events(
    live: Live, store: MemoryStore, readers: Callable[..., SSEReader]
) -> None:
    reader = readers(live.url + EVENTS, headers=key(ADMIN_KEY), params={"types": "memory.deleted,batch.*"})
    memory = store.add("soon gone")
    store.update(memory.id, tags=["x"])
    store.delete(memory.id)
    store.add_many(["a", "b"])
    frames = reader.events(2)
    assert [f.event for f in frames] == ["memory.deleted", "batch.completed"]


def test_bad_types_pattern_is_a_validation_error(live: Live) -> None:
    response = httpx.get(live.url + EVENTS, headers=key(ADMIN_KEY), params={"types": "Memory!"}, timeout=WAIT_S)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"]["field"] == "types"


def test_an_unknown_last_event_id_is_a_404_with_the_error_body(live: Live, store: MemoryStore) -> None:
    store.add("one")
    response = httpx.get(
        live.url + EVENTS, headers={**key(ADMIN_KEY), "Last-Event-ID": "evt_pruned_long_ago"}, timeout=WAIT_S
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["details"] == {"id": "evt_pruned_long_ago", "kind": "event", "field": "Last-Event-ID"}
    assert error["request_id"] == response.headers["x-request-id"]


def test_unauthenticated_requests_are_refused(live: Live) -> None:
    response = httpx.get(live.url + EVENTS, timeout=WAIT_S)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_a_store_that_does_not_record_every_event_refuses_streams(open_store: Callable[..., MemoryStore]) -> None:
    with serving(stream_app(open_store("auto"))) as running:
        response = httpx.get(running.url + EVENTS, headers=key(ADMIN_KEY), timeout=WAIT_S)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "events_unavailable"
    assert error["details"] == {"setting": "events.outbox", "required": "always", "actual": "auto"}


def test_a_client_leaving_closes_its_feed(live: Live, readers: Callable[..., SSEReader]) -> None:
    reader = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    reader.next()
    assert open_feeds(live.app) == 1
    reader.close()
    wait_until(lambda: open_feeds(live.app) == 0, "the feed of the departed client to close")


def test_keep_alive_comments_arrive_between_events(store: MemoryStore, readers: Callable[..., SSEReader]) -> None:
    with serving(stream_app(store, sse_ping_interval_s=0.05)) as running:
        reader = readers(running.url + EVENTS, headers=key(ADMIN_KEY))
        reader.next()
        wait_until(lambda: reader.comments >= 2, "two keep-alive comments")
        reader.close()


def test_shutdown_is_not_blocked_by_open_streams(store: MemoryStore, readers: Callable[..., SSEReader]) -> None:
    running = start(stream_app(store))
    first = readers(running.url + EVENTS, headers=key(ADMIN_KEY))
    second = readers(running.url + EVENTS, headers=key(BOB_KEY))
    first.next()
    second.next()
    running.stop()  # fails if uvicorn is still waiting for the streams after the deadline
    assert first.ended() and second.ended()


def test_events_written_by_another_process_arrive(
    live: Live, open_store: Callable[..., MemoryStore], readers: Callable[..., SSEReader]
) -> None:
    other = open_store(settings=ALWAYS)  # the same directory: another writer, invisible to in-process callbacks
    reader = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    reader.next()
    written = other.add("from elsewhere")
    (frame,) = reader.events(1)
    assert frame.json()["data"]["id"] == written.id


def test_the_outbox_watch_runs_only_while_streams_are_open(
    live: Live, store: MemoryStore, readers: Callable[..., SSEReader]
) -> None:
    assert store.events.subscriber_count == 0
    first = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    second = readers(live.url + EVENTS, headers=key(ALICE_KEY))
    first.next()
    second.next()
    wait_until(lambda: store.events.subscriber_count == 1, "one shared watch for both streams")
    first.close()
    second.close()
    wait_until(lambda: store.events.subscriber_count == 0, "the watch to stop with the last stream")


def test_a_store_that_closes_under_a_stream_is_reported_as_an_error_event(
    open_store: Callable[..., MemoryStore], readers: Callable[..., SSEReader]
) -> None:
    doomed = open_store("doomed", settings=ALWAYS)
    with serving(stream_app(doomed, poll_interval_s=0.05)) as running:
        reader = readers(running.url + EVENTS, headers=key(ADMIN_KEY))
        reader.next()
        doomed.close()
        (frame,) = reader.events(1)
        assert frame.event == "error" and frame.id is None
        assert frame.json()["error"]["code"] == "store_closed"
        assert reader.ended()


def test_a_stream_spends_one_read_and_needs_the_read_scope(live: Live, readers: Callable[..., SSEReader]) -> None:
    guard = live.app.state.guard
    guard.calls.clear()
    readers(live.url + EVENTS, headers=key(ADMIN_KEY)).next()
    assert guard.calls == [("read", "reads")]
    response = httpx.get(live.url + EVENTS, headers=key(WRITE_ONLY_KEY), timeout=WAIT_S)
    assert response.status_code == 403


def test_a_closing_server_refuses_new_streams(live: Live) -> None:
    close_streams(live.app)
    response = httpx.get(live.url + EVENTS, headers=key(ADMIN_KEY), timeout=WAIT_S)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "shutting_down"


def test_types_may_be_repeated(live: Live, store: MemoryStore, readers: Callable[..., SSEReader]) -> None:
    memory = store.add("x")
    store.delete(memory.id)
    store.add_many(["y"])
    reader = readers(
        live.url + EVENTS,
        headers=key(ADMIN_KEY),
        params=[("types", "memory.deleted"), ("types", "batch.completed"), ("start", "oldest"), ("follow", "false")],
    )
    assert [f.event for f in reader.events(2)] == ["memory.deleted", "batch.completed"]


def test_caught_up_streams_share_one_read_per_commit(
    store: MemoryStore, readers: Callable[..., SSEReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add("the position everyone starts after")
    position = outbox_ids(store)[-1]
    reads: list[str | None] = []
    real_feed = store.events.feed

    def counting_feed(after: str | None = None, **kwargs: object) -> object:
        reads.append(after)
        return real_feed(after, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.events, "feed", counting_feed)
    with serving(stream_app(store, poll_interval_s=60)) as running:  # no poll wake-ups in the way
        streams = [readers(running.url + EVENTS, headers=key(ADMIN_KEY)) for _ in range(5)]
        for stream in streams:
            assert stream.next().id == position
        wait_until(lambda: reads.count(position) >= 1, "the streams to have read once")
        before = reads.count(position)
        store.add("one commit")
        for stream in streams:
            stream.events(1)
        assert reads.count(position) - before == 1


def test_clients_leaving_log_no_errors(
    live: Live,
    store: MemoryStore,
    readers: Callable[..., SSEReader],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    caplog.set_level(logging.WARNING)
    uvicorn_log = logging.getLogger("uvicorn")  # it does not propagate to the root logger caplog watches
    uvicorn_log.addHandler(caplog.handler)
    request.addfinalizer(lambda: uvicorn_log.removeHandler(caplog.handler))
    cut = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    left = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    store.add("one")
    cut.events(1)
    left.events(1)
    cut.cut()
    left.close()
    wait_until(lambda: open_feeds(live.app) == 0, "both streams to be released")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_streaming_server_serves_any_asgi_app() -> None:
    from fastapi import FastAPI

    other = FastAPI()  # not a memorylink app: shutting down leaves it alone
    running = start(other)
    running.stop()


def test_an_unexpected_failure_mid_stream_is_an_internal_error_event(
    live: Live, store: MemoryStore, readers: Callable[..., SSEReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = readers(live.url + EVENTS, headers=key(ADMIN_KEY))
    reader.next()

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug, say")

    monkeypatch.setattr(store.events, "feed", broken)
    store.add("wakes the stream")
    (frame,) = reader.events(1)
    assert frame.event == "error" and frame.json()["error"]["code"] == "internal_error"
    assert "bug" not in frame.data  # details stay in the server log
    assert reader.ended()
