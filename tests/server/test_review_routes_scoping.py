"""Review of the memory and webhook routes: a caller's writes and redeliveries stay within its own user."""

from __future__ import annotations

import time
from typing import Any

from server_helpers import ALICE, Api, assert_error

from memorylink import MemoryStore
from memorylink.events import Delivery, NewWebhook
from memorylink.models import BatchResult, Memory

M = "/api/v1/memories"
W = "/api/v1/webhooks"


def delivered(api: Api, webhook_id: str, event_id: str, timeout_s: float = 10.0) -> bool:
    """Whether the endpoint's delivery of ``event_id`` reached ``delivered`` within the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [Delivery.model_validate(d) for d in api.get(f"{W}/{webhook_id}/deliveries").json()]
        if any(d.event_id == event_id and d.state == "delivered" for d in found):
            return True
        time.sleep(0.02)
    return False


def test_a_user_cannot_redeliver_another_users_event_to_its_own_endpoint(
    api: Api, store: MemoryStore, receiver: Any
) -> None:
    alice = api.as_(ALICE)
    response = alice.post(W, json={"url": receiver.url, "include_text": True})
    assert response.status_code == 201, response.text
    hook = NewWebhook.model_validate(response.json())
    assert hook.user_id == "alice"
    bobs = api.post(M, json={"text": "bob's private diagnosis", "user_id": "bob"}).json()
    alices = alice.post(M, json={"text": "alice's own note"}).json()
    events = {e.data.get("id"): e.id for e in store.events.feed() if e.type == "memory.created"}
    # Alice's endpoint got her event, so its cursor is past Bob's (which it skipped).
    assert delivered(alice, hook.id, events[alices["id"]])
    assert [r.json["data"]["id"] for r in receiver.wait_for(1)] == [alices["id"]]
    error = assert_error(alice.post(f"{W}/{hook.id}/deliveries/{events[bobs['id']]}/redeliver"), 404, "not_found")
    assert "diagnosis" not in str(error)
    assert all(d.event_id != events[bobs["id"]] for d in store.webhooks.deliveries(hook.id))
    # Her own event she may have again.
    again = alice.post(f"{W}/{hook.id}/deliveries/{events[alices['id']]}/redeliver")
    assert again.status_code == 200, again.text


def test_a_batch_item_naming_another_user_fails_alone(api: Api, store: MemoryStore) -> None:
    alice = api.as_(ALICE)
    response = alice.post(f"{M}/batch", json={"items": ["mine", {"text": "for bob", "user_id": "bob"}, {"text": ""}]})
    assert response.status_code == 200, response.text
    result = BatchResult.model_validate(response.json())
    assert (result.succeeded, result.failed) == (1, 2)
    assert [item.index for item in result.items] == [0, 1, 2]
    forbidden = result.items[1].error
    assert forbidden is not None and forbidden.code == "forbidden"
    assert forbidden.details == {"field": "user_id"}
    assert result.items[2].error is not None and result.items[2].error.code == "validation_error"
    stored = store.get(result.items[0].id or "")
    assert stored is not None and stored.user_id == "alice"
    assert store.list(user_id="bob").items == []


def test_an_empty_user_id_on_a_write_is_the_callers_own(api: Api) -> None:
    alice = api.as_(ALICE)
    created = alice.post(M, json={"text": "no user named", "user_id": ""})
    assert created.status_code == 201, created.text
    assert Memory.model_validate(created.json()).user_id == "alice"
    batch = alice.post(f"{M}/batch", json={"items": [{"text": "batch item", "user_id": ""}]})
    assert BatchResult.model_validate(batch.json()).succeeded == 1
    messages = alice.post(f"{M}/messages", json={"messages": [{"role": "user", "content": "hi"}], "user_id": ""})
    assert messages.status_code == 200, messages.text
    ids = BatchResult.model_validate(batch.json()).ids + BatchResult.model_validate(messages.json()).ids
    owners = {Memory.model_validate(alice.get(f"{M}/{i}").json()).user_id for i in ids}
    assert owners == {"alice"}


def test_delete_many_naming_nothing_deletes_nothing_for_a_user_too(api: Api, store: MemoryStore) -> None:
    alice = api.as_(ALICE)
    for text in ("one", "two"):
        assert alice.post(M, json={"text": text}).status_code == 201
    # As locally: with neither ids, filter nor scope nothing is deleted (the caller's own
    # user, filled in by the server, is not a scope the caller gave).
    for body in ({}, {"ids": None, "filter": None}):
        response = alice.post(f"{M}/delete", json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"deleted": 0}
    assert len(store.list(user_id="alice").items) == 2
    assert alice.post(f"{M}/delete", json={"filter": {}}).json() == {"deleted": 2}
