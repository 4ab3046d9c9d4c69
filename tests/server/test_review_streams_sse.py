"""GET /api/v1/events, found in review: a stream that ends by a failed send lets go of its feed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from memorylink import MemoryStore
from memorylink.server.streams import hub_of
from stream_helpers import ADMIN_KEY, ALWAYS, WAIT_S, stream_app, wait_caught_up


def _scope(query: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/events",
        "raw_path": b"/api/v1/events",
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test"), (b"x-api-key", ADMIN_KEY.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


def test_a_client_too_slow_to_take_a_message_releases_its_feed(
    open_store: Callable[..., MemoryStore], caplog: pytest.LogCaptureFixture
) -> None:
    # sse-starlette raises out of the response when a send times out, and then skips the
    # response's background task: the stream's clean-up must not depend on it.
    store = open_store(settings=ALWAYS)
    store.add("one event to send")
    app = stream_app(store, send_timeout_s=0.05)
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()  # a client that never reads

    async def main() -> None:
        with anyio.fail_after(WAIT_S):
            await app(_scope(b"start=oldest"), receive, send)

    with caplog.at_level(logging.INFO, logger="memorylink"):
        anyio.run(main)
    assert sent[:2] == ["http.response.start", "http.response.body"]
    assert hub_of(app).open_feeds == 0
    assert hub_of(app).watch._users == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert any("send_timeout_s" in r.getMessage() for r in caplog.records)


def test_many_slow_clients_leave_nothing_behind(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    store.add("one event to send")
    app = stream_app(store, send_timeout_s=0.01)

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()

    async def main() -> None:
        with anyio.fail_after(WAIT_S):
            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(app, _scope(b"start=oldest"), receive, send)

    anyio.run(main)
    assert hub_of(app).open_feeds == 0


def test_a_quiet_stream_outlives_the_pruning_of_the_last_event_it_sent(open_store: Callable[..., MemoryStore]) -> None:
    # A store quiet for longer than retention_days prunes even its newest event, which is where
    # every caught-up stream stands; nothing was missed, so the streams must go on.
    from memorylink import EventSettings, Settings
    from stream_helpers import SSEReader, key, serving

    quiet = EventSettings(outbox="always", deliver=False, retention_days=1e-9, prune_interval_s=1e-6)
    store = open_store(settings=Settings(events=quiet))
    with serving(stream_app(store, poll_interval_s=0.05)) as live:
        reader = SSEReader(live.url + "/api/v1/events", headers=key(ADMIN_KEY))
        try:
            reader.next()  # the opening message
            first = store.add("before the quiet spell")
            (sent,) = reader.events(1)
            assert sent.json()["data"]["id"] == first.id
            assert sent.id is not None
            wait_caught_up(live.app, sent.id)
            store._delivery.run_once()  # past the retention: the outbox is now empty
            assert list(store.events.feed()) == []
            later = [store.add(f"after the quiet spell {n}").id for n in range(3)]
            frames = reader.events(3)
            assert [frame.event for frame in frames] == ["memory.created"] * 3
            assert [frame.json()["data"]["id"] for frame in frames] == later
        finally:
            reader.close()


def test_a_cursor_pruned_while_its_consumer_was_busy_is_still_an_error(open_store: Callable[..., MemoryStore]) -> None:
    # Events committed while the consumer held a page, then pruned before it came back, are a
    # real gap: the stream must say so rather than go on from the oldest kept.
    from memorylink import EventSettings, Settings
    from memorylink.errors import NotFoundError
    from memorylink.server.streams._tail import OutboxWatch, Tail

    capped = EventSettings(outbox="always", deliver=False, retention_max_events=2, prune_interval_s=1e-6)
    store = open_store(settings=Settings(events=capped))
    store.add("one")
    store.add("two")

    async def main() -> list[str]:
        watch = OutboxWatch(store, 0.05)
        tail = await Tail.open(store, watch, None, "oldest")
        pages = tail.pages(follow=True)
        with anyio.fail_after(WAIT_S):
            first = await pages.__anext__()
            version = watch.version
            for n in range(4):  # the consumer is busy with the first page meanwhile
                store.add(f"while busy {n}")
            store._delivery.run_once()  # keeps the newest two: "two" and two of these are gone
            while watch.version == version:
                await anyio.sleep(0)  # the commits' wake-ups reach the loop
            with pytest.raises(NotFoundError):
                await pages.__anext__()
        await pages.aclose()
        return [event.data["id"] for event in first]

    assert len(anyio.run(main)) == 2


def test_resuming_after_another_user_s_event_gives_only_one_s_own_events(
    open_store: Callable[..., MemoryStore],
) -> None:
    import json

    import httpx
    from websockets.sync.client import connect

    from stream_helpers import ALICE_KEY, key, serving

    store = open_store(settings=ALWAYS)
    bobs = store.add("bob's secret", user_id="bob")
    mine = [store.add(f"alice {n}", user_id="alice").id for n in range(2)]
    store.add("bob again", user_id="bob")
    bob_event = next(e.id for e in store.events.feed() if e.data.get("id") == bobs.id)
    with serving(stream_app(store, poll_interval_s=0.05)) as live:
        with httpx.stream(
            "GET",
            live.url + "/api/v1/events",
            headers={**key(ALICE_KEY), "Last-Event-ID": bob_event},
            params={"follow": "false"},
            timeout=WAIT_S,
        ) as response:
            assert response.status_code == 200
            data = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
        assert [(e["user_id"], e["data"]["id"]) for e in data] == [("alice", m) for m in mine]
        with connect(live.ws_url, additional_headers=key(ALICE_KEY), open_timeout=WAIT_S) as ws:
            assert json.loads(ws.recv(timeout=WAIT_S))["type"] == "ready"
            ws.send(json.dumps({"type": "resume", "after": bob_event}))
            assert json.loads(ws.recv(timeout=WAIT_S))["type"] == "resumed"
            ws.send(json.dumps({"type": "subscribe", "id": "s"}))
            assert json.loads(ws.recv(timeout=WAIT_S))["type"] == "subscribed"
            got = [json.loads(ws.recv(timeout=WAIT_S)) for _ in mine]
            ws.send(json.dumps({"type": "ping"}))
            after = json.loads(ws.recv(timeout=WAIT_S))  # nothing of bob's came in between
        assert [(m["event"]["user_id"], m["event"]["data"]["id"]) for m in got] == [("alice", m) for m in mine]
        assert after == {"type": "pong"}
