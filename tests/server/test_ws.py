"""/api/v1/ws: subscribe / unsubscribe with filters, ping / pong, resume, heartbeats, limits, auth."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import anyio
import pytest
from starlette.websockets import WebSocketState
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from memorylink import MemoryStore
from memorylink.server.streams import close_streams, hub_of
from stream_helpers import (
    ADMIN_KEY,
    ALICE_KEY,
    ALWAYS,
    BOB_KEY,
    SPENT_KEY,
    WAIT_S,
    WRITE_ONLY_KEY,
    Live,
    key,
    open_feeds,
    serving,
    start,
    stream_app,
    wait_until,
)


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store(settings=ALWAYS)


@pytest.fixture
def live(store: MemoryStore) -> Iterator[Live]:
    with serving(stream_app(store, poll_interval_s=0.05)) as running:
        yield running


Opener = Callable[..., ClientConnection]


@pytest.fixture
def open_ws() -> Iterator[Opener]:
    """Connect (as a context manager, which websockets wants); every connection is closed afterwards."""
    with ExitStack() as stack:

        def opener(url: str, api_key: str | None = ADMIN_KEY) -> ClientConnection:
            headers = key(api_key) if api_key else None
            return stack.enter_context(connect(url, additional_headers=headers, open_timeout=WAIT_S))

        yield opener


class Client:
    """A thin JSON face on a websockets client connection."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def recv(self, timeout_s: float = WAIT_S) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.connection.recv(timeout=timeout_s))
        return message

    def expect(self, kind: str, *, skip_pings: bool = True) -> dict[str, Any]:
        while True:
            message = self.recv()
            if skip_pings and message["type"] == "ping" and kind != "ping":
                continue
            assert message["type"] == kind, message
            return message

    def events(self, count: int) -> list[dict[str, Any]]:
        return [self.expect("event") for _ in range(count)]

    def subscribe(self, sid: str, **fields: Any) -> dict[str, Any]:
        self.send({"type": "subscribe", "id": sid, **fields})
        return self.expect("subscribed")

    def closed_with(self) -> tuple[int, str]:
        """Read until the server closes; its close code and reason."""
        try:
            while True:
                self.connection.recv(timeout=WAIT_S)
        except ConnectionClosed as closed:
            received = closed.rcvd
        assert received is not None, "closed without a close frame"
        return received.code, received.reason


@pytest.fixture
def dial(live: Live, open_ws: Opener) -> Callable[..., Client]:
    def factory(api_key: str | None = ADMIN_KEY, *, ready: bool = True) -> Client:
        client = Client(open_ws(live.ws_url, api_key))
        if ready:
            client.expect("ready")
        return client

    return factory


def test_subscribe_with_a_filter_receives_only_matching_events(dial: Callable[..., Client], store: MemoryStore) -> None:
    client = dial()
    reply = client.subscribe("s1", types=["memory.created"], filter={"user_id": "alice", "agent_id": "planner"})
    assert reply["types"] == ["memory.created"]
    assert reply["filter"] == {"user_id": "alice", "agent_id": "planner", "run_id": None}
    store.add("other agent", user_id="alice", agent_id="coder")
    store.add("other user", user_id="bob", agent_id="planner")
    wanted = store.add("match", user_id="alice", agent_id="planner")
    store.update(wanted.id, tags=["not a created event"])
    last = store.add("match two", user_id="alice", agent_id="planner")
    events = client.events(2)
    assert [e["subscription"] for e in events] == ["s1", "s1"]
    assert [e["event"]["data"]["id"] for e in events] == [wanted.id, last.id]
    assert all(e["event"]["type"] == "memory.created" for e in events)


def test_each_subscription_gets_its_own_copy(dial: Callable[..., Client], store: MemoryStore) -> None:
    client = dial()
    client.subscribe("everything")
    client.subscribe("deletes", types=["memory.deleted"])
    memory = store.add("x")
    store.delete(memory.id)
    events = client.events(3)
    assert [(e["subscription"], e["event"]["type"]) for e in events] == [
        ("everything", "memory.created"),
        ("everything", "memory.deleted"),
        ("deletes", "memory.deleted"),
    ]


def test_unsubscribe_stops_the_events(dial: Callable[..., Client], store: MemoryStore) -> None:
    client = dial()
    client.subscribe("a", types=["memory.created"])
    client.subscribe("b", types=["memory.deleted"])
    store.add("one")
    assert client.events(1)[0]["subscription"] == "a"
    client.send({"type": "unsubscribe", "id": "a"})
    assert client.expect("unsubscribed")["id"] == "a"
    created = store.add("two")
    store.delete(created.id)
    (event,) = client.events(1)  # the next event is b's: a got nothing more
    assert event["subscription"] == "b" and event["event"]["data"]["id"] == created.id
    client.send({"type": "unsubscribe", "id": "a"})
    error = client.expect("error")
    assert error["id"] == "a" and error["error"]["code"] == "not_found"


def test_ping_is_answered_with_pong(dial: Callable[..., Client]) -> None:
    client = dial()
    client.send({"type": "ping"})
    assert client.expect("pong") == {"type": "pong"}


def test_a_dropped_connection_resumes_without_gaps(dial: Callable[..., Client], store: MemoryStore, live: Live) -> None:
    client = dial()
    position = client.subscribe("s1", types=["memory.*"])["last_event_id"]
    assert position is None  # nothing recorded yet: a resume would start at the oldest
    store.add("seen")
    (seen,) = client.events(1)
    client.connection.close()
    wait_until(lambda: open_feeds(live.app) == 0, "the server to drop the connection")
    written = [store.add(f"while away {n}").id for n in range(6)]
    again = dial()
    again.subscribe("s1", types=["memory.*"])
    again.send({"type": "resume", "after": seen["event"]["id"]})
    # Events sent before "resumed" are superseded by the replay that follows it.
    while (message := again.recv())["type"] != "resumed":
        assert message["type"] in ("event", "ping")
    replay = again.events(6)
    assert [e["event"]["data"]["id"] for e in replay] == written
    expected = [e.id for e in store.events.feed(after=seen["event"]["id"])]
    assert [e["event"]["id"] for e in replay] == expected


def test_a_users_positions_are_sealed_and_resume_from_where_they_name(
    dial: Callable[..., Client], store: MemoryStore
) -> None:
    store.add("bob's note", user_id="bob")
    bobs_event = store.events.feed(start="latest").seek()
    alice = dial(ALICE_KEY)
    position = alice.subscribe("s1")["last_event_id"]  # the store's newest event: bob's
    assert position.startswith("pos_") and bobs_event is not None and bobs_event not in position
    alice.connection.close()
    store.add("bob again", user_id="bob")
    mine = store.add("alice while away", user_id="alice")
    again = dial(ALICE_KEY)
    again.subscribe("s1")
    again.send({"type": "resume", "after": position})
    while (message := again.recv())["type"] != "resumed":
        assert message["type"] in ("event", "ping")
    assert message["last_event_id"].startswith("pos_")
    (replayed,) = again.events(1)
    assert replayed["event"]["data"]["id"] == mine.id and replayed["event"]["user_id"] == "alice"
    admin = dial()
    assert admin.subscribe("s1")["last_event_id"] == store.events.feed(start="latest").seek()  # bare for admins
    again.send({"type": "resume", "after": "pos_" + "A" * 60, "id": "r"})
    error = again.expect("error")
    assert error["id"] == "r" and error["error"]["code"] == "not_found"


def test_resume_before_subscribing_starts_the_first_subscription_there(
    dial: Callable[..., Client], store: MemoryStore
) -> None:
    first = store.add("first")
    store.add("second")
    client = dial()
    client.send({"type": "resume", "after": None})  # from the oldest kept
    resumed = client.expect("resumed")
    assert resumed["last_event_id"] is None
    client.subscribe("s1")
    events = client.events(2)
    assert events[0]["event"]["data"]["id"] == first.id


def test_resume_with_an_unknown_id_is_an_error_and_changes_nothing(
    dial: Callable[..., Client], store: MemoryStore
) -> None:
    client = dial()
    client.subscribe("s1")
    client.send({"type": "resume", "id": "r1", "after": "evt_never_recorded"})
    error = client.expect("error")
    assert error["id"] == "r1"
    assert error["error"]["code"] == "not_found"
    assert error["error"]["details"] == {"id": "evt_never_recorded", "kind": "event", "field": "after"}
    fresh = store.add("still delivered")
    assert client.events(1)[0]["event"]["data"]["id"] == fresh.id


def test_a_client_that_does_not_answer_heartbeats_is_closed(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_heartbeat_interval_s=0.05, ws_heartbeat_timeout_s=0.2)) as running:
        connection = open_ws(running.ws_url)
        client = Client(connection)
        ready = client.expect("ready")
        assert ready["heartbeat_interval_s"] == 0.05
        assert client.expect("ping", skip_pings=False) == {"type": "ping"}
        code, reason = client.closed_with()  # no pong: the server gives up
        assert code == 1011 and "heartbeat" in reason


def test_a_client_answering_heartbeats_stays_connected(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_heartbeat_interval_s=0.05, ws_heartbeat_timeout_s=0.5)) as running:
        connection = open_ws(running.ws_url)
        client = Client(connection)
        client.expect("ready")
        for _ in range(5):
            client.expect("ping", skip_pings=False)
            client.send({"type": "pong"})
        client.subscribe("s1")
        created = store.add("still here")
        assert client.events(1)[0]["event"]["data"]["id"] == created.id


def test_the_message_rate_limit_drops_excess_messages(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_message_rate="3/minute")) as running:
        connection = open_ws(running.ws_url)
        client = Client(connection)
        client.expect("ready")
        for _ in range(3):
            client.send({"type": "ping"})
            client.expect("pong")
        client.send({"type": "ping", "id": "p4"})
        error = client.expect("error")
        assert error["id"] == "p4"
        assert error["error"]["code"] == "rate_limited"
        assert error["error"]["details"]["limit"] == "ws_message_rate"
        assert error["error"]["details"]["retry_after"] >= 1
        client.send({"type": "pong"})  # pongs are free and do not count
        client.send({"type": "ping"})
        assert client.expect("error")["error"]["code"] == "rate_limited"


def test_the_connection_cap_closes_extra_connections_with_1013(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_max_connections=2)) as running:
        first = open_ws(running.ws_url)
        Client(first).expect("ready")
        Client(open_ws(running.ws_url)).expect("ready")
        client = Client(open_ws(running.ws_url))
        error = client.expect("error")
        assert error["error"]["code"] == "too_many_connections"
        assert error["error"]["details"] == {"limit": "ws_max_connections", "maximum": 2}
        assert client.closed_with()[0] == 1013
        first.close()
        wait_until(lambda: hub_of(running.app).sockets == 1, "the first connection to be released")
        assert Client(open_ws(running.ws_url)).expect("ready")["type"] == "ready"


def test_a_bad_key_is_refused_with_4401(dial: Callable[..., Client]) -> None:
    client = dial("not-a-key", ready=False)
    error = client.expect("error")
    assert error["error"]["code"] == "unauthenticated"
    assert client.closed_with()[0] == 4401


def test_no_credentials_and_no_auth_message_is_refused(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_auth_timeout_s=0.1)) as running:
        connection = open_ws(running.ws_url, None)
        client = Client(connection)
        assert client.expect("error")["error"]["code"] == "unauthenticated"
        assert client.closed_with()[0] == 4401


def test_a_first_message_that_is_not_auth_is_refused(dial: Callable[..., Client]) -> None:
    client = dial(None, ready=False)
    client.send({"type": "subscribe", "id": "s1"})
    assert client.expect("error")["error"]["code"] == "unauthenticated"
    assert client.closed_with()[0] == 4401


def test_a_first_auth_message_authenticates(dial: Callable[..., Client], store: MemoryStore) -> None:
    client = dial(None, ready=False)
    client.send({"type": "auth", "api_key": ALICE_KEY})
    ready = client.expect("ready")
    assert ready["user_id"] == "alice" and ready["admin"] is False
    bearer = dial(None, ready=False)
    bearer.send({"type": "auth", "token": BOB_KEY})
    assert bearer.expect("ready")["user_id"] == "bob"


def test_non_admins_cannot_subscribe_to_other_users(dial: Callable[..., Client], store: MemoryStore) -> None:
    alice = dial(ALICE_KEY)
    alice.send({"type": "subscribe", "id": "spy", "filter": {"user_id": "bob"}})
    error = alice.expect("error")
    assert error["id"] == "spy" and error["error"]["code"] == "forbidden"
    own = alice.subscribe("own")
    assert own["filter"]["user_id"] == "alice"  # no user named: her own
    store.add("bob's secret", user_id="bob")
    store.add_many([{"text": "an unscoped batch", "user_id": "bob"}])
    mine = store.add("alice's", user_id="alice")
    (event,) = alice.events(1)  # nothing of Bob's came first
    assert event["subscription"] == "own" and event["event"]["data"]["id"] == mine.id


def test_bad_messages_get_errors_and_the_connection_stays(dial: Callable[..., Client]) -> None:
    client = dial()
    client.connection.send("not json")
    assert client.expect("error")["error"]["code"] == "validation_error"
    client.send({"type": "teleport"})
    assert client.expect("error")["error"]["details"] == {"field": "type"}
    client.send({"type": "subscribe", "id": "s1", "types": ["Not A Pattern"]})
    assert client.expect("error")["error"]["details"] == {"field": "types"}
    client.send({"type": "subscribe", "id": "s1", "filter": {"tags": ["x"]}})
    assert client.expect("error")["error"]["details"] == {"field": "filter"}
    client.send({"type": "subscribe", "id": ""})
    assert client.expect("error")["error"]["details"] == {"field": "id"}
    client.send({"type": "ping"})
    assert client.expect("pong")["type"] == "pong"


def test_too_many_subscriptions_is_a_limit_error(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_max_subscriptions=2)) as running:
        connection = open_ws(running.ws_url)
        client = Client(connection)
        client.expect("ready")
        client.subscribe("a")
        client.subscribe("b")
        client.subscribe("a", types=["memory.deleted"])  # replacing one is fine
        client.send({"type": "subscribe", "id": "c"})
        error = client.expect("error")["error"]
        assert error["code"] == "limit_exceeded"
        assert error["details"] == {"limit": "ws_max_subscriptions", "maximum": 2, "actual": 3}


def test_an_oversized_message_closes_with_1009(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_max_message_bytes=256)) as running:
        connection = open_ws(running.ws_url)
        client = Client(connection)
        client.expect("ready")
        client.send({"type": "ping", "padding": "x" * 300})
        assert client.closed_with()[0] == 1009


def test_server_shutdown_closes_sockets_promptly(store: MemoryStore, open_ws: Opener) -> None:
    running = start(stream_app(store))
    connection = open_ws(running.ws_url)
    client = Client(connection)
    client.expect("ready")
    client.subscribe("s1")
    running.stop()
    assert client.closed_with()[0] == 1012


@pytest.mark.parametrize(("api_key", "close_code"), [(WRITE_ONLY_KEY, 4403), (SPENT_KEY, 4429)])
def test_guard_refusals_map_to_close_codes(dial: Callable[..., Client], api_key: str, close_code: int) -> None:
    client = dial(api_key, ready=False)
    assert client.expect("error")["error"]["code"] in ("forbidden", "rate_limited")
    assert client.closed_with()[0] == close_code


def test_a_connection_spends_one_read(live: Live, dial: Callable[..., Client]) -> None:
    guard = live.app.state.guard
    guard.calls.clear()
    client = dial()
    client.subscribe("s1")
    client.send({"type": "ping"})
    client.expect("pong")
    assert guard.calls == [("read", "reads")]


def test_credentials_in_the_url_are_not_taken(store: MemoryStore, open_ws: Opener) -> None:
    with serving(stream_app(store, ws_auth_timeout_s=0.1)) as running:
        client = Client(open_ws(f"{running.ws_url}?api_key={ADMIN_KEY}&token={ADMIN_KEY}", None))
        assert client.expect("error")["error"]["code"] == "unauthenticated"
        assert client.closed_with()[0] == 4401


def test_a_closing_server_refuses_new_sockets_with_1013(live: Live, dial: Callable[..., Client]) -> None:
    close_streams(live.app)
    client = dial(ready=False)
    assert client.expect("error")["error"]["code"] == "shutting_down"
    assert client.closed_with()[0] == 1013


def test_a_store_that_closes_under_a_socket_is_reported(
    open_store: Callable[..., MemoryStore], open_ws: Opener
) -> None:
    doomed = open_store("doomed", settings=ALWAYS)
    with serving(stream_app(doomed, poll_interval_s=0.05)) as running:
        client = Client(open_ws(running.ws_url))
        client.expect("ready")
        client.subscribe("s1")
        doomed.close()
        error = client.expect("error")
        assert error["id"] is None and error["error"]["code"] == "store_closed"
        assert client.closed_with()[0] == 1011


def test_a_client_too_slow_to_take_a_message_is_closed_with_1008() -> None:
    from memorylink.server.streams import StreamSettings
    from memorylink.server.streams.ws import _ConnectionClosedError, _Session

    closed: list[int] = []

    class Stuck:
        """A websocket whose peer never takes anything."""

        application_state = WebSocketState.CONNECTED

        async def send_text(self, text: str) -> None:
            await anyio.sleep_forever()

        async def close(self, code: int, reason: str) -> None:
            closed.append(code)

    async def main() -> None:
        session = _Session(Stuck(), None, StreamSettings(send_timeout_s=0.05), None, None, "req", None, None)  # type: ignore[arg-type]
        with pytest.raises(_ConnectionClosedError):
            await session.send({"type": "ping"})

    anyio.run(main)
    assert closed == [1008]


def test_a_store_without_the_full_outbox_refuses_sockets(
    open_store: Callable[..., MemoryStore], open_ws: Opener
) -> None:
    with serving(stream_app(open_store("auto"))) as running:
        client = Client(open_ws(running.ws_url))
        error = client.expect("error")["error"]
        assert error["code"] == "events_unavailable" and error["details"]["required"] == "always"
        assert client.closed_with()[0] == 1013


def test_clients_leaving_log_no_errors(
    live: Live,
    dial: Callable[..., Client],
    store: MemoryStore,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    caplog.set_level(logging.WARNING)
    uvicorn_log = logging.getLogger("uvicorn")  # it does not propagate to the root logger caplog watches
    uvicorn_log.addHandler(caplog.handler)
    request.addfinalizer(lambda: uvicorn_log.removeHandler(caplog.handler))
    client = dial()
    client.subscribe("s1")
    store.add("one")
    client.events(1)
    client.connection.close()
    refused = dial("not-a-key", ready=False)
    refused.closed_with()
    wait_until(lambda: hub_of(live.app).sockets == 0, "both connections to be released")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_an_unexpected_failure_mid_stream_closes_with_an_internal_error(
    dial: Callable[..., Client], store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = dial()
    client.subscribe("s1")

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug, say")

    monkeypatch.setattr(store.events, "feed", broken)
    store.add("wakes the feed")
    error = client.expect("error")
    assert error["error"]["code"] == "internal_error"
    assert client.closed_with()[0] == 1011
