"""Authentication and rate limits on a real uvicorn server on 127.0.0.1, through httpx and the remote client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from server_helpers import LiveServer, start_server, stop_server

from memorylink import MemoryStore
from memorylink.client import RemoteStore
from memorylink.errors import AuthenticationError, PermissionDeniedError, RateLimitError
from memorylink.server import ServerSettings, create_app
from memorylink.server.auth import Accounts
from memorylink.server.ratelimit import RateLimitSettings

PASSWORD = "a long account password"
LIMITS = RateLimitSettings(writes="3/minute", reads="1000/minute", searches="1000/minute")


@pytest.fixture
def live(store: MemoryStore) -> Iterator[LiveServer]:
    accounts = Accounts(store.app_data)
    accounts.add_user("alice", PASSWORD)
    server = start_server(create_app(store, ServerSettings(rate_limits=LIMITS)))
    try:
        yield server
    finally:
        stop_server(server)


def test_a_login_and_a_key_over_a_real_socket(live: LiveServer, store: MemoryStore) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        assert http.get("/api/v1/memories").status_code == 401
        token = http.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).json()
        as_alice = {"Authorization": f"Bearer {token['access_token']}"}
        made = http.post("/api/v1/keys", json={"name": "agent", "scopes": ["read", "write"]}, headers=as_alice)
        assert made.status_code == 201
        key = made.json()["key"]
        created = http.post("/api/v1/memories", json={"text": "over the wire"}, headers={"X-API-Key": key})
        assert created.status_code == 201 and created.json()["user_id"] == "alice"
        assert created.headers["RateLimit-Limit"] == "3"


def test_the_remote_client_with_a_key_and_its_errors(live: LiveServer, store: MemoryStore) -> None:
    accounts = Accounts(store.app_data)
    writer = accounts.create_key(username="alice")
    reader = accounts.create_key(username="alice", scopes=["read"])
    with RemoteStore(live.url, api_key=writer.key, retries=0) as remote:
        memory = remote.add("the remote client authenticates")
        assert memory.user_id == "alice"
        assert remote.get(memory.id) == memory
        remote.add("second")
        remote.add("third")
        with pytest.raises(RateLimitError) as limited:
            remote.add("one too many")
        assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    with RemoteStore(live.url, api_key=reader.key, retries=0) as remote, pytest.raises(PermissionDeniedError):
        remote.update(memory.id, text="read-only keys do not write")
    accounts.revoke_key(writer.id)
    with RemoteStore(live.url, api_key=writer.key, retries=0) as remote, pytest.raises(AuthenticationError) as refused:
        remote.get(memory.id)
    assert not isinstance(refused.value, PermissionDeniedError)
    assert store.get(memory.id, user_id="alice").text == "the remote client authenticates"
