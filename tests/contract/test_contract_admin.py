"""Contract: stats, webhooks CRUD and the lifecycle on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from memorylink import NotFoundError, StoreClosedError, StoreStats, ValidationError
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.events import NewWebhook, WebhookEndpoint

HOOK = "https://hooks.example.com/memorylink"


def test_stats(make_store: Any) -> None:
    store = make_store(on_disk=True)
    store.add("a", user_id="u1")
    store.add("b", user_id="u2")
    memory = store.add("c", user_id="u2")
    store.update(memory.id, text="c2")
    stats = store.stats()
    assert isinstance(stats, StoreStats)
    assert (stats.memories, stats.users, stats.history_versions, stats.index_entries) == (3, 2, 1, 3)
    assert (stats.dimension, stats.embedder) == (384, HashingEmbedder().name)
    assert stats.disk_bytes > 0 and stats.schema_version >= 1 and stats.key_id


def test_stats_follow_deletes(store: Any) -> None:
    ids = [store.add(f"n {i}").id for i in range(3)]
    store.delete(ids[0])
    stats = store.stats()
    assert (stats.memories, stats.index_entries) == (2, 2)


def test_webhook_add_returns_the_secret_once(store: Any) -> None:
    created = store.webhooks.add(HOOK, events=["memory.*"], description="crm sync", timeout_s=5.0)
    assert isinstance(created, NewWebhook)
    assert created.secret.startswith("whsec_") and created.url == HOOK
    assert (created.events, created.description, created.timeout_s, created.enabled) == (
        ["memory.*"],
        "crm sync",
        5.0,
        True,
    )
    listed = store.webhooks.list()
    assert [w.id for w in listed] == [created.id]
    assert isinstance(listed[0], WebhookEndpoint) and not hasattr(listed[0], "secret")
    assert listed[0].secret_hint == created.secret[:10] + "..."


def test_webhook_get_update_enable_disable_remove(store: Any) -> None:
    created = store.webhooks.add(HOOK, events="memory.created", bearer_token="tok")
    assert store.webhooks.get(created.id).has_bearer_token is True
    updated = store.webhooks.update(created.id, events=["memory.deleted"], description="note", bearer_token=None)
    assert (updated.events, updated.description, updated.has_bearer_token) == (["memory.deleted"], "note", False)
    assert store.webhooks.update(created.id, description=None).description is None
    assert store.webhooks.disable(created.id).enabled is False
    assert store.webhooks.get(created.id).enabled is False
    assert store.webhooks.enable(created.id).enabled is True
    assert store.webhooks.remove(created.id) is True
    assert store.webhooks.remove(created.id) is False
    assert store.webhooks.list() == []


def test_webhook_not_found(store: Any) -> None:
    with pytest.raises(NotFoundError) as caught:
        store.webhooks.get("wh_missing")
    assert caught.value.kind == "webhook"
    with pytest.raises(NotFoundError):
        store.webhooks.update("wh_missing", description="x")
    with pytest.raises(NotFoundError):
        store.webhooks.deliveries("wh_missing")


def test_webhook_validation(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.webhooks.add("ftp://example.com/hook")
    assert caught.value.field == "url"
    with pytest.raises(ValidationError) as caught:
        store.webhooks.add(HOOK, timeout_s=600)
    assert caught.value.field == "timeout_s"
    assert store.webhooks.list() == []


def test_webhook_rotate_secret(store: Any) -> None:
    created = store.webhooks.add(HOOK)
    rotated = store.webhooks.rotate_secret(created.id, keep_old_for_s=60)
    assert rotated.secret != created.secret and rotated.secret.startswith("whsec_")
    assert store.webhooks.get(created.id).secret_hint == rotated.secret[:10] + "..."  # signs with the new one
    with pytest.raises(ValidationError) as caught:
        store.webhooks.rotate_secret(created.id, keep_old_for_s=-1)
    assert caught.value.field == "keep_old_for_s"


def test_webhook_deliveries_and_their_filter(store: Any) -> None:
    hook = store.webhooks.add(HOOK, events=["memory.created"])
    store.add("delivered later")
    assert store.webhooks.deliveries(hook.id) == []  # no delivery worker here: nothing attempted yet
    with pytest.raises(ValidationError) as caught:
        store.webhooks.deliveries(hook.id, state="lost")
    assert caught.value.field == "state"


def test_closed_store_raises(make_store: Any) -> None:
    store = make_store()
    store.add("x")
    store.close()
    store.close()
    assert store.closed
    with pytest.raises(StoreClosedError):
        store.add("x")
    with pytest.raises(StoreClosedError):
        store.search("x")


def test_context_manager_closes(make_store: Any) -> None:
    with make_store() as store:
        store.add("inside")
    assert store.closed
