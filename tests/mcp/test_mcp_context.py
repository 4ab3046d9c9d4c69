"""MCP resources (memories as JSON) and prompts (memories as context), through the SDK client."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError
from mcp_helpers import MODES, connect, resource_json
from mcp_types import INVALID_PARAMS

from memorylink import Memory, MemoryStore, Page
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.mcp import create_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("mode", MODES)
async def test_lists_resources_templates_and_prompts(memory_store: MemoryStore, mode: str) -> None:
    async with connect(create_server(memory_store), mode) as client:
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        prompts = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}
    assert [(r.uri, r.mime_type) for r in resources] == [("memorylink://memories/recent", "application/json")]
    assert [(t.uri_template, t.mime_type) for t in templates] == [("memorylink://memories/{id}", "application/json")]
    assert set(prompts) == {"recall", "recent"}
    assert [(a.name, a.required) for a in prompts["recall"].arguments or []] == [("topic", True), ("top_k", False)]
    assert all(a.description for p in prompts.values() for a in p.arguments or [])


@pytest.mark.parametrize("mode", MODES)
async def test_read_one_memory_and_the_recent_ones(memory_store: MemoryStore, mode: str) -> None:
    first = memory_store.add("the first memory", tags=["a"])
    second = memory_store.add("the second memory")
    async with connect(create_server(memory_store), mode) as client:
        one = Memory.model_validate(resource_json(await client.read_resource(f"memorylink://memories/{first.id}")))
        assert one == first
        recent = Page[Memory].model_validate(resource_json(await client.read_resource("memorylink://memories/recent")))
        assert [m.id for m in recent.items] == [second.id, first.id]


@pytest.mark.parametrize("memory_id", ["0000000000000", "bad-id"])
async def test_reading_a_missing_memory_is_a_not_found_error(memory_store: MemoryStore, memory_id: str) -> None:
    async with connect(create_server(memory_store)) as client:
        with pytest.raises(MCPError) as raised:
            await client.read_resource(f"memorylink://memories/{memory_id}")
        assert raised.value.error.code == INVALID_PARAMS
        assert memory_id in raised.value.error.message
        assert (await client.list_tools()).tools  # the session goes on


@pytest.mark.parametrize("mode", MODES)
async def test_recall_formats_search_hits_as_context(memory_store: MemoryStore, mode: str) -> None:
    tea = memory_store.add("Alice drinks green tea every morning", tags=["drinks"])
    memory_store.add("The office is closed on Fridays")
    async with connect(create_server(memory_store), mode) as client:
        prompt = await client.get_prompt("recall", {"topic": "green tea", "top_k": "1"})
    (message,) = prompt.messages
    assert message.role == "user"
    text = message.content.text  # type: ignore[union-attr]
    assert "green tea" in text and tea.id in text and "tags: drinks" in text
    assert "office" not in text  # top_k=1 (the argument arrives as a string)


async def test_recall_with_nothing_stored_says_so(memory_store: MemoryStore) -> None:
    async with connect(create_server(memory_store)) as client:
        prompt = await client.get_prompt("recall", {"topic": "anything"})
    assert "no stored memories" in prompt.messages[0].content.text  # type: ignore[union-attr]


async def test_recent_prompt_lists_newest_first(memory_store: MemoryStore, embedder: HashingEmbedder) -> None:
    for text in ("oldest note", "middle note", "newest note"):
        memory_store.add(text)
    async with connect(create_server(memory_store)) as client:
        prompt = await client.get_prompt("recent", {"limit": "2"})
        empty_store = MemoryStore.open(None, embedder=embedder)
        try:
            async with connect(create_server(empty_store)) as empty_client:
                empty = await empty_client.get_prompt("recent", {})
        finally:
            empty_store.close()
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert text.index("newest note") < text.index("middle note") and "oldest note" not in text
    assert "no stored memories" in empty.messages[0].content.text  # type: ignore[union-attr]


async def test_bad_prompt_arguments_are_invalid_params(memory_store: MemoryStore) -> None:
    async with connect(create_server(memory_store)) as client:
        with pytest.raises(MCPError) as raised:
            await client.get_prompt("recall", {"topic": "tea", "top_k": "0"})
        assert raised.value.error.code == INVALID_PARAMS and "top_k" in raised.value.error.message
        with pytest.raises(MCPError):
            await client.get_prompt("recall", {})  # topic is required
        assert (await client.list_prompts()).prompts
