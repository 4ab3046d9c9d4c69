"""With real credentials, user A reaches none of user B's data on any route, and learns nothing of it.

Each case calls a route as alice (a JWT from the password flow, or her API key) about bob's
memories or webhooks, checks the status, and checks that no response body holds bob's
texts, tags, memory ids or webhook ids (beyond an id the request itself named).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from auth_helpers import AuthApp, bearer, make_auth_app

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

BOB_TEXT = "bobsecretzebra lives at 12 hidden lane"
BOB_TAG = "bobprivatetag"
BY_BOB_TAG = {"tags": {"any": [BOB_TAG]}}
ALICE_TEXT = "alice keeps her notes about zebra crossings"


@pytest.fixture
def world(tmp_path) -> Iterator[tuple[AuthApp, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    settings = Settings(events=EventSettings(outbox="always", deliver=False))
    with MemoryStore.open(tmp_path / "s", key=bytes(range(32)), embedder=HashingEmbedder(), settings=settings) as store:
        app = make_auth_app(store)
        app.add_user("alice")
        app.add_user("bob")
        bob_memory = store.add(BOB_TEXT, tags=[BOB_TAG], metadata={"secret": BOB_TAG}, user_id="bob")
        store.update(bob_memory.id, text=BOB_TEXT + " (edited)", user_id="bob")
        bob_hook = store.webhooks.add("https://bob.example.com/hook", user_id="bob", description=BOB_TAG)
        store.add(BOB_TEXT + " again", tags=[BOB_TAG], user_id="bob")  # an event the hook has seen
        alice_memory = store.add(ALICE_TEXT, user_id="alice")
        events = [e.id for e in store.events.feed() if e.user_id == "bob"]
        yield (
            app,
            {
                "bob_memory": bob_memory.id,
                "bob_hook": bob_hook.id,
                "bob_event": events[-1],
                "alice_memory": alice_memory.id,
                "bob_ids": [m.id for m in store.list(user_id="bob").items],
            },
        )


def _secrets(facts: dict[str, Any]) -> list[str]:
    return [BOB_TEXT[:14], BOB_TAG, facts["bob_hook"], "bob.example.com", *facts["bob_ids"]]


def _cases(facts: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], set[int]]]:
    memory, hook, event = facts["bob_memory"], facts["bob_hook"], facts["bob_event"]
    return [
        # memories: reads
        ("GET", "/api/v1/memories", {"params": {"user_id": "bob"}}, {403}),
        ("GET", "/api/v1/memories", {}, {200}),
        ("GET", "/api/v1/memories", {"params": {"filter": '{"user_id": "bob"}'}}, {200, 403, 422}),
        ("GET", f"/api/v1/memories/{memory}", {}, {404}),
        ("GET", f"/api/v1/memories/{memory}", {"params": {"user_id": "bob"}}, {403, 404}),
        ("GET", f"/api/v1/memories/{memory}/history", {}, {404}),
        ("GET", f"/api/v1/memories/{memory}/similar", {}, {404}),
        ("GET", f"/api/v1/memories/{facts['alice_memory']}/similar", {"params": {"top_k": 10}}, {200}),
        ("POST", "/api/v1/memories/search", {"json": {"query": "bobsecretzebra hidden lane"}}, {200}),
        ("POST", "/api/v1/memories/search", {"json": {"query": "zebra", "user_id": "bob"}}, {403}),
        ("POST", "/api/v1/memories/search", {"json": {"query": "zebra", "filter": BY_BOB_TAG}}, {200}),
        ("POST", "/api/v1/memories/search/vector", {"json": {"vector": [0.05] * 384, "top_k": 50}}, {200}),
        ("POST", "/api/v1/memories/search/vector", {"json": {"vector": [0.05] * 384, "user_id": "bob"}}, {403}),
        # memories: writes
        ("PATCH", f"/api/v1/memories/{memory}", {"json": {"text": "hijacked"}}, {404}),
        ("PATCH", f"/api/v1/memories/{memory}", {"json": {"tags": ["x"]}, "params": {"user_id": "bob"}}, {403, 404}),
        ("DELETE", f"/api/v1/memories/{memory}", {}, {404}),
        ("POST", "/api/v1/memories", {"json": {"text": "planted", "user_id": "bob"}}, {403}),
        ("POST", "/api/v1/memories/batch", {"json": {"items": [{"text": "planted", "user_id": "bob"}]}}, {200, 403}),
        ("POST", "/api/v1/memories/delete", {"json": {"ids": facts["bob_ids"]}}, {200}),
        ("POST", "/api/v1/memories/delete", {"json": {"filter": {}, "user_id": "bob"}}, {403}),
        (
            "POST",
            "/api/v1/memories/messages",
            {"json": {"messages": [{"role": "user", "content": "planted"}], "user_id": "bob"}},
            {403},
        ),
        ("GET", "/api/v1/stats", {}, {403}),
        # webhooks
        ("GET", "/api/v1/webhooks", {}, {200}),
        ("GET", f"/api/v1/webhooks/{hook}", {}, {404}),
        ("PATCH", f"/api/v1/webhooks/{hook}", {"json": {"url": "https://evil.example.com/"}}, {404}),
        ("DELETE", f"/api/v1/webhooks/{hook}", {}, {404}),
        ("POST", f"/api/v1/webhooks/{hook}/test", {}, {404}),
        ("POST", f"/api/v1/webhooks/{hook}/rotate-secret", {"json": {}}, {404}),
        ("GET", f"/api/v1/webhooks/{hook}/deliveries", {}, {404}),
        ("POST", f"/api/v1/webhooks/{hook}/deliveries/{event}/redeliver", {}, {404}),
        ("POST", "/api/v1/webhooks", {"json": {"url": "https://evil.example.com/", "user_id": "bob"}}, {403}),
        # event stream and keys
        ("GET", "/api/v1/events", {"params": {"user_id": "bob"}}, {403}),
        ("GET", "/api/v1/keys", {"params": {"user_id": "bob"}}, {403}),
    ]


@pytest.mark.parametrize("credential", ["jwt", "api_key"])
def test_alice_reaches_nothing_of_bob_s(world: tuple[AuthApp, dict[str, Any]], credential: str) -> None:
    app, facts = world
    store = app.service.store
    headers = bearer(app.login("alice")) if credential == "jwt" else {"X-API-Key": app.key(username="alice")}
    before = [(m.id, m.text, m.version) for m in store.list(user_id="bob").items]
    hook_before = store.webhooks.config(facts["bob_hook"])
    for method, path, kwargs, allowed in _cases(facts):
        response = app.client.request(method, path, headers=headers, **kwargs)
        assert response.status_code in allowed, (method, path, kwargs, response.status_code, response.text)
        sent = path + json.dumps(kwargs)  # an id the caller sent may be echoed in its 404, nothing else
        for secret in _secrets(facts):
            if secret not in sent:
                assert secret not in response.text, (method, path, secret)
    # Nothing of bob's changed, and nothing was planted in his name.
    assert [(m.id, m.text, m.version) for m in store.list(user_id="bob").items] == before
    assert store.webhooks.config(facts["bob_hook"]) == hook_before
    assert all("planted" not in m.text for m in store.list(user_id="bob").items)


def test_the_same_calls_as_bob_do_reach_his_data(world: tuple[AuthApp, dict[str, Any]]) -> None:
    """The control: the refusals above are about who asks, not about broken routes."""
    app, facts = world
    headers = bearer(app.login("bob"))
    memory, hook = facts["bob_memory"], facts["bob_hook"]
    assert app.client.get(f"/api/v1/memories/{memory}", headers=headers).json()["text"].startswith(BOB_TEXT)
    assert len(app.client.get(f"/api/v1/memories/{memory}/history", headers=headers).json()) == 2
    hits = app.client.post("/api/v1/memories/search", json={"query": "bobsecretzebra"}, headers=headers).json()
    assert memory in [hit["memory"]["id"] for hit in hits["hits"]]
    assert app.client.get(f"/api/v1/webhooks/{hook}", headers=headers).status_code == 200
    assert BOB_TAG in app.client.get("/api/v1/memories", headers=headers).text
