"""AsyncMemoryStore mirrors MemoryStore and never blocks the event loop."""

from __future__ import annotations

import asyncio
import inspect
import threading
from pathlib import Path

import pytest

from memorylink import AsyncMemoryStore, MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.events import Event

KEY = bytes(range(32))


def public_methods(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))}


def test_method_sets_match() -> None:
    assert public_methods(AsyncMemoryStore) == public_methods(MemoryStore)
    for name in public_methods(MemoryStore) - {"open"}:
        assert inspect.iscoroutinefunction(getattr(AsyncMemoryStore, name)), name
        assert inspect.signature(getattr(AsyncMemoryStore, name)) == inspect.signature(getattr(MemoryStore, name))


def test_webhook_method_sets_match() -> None:
    from memorylink.async_store import AsyncWebhookManager
    from memorylink.events.webhook_manager import WebhookManager

    assert public_methods(AsyncWebhookManager) == public_methods(WebhookManager)
    for name in public_methods(WebhookManager):
        assert inspect.iscoroutinefunction(getattr(AsyncWebhookManager, name)), name
        assert inspect.signature(getattr(AsyncWebhookManager, name)) == inspect.signature(getattr(WebhookManager, name))


def test_async_webhooks(tmp_path: Path) -> None:
    from memorylink import EventSettings, Settings

    async def main() -> None:
        settings = Settings(events=EventSettings(deliver=False))
        store = await AsyncMemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder(), settings=settings)
        async with store:
            created = await store.webhooks.add("https://example.com/hook", events=["memory.*"])
            assert [e.id for e in await store.webhooks.list()] == [created.id]
            assert (await store.webhooks.disable(created.id)).enabled is False
            assert await store.webhooks.remove(created.id) is True

    asyncio.run(main())


def test_async_round_trip(tmp_path: Path) -> None:
    async def scenario() -> None:
        loop_thread = threading.get_ident()
        embed_threads: list[int] = []

        class RecordingEmbedder(HashingEmbedder):
            def embed(self, texts):  # type: ignore[no-untyped-def]
                embed_threads.append(threading.get_ident())
                return super().embed(texts)

        seen: list[Event] = []

        async def on_event(event: Event) -> None:
            seen.append(event)

        async with await AsyncMemoryStore.open(tmp_path / "s", key=KEY, embedder=RecordingEmbedder()) as store:
            store.events.subscribe(on_event, types=["memory.created"])
            memory = await store.add("async memories are stored too", tags=["async"])
            batch = await store.add_many(["second", "third"])
            assert batch.succeeded == 2
            result = await store.search("async memories", top_k=1)
            assert result.hits[0].memory.id == memory.id
            assert (await store.get(memory.id)) == memory
            updated = await store.update(memory.id, text="changed asynchronously")
            assert updated.version == 2
            assert len(await store.history(memory.id)) == 2
            page = await store.list(limit=10)
            assert len(page.items) == 3
            assert await store.delete(memory.id)
            assert (await store.stats()).memories == 2
            for _ in range(100):
                if len(seen) == 3:
                    break
                await asyncio.sleep(0.01)
            assert [e.type for e in seen] == ["memory.created"] * 3
        assert embed_threads and loop_thread not in embed_threads

    asyncio.run(scenario())


def test_async_callback_needs_a_running_loop(store: MemoryStore) -> None:
    async def callback(event: Event) -> None:
        return None

    from memorylink import ValidationError

    with pytest.raises(ValidationError):
        store.events.subscribe(callback)
