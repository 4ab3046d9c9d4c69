"""RemoteStore has MemoryStore's methods with MemoryStore's signatures (and the async twins match too).

What cannot work over HTTP is listed once, in ``NOT_REMOTE``, with the reason; the
docs page names every entry.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from memorylink import AsyncMemoryStore, MemoryStore
from memorylink.async_store import AsyncWebhookManager
from memorylink.client import AsyncRemoteStore, AsyncRemoteWebhooks, RemoteStore, RemoteWebhooks
from memorylink.client._base import NOT_REMOTE, NOT_REMOTE_WEBHOOKS
from memorylink.events.webhook_manager import WebhookManager

ROOT = Path(__file__).resolve().parents[2]


def public_methods(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))}


@pytest.mark.parametrize(
    ("local", "remote", "excluded"),
    [
        (MemoryStore, RemoteStore, NOT_REMOTE),
        (AsyncMemoryStore, AsyncRemoteStore, NOT_REMOTE),
        (WebhookManager, RemoteWebhooks, NOT_REMOTE_WEBHOOKS),
        (AsyncWebhookManager, AsyncRemoteWebhooks, NOT_REMOTE_WEBHOOKS),
    ],
    ids=["store", "async-store", "webhooks", "async-webhooks"],
)
def test_same_methods_and_signatures(local: type, remote: type, excluded: dict[str, str]) -> None:
    assert set(excluded) <= public_methods(local), "an exclusion names a method the local class lacks"
    assert public_methods(remote) == public_methods(local) - set(excluded)
    for name in public_methods(remote):
        assert inspect.signature(getattr(remote, name)) == inspect.signature(getattr(local, name)), name
        local_is_async = inspect.iscoroutinefunction(getattr(local, name))
        assert inspect.iscoroutinefunction(getattr(remote, name)) == local_is_async, name
        assert getattr(remote, name).__doc__, name


def test_sync_and_async_clients_match() -> None:
    assert public_methods(RemoteStore) == public_methods(AsyncRemoteStore)
    assert public_methods(RemoteWebhooks) == public_methods(AsyncRemoteWebhooks)
    sync = inspect.signature(RemoteStore.__init__).parameters
    asynchronous = inspect.signature(AsyncRemoteStore.__init__).parameters
    assert list(sync) == list(asynchronous)
    assert [p.default for p in sync.values()] == [p.default for p in asynchronous.values()]


def test_every_exclusion_has_a_reason_and_is_documented() -> None:
    page = (ROOT / "docs" / "client.md").read_text()
    for name, reason in {**NOT_REMOTE, **{f"webhooks.{k}": v for k, v in NOT_REMOTE_WEBHOOKS.items()}}.items():
        assert len(reason) > 20, name
        assert f"`{name}`" in page, f"docs/client.md does not name the excluded {name}"
