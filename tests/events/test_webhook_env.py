"""A webhook endpoint from MEMORYLINK_WEBHOOK_* variables (read by entry points only)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.errors import ValidationError
from memorylink.events.env import ENV_DESCRIPTION, configure_webhook_from_env, webhook_from_env
from memorylink.events.webhooks import NewWebhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_no_url_means_no_endpoint() -> None:
    assert webhook_from_env({}) is None
    assert webhook_from_env({"MEMORYLINK_WEBHOOK_URL": "  "}) is None


def test_every_variable_is_read() -> None:
    settings = webhook_from_env(
        {
            "MEMORYLINK_WEBHOOK_URL": "https://example.com/hook",
            "MEMORYLINK_WEBHOOK_SECRET": SECRET,
            "MEMORYLINK_WEBHOOK_EVENTS": "memory.created, memory.deleted",
            "MEMORYLINK_WEBHOOK_TIMEOUT": "2.5",
            "MEMORYLINK_WEBHOOK_RETRY_COUNT": "4",
            "MEMORYLINK_WEBHOOK_RETRY_DELAY": "0.5",
        }
    )
    assert settings == {
        "url": "https://example.com/hook",
        "secret": SECRET,
        "events": ["memory.created", "memory.deleted"],
        "timeout_s": 2.5,
        "retry": {"max_attempts": 4, "initial_delay_s": 0.5, "max_delay_s": 900.0},
    }


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEMORYLINK_WEBHOOK_TIMEOUT", "soon"),
        ("MEMORYLINK_WEBHOOK_RETRY_COUNT", "2.5"),
        ("MEMORYLINK_WEBHOOK_RETRY_DELAY", "x"),
    ],
)
def test_bad_numbers_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValidationError, match=variable) as caught:
        webhook_from_env({"MEMORYLINK_WEBHOOK_URL": "https://example.com/hook", variable: value})
    assert caught.value.details["field"] == variable


def test_configure_creates_once_then_updates(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=Settings(events=EventSettings(deliver=False)))
    environ = {"MEMORYLINK_WEBHOOK_URL": "https://example.com/hook", "MEMORYLINK_WEBHOOK_EVENTS": "memory.*"}
    created = configure_webhook_from_env(store.webhooks, environ)
    assert isinstance(created, NewWebhook)  # a generated secret, shown once
    assert created.description == ENV_DESCRIPTION and created.events == ["memory.*"]
    again = configure_webhook_from_env(store.webhooks, {**environ, "MEMORYLINK_WEBHOOK_TIMEOUT": "3"})
    assert again is not None and again.id == created.id and again.timeout_s == 3.0
    assert not isinstance(again, NewWebhook)
    rotated = configure_webhook_from_env(store.webhooks, {**environ, "MEMORYLINK_WEBHOOK_SECRET": SECRET})
    assert isinstance(rotated, NewWebhook) and rotated.secret == SECRET
    assert [s.secret for s in store.webhooks.config(created.id).secrets] == [SECRET]
    assert len(store.webhooks.list()) == 1


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"MEMORYLINK_WEBHOOK_EVENTS": "Memory.Created"}, "MEMORYLINK_WEBHOOK_EVENTS"),
        ({"MEMORYLINK_WEBHOOK_SECRET": "not-a-secret"}, "MEMORYLINK_WEBHOOK_SECRET"),
        ({"MEMORYLINK_WEBHOOK_TIMEOUT": "600"}, "MEMORYLINK_WEBHOOK_TIMEOUT"),
        ({"MEMORYLINK_WEBHOOK_URL": "ftp://example.com"}, "MEMORYLINK_WEBHOOK_URL"),
    ],
)
def test_invalid_settings_name_the_variable(
    open_store: Callable[..., MemoryStore], extra: dict[str, str], variable: str
) -> None:
    store = open_store(settings=Settings(events=EventSettings(deliver=False)))
    environ = {"MEMORYLINK_WEBHOOK_URL": "https://example.com/hook", **extra}
    with pytest.raises(ValidationError, match=variable):
        configure_webhook_from_env(store.webhooks, environ)
    assert store.webhooks.list() == []
