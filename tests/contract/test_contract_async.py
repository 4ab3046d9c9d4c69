"""Contract, async: AsyncMemoryStore and AsyncRemoteStore answer the same (the async twins of both backends)."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from memorylink import AsyncMemoryStore, LimitExceededError, Limits, NotFoundError, Settings, ValidationError


@pytest.fixture
def run_async(make_store: Any, backend: str, served: dict[str, str]) -> Callable[..., None]:
    """``run_async(scenario, settings=None)``: ``await scenario(store)`` on this backend's async store."""

    def run(scenario: Callable[[Any], Awaitable[None]], settings: Settings | None = None) -> None:
        sync = make_store(settings)

        async def main() -> None:
            if backend == "local":
                await scenario(AsyncMemoryStore(sync))
                return
            from memorylink.client import AsyncRemoteStore

            async with AsyncRemoteStore(served["url"], api_key=served["api_key"]) as store:
                await scenario(store)

        anyio.run(main)

    return run


def test_async_round_trip(run_async: Callable[..., None]) -> None:
    async def scenario(store: Any) -> None:
        memory = await store.add("async memories are stored too", tags=["async"], user_id="alice")
        assert (await store.get(memory.id)) == memory
        assert (await store.search("async memories", top_k=1)).hits[0].memory.id == memory.id
        updated = await store.update(memory.id, text="changed asynchronously")
        assert updated.version == 2 and len(await store.history(memory.id)) == 2
        assert [m.id for m in (await store.list(user_id="alice")).items] == [memory.id]
        assert await store.delete(memory.id) is True
        assert await store.get(memory.id) is None

    run_async(scenario)


def test_async_batches_and_deletes(run_async: Callable[..., None]) -> None:
    async def scenario(store: Any) -> None:
        batch = await store.add_many(["one", {"text": ""}, "three"])
        assert (batch.succeeded, batch.failed, [e.index for e in batch.errors]) == (2, 1, [1])
        messages = await store.add_messages([{"role": "user", "content": "hi"}], run_id="r1")
        assert messages.succeeded == 1
        out = io.StringIO()
        assert await store.export(out, plaintext=True) == 3
        assert len(out.getvalue().splitlines()) == 4  # the header, then each memory
        assert await store.delete_many(ids=batch.ids) == 2
        assert await store.delete_many(filter={}) == 1

    run_async(scenario)


def test_async_errors_are_the_same(run_async: Callable[..., None]) -> None:
    async def scenario(store: Any) -> None:
        with pytest.raises(LimitExceededError) as caught:
            await store.add("x" * 11)
        assert (caught.value.limit, caught.value.maximum) == ("max_text_length", 10)
        with pytest.raises(ValidationError) as invalid:
            await store.get("not-an-id")
        assert invalid.value.field == "id"
        with pytest.raises(NotFoundError):
            await store.update("0000000000000", text="nothing")

    run_async(scenario, Settings(limits=Limits(max_text_length=10)))


def test_async_webhooks(run_async: Callable[..., None]) -> None:
    async def scenario(store: Any) -> None:
        created = await store.webhooks.add("https://example.com/hook", events=["memory.*"])
        assert [e.id for e in await store.webhooks.list()] == [created.id]
        assert (await store.webhooks.disable(created.id)).enabled is False
        assert await store.webhooks.remove(created.id) is True

    run_async(scenario)
