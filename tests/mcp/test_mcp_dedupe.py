"""add_memory / add_memories with dedupe through the SDK client."""

from __future__ import annotations

import pytest
from mcp_helpers import connect, structured

from memorylink import MemoryStore
from memorylink.mcp import create_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_add_memory_and_add_memories_dedupe(memory_store: MemoryStore) -> None:
    async with connect(create_server(memory_store, user_id="alice")) as client:
        first = structured(await client.call_tool("add_memory", {"text": "Alice's desk is B-214"}))
        same = structured(await client.call_tool("add_memory", {"text": "Alice's desk is B-214", "dedupe": True}))
        copy = structured(await client.call_tool("add_memory", {"text": "Alice's desk is B-214"}))
        batch = structured(
            await client.call_tool(
                "add_memories", {"items": ["Alice's desk is B-214", "Alice parks on level 3"], "dedupe": True}
            )
        )
    assert same["id"] == first["id"] and copy["id"] != first["id"]
    assert batch["items"][0]["deduplicated"] is True and batch["items"][0]["id"] in {first["id"], copy["id"]}
    assert batch["items"][1]["deduplicated"] is False
    assert len(memory_store.list(user_id="alice").items) == 3
