"""The event streams behind the real guard: API keys, JWTs, revocation, and each user's own events only."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from auth_helpers import GENEROUS, AuthApp, make_auth_app
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from memorylink import MemoryStore
from stream_helpers import ALWAYS, WAIT_S, Live, serving

EVENTS = "/api/v1/events"


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store(settings=ALWAYS)


@pytest.fixture
def auth(store: MemoryStore) -> AuthApp:
    return make_auth_app(store)


@pytest.fixture
def live(auth: AuthApp) -> Iterator[Live]:
    with serving(auth.app) as running:
        yield running


def sse_events(live: Live, headers: dict[str, str]) -> list[dict[str, object]]:
    params = {"start": "oldest", "follow": "false"}
    with httpx.stream("GET", live.url + EVENTS, headers=headers, params=params, timeout=WAIT_S) as response:
        assert response.status_code == 200, response.read()
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def test_api_keys_stream_only_their_own_user_s_events(live: Live, auth: AuthApp, store: MemoryStore) -> None:
    alice_key = auth.key(user_id="alice", scopes=("read",))
    bob_key = auth.key(user_id="bob")
    store.add("alice's note", user_id="alice")
    store.add("bob's note", user_id="bob")
    store.add_many(["nobody's"])
    alice = sse_events(live, {"X-API-Key": alice_key})
    bob = sse_events(live, {"Authorization": f"Bearer {bob_key}"})
    assert {e["user_id"] for e in alice} == {"alice"}
    assert {e["user_id"] for e in bob} == {"bob"}
    # Her key's use is an event of hers (emitted by the guard before the stream began).
    assert "api_key.used" in [e["type"] for e in alice]
    assert "memory.created" in [e["type"] for e in alice]
    refused = httpx.get(live.url + EVENTS, headers={"X-API-Key": alice_key}, params={"user_id": "bob"}, timeout=WAIT_S)
    assert refused.status_code == 403


def test_a_revoked_key_is_refused_on_both_routes(live: Live, auth: AuthApp) -> None:
    created = auth.service.accounts.create_key(user_id="carol", scopes=("read",))
    auth.service.accounts.revoke_key(created.id)
    response = httpx.get(live.url + EVENTS, headers={"X-API-Key": created.key}, timeout=WAIT_S)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    with connect(live.ws_url, additional_headers={"X-API-Key": created.key}, open_timeout=WAIT_S) as ws:
        assert json.loads(ws.recv(timeout=WAIT_S))["error"]["code"] == "unauthenticated"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_a_jwt_in_the_first_message_opens_a_socket_for_that_user(live: Live, auth: AuthApp, store: MemoryStore) -> None:
    auth.add_user("dora", user_id="dora")
    token = auth.login("dora")
    with connect(live.ws_url, open_timeout=WAIT_S) as ws:
        ws.send(json.dumps({"type": "auth", "token": token}))
        ready = json.loads(ws.recv(timeout=WAIT_S))
        assert ready["type"] == "ready" and ready["user_id"] == "dora" and ready["admin"] is False
        ws.send(json.dumps({"type": "subscribe", "id": "mine", "types": ["memory.*"]}))
        assert json.loads(ws.recv(timeout=WAIT_S))["filter"]["user_id"] == "dora"
        store.add("someone else's", user_id="erin")
        mine = store.add("dora's", user_id="dora")
        message = json.loads(ws.recv(timeout=WAIT_S))
    assert message["type"] == "event" and message["event"]["data"]["id"] == mine.id


def test_a_key_revoked_mid_stream_ends_the_streams(store: MemoryStore) -> None:
    from memorylink.server import ServerSettings, create_app
    from memorylink.server.auth import build_guard
    from memorylink.server.streams import StreamSettings
    from stream_helpers import SSEReader

    settings = ServerSettings(rate_limits=GENEROUS, streams=StreamSettings(reauth_interval_s=0.1, poll_interval_s=0.05))
    guard = build_guard(store, settings)
    app = create_app(store, settings, guard=guard)
    created = guard.service.accounts.create_key(user_id="frank", scopes=("read",))
    with serving(app) as running:
        reader = SSEReader(running.url + EVENTS, headers={"X-API-Key": created.key})
        with connect(running.ws_url, additional_headers={"X-API-Key": created.key}, open_timeout=WAIT_S) as ws:
            assert json.loads(ws.recv(timeout=WAIT_S))["type"] == "ready"
            reader.next()
            store.add("seen while the key is good", user_id="frank")
            assert reader.events(1)[0].json()["user_id"] == "frank"
            guard.service.accounts.revoke_key(created.id)
            store.add("after the revocation", user_id="frank")
            # Within reauth_interval_s the stream checks the key again and ends with the error.
            while (frame := reader.next()).event != "error":
                assert frame.json()["user_id"] == "frank"
            assert frame.json()["error"]["code"] == "unauthenticated"
            assert reader.ended()
            while (message := json.loads(ws.recv(timeout=WAIT_S)))["type"] == "ping":
                pass
            assert message["type"] == "error" and message["error"]["code"] == "unauthenticated"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=WAIT_S)
        reader.close()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
