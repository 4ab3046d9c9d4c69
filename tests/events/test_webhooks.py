"""store.webhooks: endpoint management, validation at the edge, secrets shown once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.errors import NotFoundError, ValidationError
from memorylink.events.signing import secret_key

MANUAL = Settings(events=EventSettings(deliver=False))


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store(settings=MANUAL)


def test_add_returns_the_secret_once_and_lists_hide_it(store: MemoryStore) -> None:
    created = store.webhooks.add(
        "https://example.com/hook",
        events=["memory.*"],
        user_id="ann",
        bearer_token="tok-canary-71",
        description="crm sync",
    )
    assert created.id.startswith("wh_")
    assert len(secret_key(created.secret)) == 32
    listed = store.webhooks.list()
    assert [e.id for e in listed] == [created.id]
    endpoint = store.webhooks.get(created.id)
    assert not hasattr(endpoint, "secret")
    assert "tok-canary-71" not in endpoint.model_dump_json() and created.secret not in endpoint.model_dump_json()
    assert endpoint.has_bearer_token and endpoint.secret_hint == created.secret[:10] + "..."
    assert (endpoint.url, endpoint.events, endpoint.user_id, endpoint.enabled) == (
        "https://example.com/hook",
        ["memory.*"],
        "ann",
        True,
    )
    assert store.webhooks.config(created.id).secrets[0].secret == created.secret


def test_a_given_secret_is_kept(store: MemoryStore) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert store.webhooks.add("https://example.com/hook", secret=secret).secret == secret


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "https://user:pw@example.com/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"events": ["Memory.Created"]}, "events"),
        ({"events": ["memory."]}, "events"),
        ({"secret": "plain-text-secret"}, "secret"),
        ({"secret": "whsec_c2hvcnQ="}, "secret"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 3600}, "timeout_s"),
        ({"retry": {"max_attempts": 0}}, "retry"),
        ({"retry": {"unknown": 1}}, "retry"),
        ({"bearer_token": "two\nlines"}, "bearer_token"),
        ({"bearer_token": "tok\u00e9n"}, "bearer_token"),  # not ASCII: no HTTP header could carry it
        ({"bearer_token": "tab\tbed"}, "bearer_token"),
        ({"user_id": ""}, "user_id"),
        ({"description": "x" * 300}, "description"),
        ({"include_text": "yes"}, "include_text"),
    ],
)
def test_bad_settings_name_their_field_and_store_nothing(
    store: MemoryStore, kwargs: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {"url": "https://example.com/hook", **kwargs}
    with pytest.raises(ValidationError) as caught:
        store.webhooks.add(**arguments)
    assert caught.value.details.get("field") == field
    assert store.webhooks.list() == []


def test_update_changes_only_what_is_given_and_none_clears(store: MemoryStore) -> None:
    created = store.webhooks.add("https://example.com/a", events=["memory.created"], user_id="ann", timeout_s=3)
    updated = store.webhooks.update(created.id, url="https://example.com/b", user_id=None)
    assert (updated.url, updated.user_id, updated.events, updated.timeout_s) == (
        "https://example.com/b",
        None,
        ["memory.created"],
        3.0,
    )
    assert updated.updated_at >= created.updated_at
    with pytest.raises(ValidationError):
        store.webhooks.update(created.id, events=["BAD"])
    assert store.webhooks.get(created.id).events == ["memory.created"]
    assert store.webhooks.config(created.id).secrets[0].secret == created.secret


def test_enable_disable_remove_and_not_found(store: MemoryStore) -> None:
    created = store.webhooks.add("https://example.com/hook")
    assert store.webhooks.disable(created.id).enabled is False
    assert store.webhooks.get(created.id).enabled is False
    assert store.webhooks.enable(created.id).enabled is True
    assert store.webhooks.remove(created.id) is True
    assert store.webhooks.remove(created.id) is False
    for call in (store.webhooks.get, store.webhooks.disable, store.webhooks.deliveries, store.webhooks.test):
        with pytest.raises(NotFoundError) as caught:
            call(created.id)
        assert caught.value.details == {"id": created.id, "kind": "webhook"}


def test_rotate_secret_validates_the_overlap(store: MemoryStore) -> None:
    created = store.webhooks.add("https://example.com/hook")
    with pytest.raises(ValidationError):
        store.webhooks.rotate_secret(created.id, keep_old_for_s=-1)
    with pytest.raises(ValidationError):
        store.webhooks.rotate_secret(created.id, keep_old_for_s=30 * 86_400)
    rotated = store.webhooks.rotate_secret(created.id)
    secrets = [s.secret for s in store.webhooks.config(created.id).secrets]
    assert secrets == [rotated.secret, created.secret]


def test_deliveries_validate_state_and_limit(store: MemoryStore) -> None:
    created = store.webhooks.add("https://example.com/hook")
    assert store.webhooks.deliveries(created.id) == []
    with pytest.raises(ValidationError):
        store.webhooks.deliveries(created.id, state="lost")
    with pytest.raises(ValidationError):
        store.webhooks.deliveries(created.id, limit=0)
    with pytest.raises(NotFoundError):
        store.webhooks.redeliver(created.id, "evt_missing")


def test_webhooks_are_shared_by_every_instance_of_the_store(open_store: Callable[..., MemoryStore]) -> None:
    first = open_store(settings=MANUAL)
    second = open_store(settings=MANUAL)
    created = first.webhooks.add("https://example.com/hook")
    assert [e.id for e in second.webhooks.list()] == [created.id]


def test_a_closed_store_refuses(open_store: Callable[..., MemoryStore]) -> None:
    from memorylink.errors import StoreClosedError

    store = open_store(settings=MANUAL)
    store.close()
    with pytest.raises(StoreClosedError):
        store.webhooks.list()


@pytest.mark.parametrize(("events", "listed"), [("all", None), ("*", None), ("none", []), ("memory.*", ["memory.*"])])
def test_events_as_a_bare_string(store: MemoryStore, events: str, listed: list[str] | None) -> None:
    assert store.webhooks.add("https://example.com/hook", events=events).events == listed
