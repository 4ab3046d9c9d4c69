"""/api/v1/webhooks: CRUD, test, deliveries, redeliver, rotation, and who may see which endpoint."""

from __future__ import annotations

import time
from typing import Any

from server_helpers import ALICE, ALICE_READER, BOB, Api, assert_error

from memorylink import MemoryStore
from memorylink.events import Delivery, NewWebhook, WebhookEndpoint

W = "/api/v1/webhooks"


def deliveries_when(api: Api, webhook_id: str, state: str, timeout_s: float = 10.0) -> list[Delivery]:
    """The endpoint's deliveries once one is in ``state`` (polled with a deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [Delivery.model_validate(d) for d in api.get(f"{W}/{webhook_id}/deliveries").json()]
        if any(d.state == state for d in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def create(api: Api, url: str, **fields: object) -> NewWebhook:
    response = api.post(W, json={"url": url, **fields})
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"  # the signing secret is in this answer
    return NewWebhook.model_validate(response.json())


def test_crud(api: Api, store: MemoryStore) -> None:
    made = create(api, "https://example.com/hook", events=["memory.*"], description="ops")
    assert made.secret.startswith("whsec_")
    assert store.webhooks.get(made.id).url == "https://example.com/hook"
    listed = [WebhookEndpoint.model_validate(e) for e in api.get(W).json()]
    assert [e.id for e in listed] == [made.id]
    assert "secret" not in api.get(W).json()[0]
    fetched = WebhookEndpoint.model_validate(api.get(f"{W}/{made.id}").json())
    assert fetched.description == "ops"
    changed = api.patch(f"{W}/{made.id}", json={"events": ["memory.created"], "description": None, "enabled": False})
    assert changed.status_code == 200, changed.text
    endpoint = WebhookEndpoint.model_validate(changed.json())
    assert (endpoint.events, endpoint.description, endpoint.enabled) == (["memory.created"], None, False)
    assert store.webhooks.get(made.id).enabled is False
    resumed = WebhookEndpoint.model_validate(api.patch(f"{W}/{made.id}", json={"enabled": True}).json())
    assert resumed.enabled is True and resumed.events == ["memory.created"]
    assert api.delete(f"{W}/{made.id}").status_code == 204
    assert store.webhooks.list() == []
    assert_error(api.get(f"{W}/{made.id}"), 404, "not_found")
    assert_error(api.delete(f"{W}/{made.id}"), 404, "not_found")


def test_validation_errors_name_the_field(api: Api) -> None:
    bad_url = assert_error(api.post(W, json={"url": "ftp://example.com"}), 422, "validation_error")
    assert bad_url["details"]["field"] == "url"
    bad_timeout = assert_error(api.post(W, json={"url": "https://e.com", "timeout_s": 99}), 422, "validation_error")
    assert bad_timeout["details"]["field"] == "timeout_s"
    made = create(api, "https://example.com/hook")
    assert_error(api.patch(f"{W}/{made.id}", json={"url": None}), 422, "validation_error")
    assert_error(api.patch(f"{W}/{made.id}", json={"colour": "red"}), 422, "validation_error")
    assert_error(api.get(f"{W}/{made.id}/deliveries", params={"state": "lost"}), 422, "validation_error")


def test_test_event_and_deliveries_and_redeliver(api: Api, receiver: Any) -> None:
    made = create(api, receiver.url)
    sent = api.post(f"{W}/{made.id}/test")
    assert sent.status_code == 200
    assert sent.json()["outcome"] == "delivered" and sent.json()["status"] == 200
    assert receiver.wait_for(1)[0].json["type"] == "webhook.test"
    api.post("/api/v1/memories", json={"text": "an event to deliver"})
    listed = deliveries_when(api, made.id, "delivered")
    assert [(d.event_type, d.state) for d in listed] == [("memory.created", "delivered")]
    event_id = listed[0].event_id
    again = api.post(f"{W}/{made.id}/deliveries/{event_id}/redeliver")
    assert again.status_code == 200
    assert Delivery.model_validate(again.json()).state == "pending"
    assert_error(api.post(f"{W}/{made.id}/deliveries/evt_unknown/redeliver"), 404, "not_found")


def test_rotate_secret(api: Api, store: MemoryStore) -> None:
    made = create(api, "https://example.com/hook")
    response = api.post(f"{W}/{made.id}/rotate-secret", json={"keep_old_for_s": 60})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    rotated = NewWebhook.model_validate(response.json())
    assert rotated.secret != made.secret
    assert [s.secret for s in store.webhooks.config(made.id).secrets] == [rotated.secret, made.secret]
    assert_error(api.post(f"{W}/{made.id}/rotate-secret", json={"keep_old_for_s": -1}), 422, "validation_error")


def test_non_admin_endpoints_are_their_own(api: Api, store: MemoryStore) -> None:
    alice_api, bob_api = api.as_(ALICE), api.as_(BOB)
    alices = create(alice_api, "https://example.com/alice")
    assert alices.user_id == "alice"
    assert_error(alice_api.post(W, json={"url": "https://example.com/x", "user_id": "bob"}), 403, "forbidden")
    admins = create(api, "https://example.com/all")
    assert admins.user_id is None
    assert [e["id"] for e in alice_api.get(W).json()] == [alices.id]
    assert bob_api.get(W).json() == []
    assert {e["id"] for e in api.get(W).json()} == {alices.id, admins.id}
    for response in (
        bob_api.get(f"{W}/{alices.id}"),
        bob_api.patch(f"{W}/{alices.id}", json={"url": "https://evil.example.com"}),
        bob_api.delete(f"{W}/{alices.id}"),
        bob_api.post(f"{W}/{alices.id}/test"),
        bob_api.get(f"{W}/{alices.id}/deliveries"),
        bob_api.post(f"{W}/{alices.id}/rotate-secret", json={}),
        bob_api.post(f"{W}/{alices.id}/deliveries/evt_x/redeliver"),
        alice_api.get(f"{W}/{admins.id}"),
    ):
        error = assert_error(response, 404, "not_found")
        assert "example.com" not in str(error)
    assert store.webhooks.get(alices.id).url == "https://example.com/alice"
    # Clearing user_id would widen the endpoint to every user's events.
    assert_error(alice_api.patch(f"{W}/{alices.id}", json={"user_id": None}), 403, "forbidden")
    assert_error(alice_api.patch(f"{W}/{alices.id}", json={"user_id": "bob"}), 403, "forbidden")
    assert store.webhooks.get(alices.id).user_id == "alice"
    assert alice_api.patch(f"{W}/{alices.id}", json={"user_id": "alice"}).status_code == 200
    assert_error(api.as_(ALICE_READER).post(W, json={"url": "https://example.com/r"}), 403, "forbidden")
    assert api.as_(ALICE_READER).get(W).status_code == 200


def test_a_bare_event_string_is_accepted(api: Api) -> None:
    made = create(api, "https://example.com/hook", events="memory.*")
    assert made.events == ["memory.*"]
