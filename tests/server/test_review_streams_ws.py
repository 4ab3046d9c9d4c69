"""/api/v1/ws, found in review: limits that every client message spends, and store faults on a message."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from memorylink import MemoryStore
from stream_helpers import ADMIN_KEY, ALWAYS, WAIT_S, key, serving, stream_app, wait_caught_up

Opener = Callable[[str], ClientConnection]


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store(settings=ALWAYS)


@pytest.fixture
def open_ws() -> Iterator[Opener]:
    with ExitStack() as stack:

        def opener(url: str) -> ClientConnection:
            return stack.enter_context(connect(url, additional_headers=key(ADMIN_KEY), open_timeout=WAIT_S))

        yield opener


def receive(connection: ClientConnection) -> dict[str, Any]:
    """The next server message that is not a heartbeat ping."""
    while True:
        message: dict[str, Any] = json.loads(connection.recv(timeout=WAIT_S))
        if message["type"] != "ping":
            return message


def close_code(connection: ClientConnection) -> int:
    try:
        while True:
            connection.recv(timeout=WAIT_S)
    except ConnectionClosed as closed:
        received = closed.rcvd
    assert received is not None, "closed without a close frame"
    return received.code


def test_malformed_messages_spend_the_message_rate(store: MemoryStore, open_ws: Opener) -> None:
    # Each malformed message is answered like any other: a flood of them must meet the same limit.
    with serving(stream_app(store, ws_message_rate="3/minute")) as running:
        connection = open_ws(running.ws_url)
        assert receive(connection)["type"] == "ready"
        codes = []
        for text in ("not json", "[1, 2]", '{"no": "type"}', "still not json", '{"type": 5}'):
            connection.send(text)
            codes.append(receive(connection)["error"]["code"])
        assert codes == ["validation_error"] * 3 + ["rate_limited"] * 2
        connection.send(json.dumps({"type": "ping", "id": "p"}))
        assert receive(connection)["error"]["code"] == "rate_limited"


def test_the_byte_limit_counts_bytes_not_characters(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_max_message_bytes=1024)) as running:
        connection = open_ws(running.ws_url)
        assert receive(connection)["type"] == "ready"
        # 400 characters, 1,200 bytes of UTF-8: over the 1,024-byte limit.
        connection.send(json.dumps({"type": "ping", "id": "\u20ac" * 400}, ensure_ascii=False))
        assert close_code(connection) == 1009


def test_a_message_of_exactly_the_byte_limit_is_taken(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_max_message_bytes=1024)) as running:
        connection = open_ws(running.ws_url)
        assert receive(connection)["type"] == "ready"
        head = json.dumps({"type": "ping", "pad": ""})
        text = head[:-2] + "\u20ac" * ((1024 - len(head)) // 3) + '"}'
        text = text[:-2] + "x" * (1024 - len(text.encode())) + '"}'
        assert len(text.encode()) == 1024
        connection.send(text)
        assert receive(connection)["type"] == "pong"


def test_subscribing_on_a_closed_store_is_an_error_message(
    open_store: Callable[..., MemoryStore], open_ws: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    doomed = open_store("doomed", settings=ALWAYS)
    with serving(stream_app(doomed)) as running:
        connection = open_ws(running.ws_url)
        assert receive(connection)["type"] == "ready"
        doomed.close()
        connection.send(json.dumps({"type": "subscribe", "id": "s1"}))
        error = receive(connection)
        assert error["type"] == "error" and error["id"] == "s1"
        assert error["error"]["code"] == "store_closed"
        connection.send(json.dumps({"type": "resume", "after": "evt_any", "id": "r1"}))
        error = receive(connection)
        assert error["id"] == "r1" and error["error"]["code"] == "store_closed"
    assert not [r for r in caplog.records if "Exception in ASGI application" in r.getMessage()]


def test_a_quiet_socket_outlives_the_pruning_of_the_last_event_it_sent(
    open_store: Callable[..., MemoryStore], open_ws: Opener
) -> None:
    from memorylink import EventSettings, Settings

    quiet = EventSettings(outbox="always", deliver=False, retention_days=1e-9, prune_interval_s=1e-6)
    store = open_store(settings=Settings(events=quiet))
    with serving(stream_app(store, poll_interval_s=0.05)) as running:
        connection = open_ws(running.ws_url)
        assert receive(connection)["type"] == "ready"
        connection.send(json.dumps({"type": "subscribe", "id": "all"}))
        assert receive(connection)["type"] == "subscribed"
        first = store.add("before the quiet spell")
        sent = receive(connection)["event"]
        assert sent["data"]["id"] == first.id
        wait_caught_up(running.app, sent["id"])
        store._delivery.run_once()
        assert list(store.events.feed()) == []
        later = [store.add(f"after the quiet spell {n}").id for n in range(3)]
        got = [receive(connection) for _ in later]
        assert [message["type"] for message in got] == ["event"] * 3
        assert [message["event"]["data"]["id"] for message in got] == later


def test_the_protocol_layer_refuses_an_oversized_message_without_reading_it_whole(
    store: MemoryStore, open_ws: Opener
) -> None:
    # uvicorn would read up to its ws_max_size (16 MiB by default) into memory before the app
    # could refuse the message; StreamingServer holds it to the app's limit.
    with serving(stream_app(store, ws_max_message_bytes=1024)) as running:
        assert running.server.config.ws_max_size == 1024
        connection = open_ws(running.ws_url)
        assert receive(connection)["type"] == "ready"
        connection.send("x" * (1 << 20))
        assert close_code(connection) == 1009


def test_the_connection_cap_holds_under_concurrent_connects_and_every_slot_comes_back(store: MemoryStore) -> None:
    import threading

    from memorylink.server.streams import hub_of
    from stream_helpers import wait_until

    with serving(stream_app(store, ws_max_connections=5, ws_auth_timeout_s=0.2)) as running:
        hub = hub_of(running.app)
        outcomes: list[str] = []
        lock = threading.Lock()
        go = threading.Barrier(20)
        release = threading.Event()

        def dial() -> None:
            go.wait(WAIT_S)
            with connect(running.ws_url, additional_headers=key(ADMIN_KEY), open_timeout=WAIT_S) as connection:
                first = json.loads(connection.recv(timeout=WAIT_S))
                with lock:
                    outcomes.append(first["type"] if first["type"] == "ready" else first["error"]["code"])
                if first["type"] == "ready":
                    release.wait(WAIT_S)  # hold the slot until the test has counted

        threads = [threading.Thread(target=dial, daemon=True) for _ in range(20)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(outcomes) == 20, "every connection to be answered")
        assert sorted(outcomes) == ["ready"] * 5 + ["too_many_connections"] * 15
        assert hub.sockets == 5
        release.set()
        for thread in threads:
            thread.join(WAIT_S)
        wait_until(lambda: hub.sockets == 0, "every slot to come back")
        # Connections that never authenticate (no credential, then silence or a hang-up) give theirs back too.
        silent = open_ws_without_credentials(running.ws_url)
        with connect(running.ws_url, open_timeout=WAIT_S):
            wait_until(lambda: hub.sockets == 2, "both to hold a slot while they may still authenticate")
        assert close_code(silent) == 4401
        wait_until(lambda: hub.sockets == 0, "the unauthenticated connections' slots to come back")
        silent.close()


def open_ws_without_credentials(url: str) -> ClientConnection:
    connection = connect(url, open_timeout=WAIT_S)
    connection.__enter__()  # websockets wants its connections entered; closed by the caller
    return connection


def test_a_heartbeat_timeout_leaves_no_feed_task_or_watch_behind(store: MemoryStore, open_ws: Opener) -> None:
    import asyncio

    from memorylink.server.streams import hub_of
    from stream_helpers import wait_until

    settings = {"ws_heartbeat_interval_s": 0.05, "ws_heartbeat_timeout_s": 0.2, "poll_interval_s": 0.05}
    with serving(stream_app(store, **settings)) as running:
        hub = hub_of(running.app)
        loop_tasks: list[int] = []

        def count_tasks() -> int:
            # The server loop's tasks, counted on that loop (asyncio.all_tasks is per loop).
            loop = hub.watch._loop
            assert loop is not None
            return asyncio.run_coroutine_threadsafe(_task_count(), loop).result(WAIT_S)

        connection = open_ws(running.ws_url)
        assert receive(connection)["type"] == "ready"
        connection.send(json.dumps({"type": "subscribe", "id": "all"}))
        assert receive(connection)["type"] == "subscribed"
        wait_until(lambda: hub.open_feeds == 1 and store.events.subscriber_count == 1, "the socket's feed")
        loop_tasks.append(count_tasks())
        assert close_code(connection) == 1011  # it never answers a ping
        wait_until(lambda: hub.sockets == 0 and hub.open_feeds == 0, "the socket's slot and feed to go")
        wait_until(lambda: store.events.subscriber_count == 0, "the outbox watch to stop")
        loop_tasks.append(count_tasks())
        # Gone: the session's receive loop, heartbeat, re-check and pump, and the watch's poller.
        assert loop_tasks[1] <= loop_tasks[0] - 5, loop_tasks


async def _task_count() -> int:
    import asyncio

    return len(asyncio.all_tasks())
