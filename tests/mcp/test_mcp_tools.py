"""The MCP tools through the SDK's own client, in process: listing, every tool, and errors as isError results."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from mcp_helpers import MODES, SMALL_LIMITS, connect, error_text, structured

from memorylink import BatchResult, Memory, MemoryStore, Page, SearchResult, Settings, StoreCorruptedError
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.events import Event
from memorylink.mcp import DeleteResult, create_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def small_store(embedder: HashingEmbedder) -> Iterator[MemoryStore]:
    """An in-memory store with small limits, so limit errors are cheap to provoke."""
    with MemoryStore.open(None, embedder=embedder, settings=Settings(limits=SMALL_LIMITS)) as store:
        yield store


TOOLS = {
    "add_memory",
    "add_memories",
    "search_memories",
    "get_memory",
    "update_memory",
    "delete_memory",
    "list_memories",
}


@pytest.mark.parametrize("mode", MODES)
async def test_lists_every_tool_with_descriptions_and_schemas(memory_store: MemoryStore, mode: str) -> None:
    async with connect(create_server(memory_store, user_id="alice"), mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and "Scope: user 'alice'" in tool.description
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
        assert tool.annotations is not None
    assert tools["search_memories"].annotations.read_only_hint is True
    assert tools["delete_memory"].annotations.destructive_hint is True
    assert tools["add_memory"].input_schema["required"] == ["text"]
    # One schema everywhere: the output schemas are the core models' own.
    assert set(tools["add_memory"].output_schema["properties"]) == set(Memory.model_fields)
    assert set(tools["search_memories"].output_schema["properties"]) == set(SearchResult.model_fields)
    assert set(tools["list_memories"].output_schema["properties"]) == set(Page[Memory].model_fields)
    item_schema = tools["add_memories"].input_schema["properties"]["items"]["items"]["anyOf"][1]
    assert set(item_schema["properties"]) == {"text", "tags", "metadata", "user_id", "agent_id", "run_id"}


@pytest.mark.parametrize("mode", MODES)
async def test_every_tool_round_trip(memory_store: MemoryStore, mode: str) -> None:
    async with connect(create_server(memory_store, user_id="alice"), mode) as client:
        added = Memory.model_validate(
            structured(
                await client.call_tool(
                    "add_memory",
                    {
                        "text": "Alice prefers green tea in the morning",
                        "tags": ["drinks"],
                        "metadata": {"source": "chat"},
                    },
                )
            )
        )
        assert added.user_id == "alice" and added.tags == ["drinks"] and added.metadata == {"source": "chat"}
        assert memory_store.get(added.id) == added  # the tool wrote through to the store

        batch = BatchResult.model_validate(
            structured(
                await client.call_tool(
                    "add_memories",
                    {"items": ["Bob is Alice's manager", {"text": "The Q4 review is in December", "tags": ["work"]}]},
                )
            )
        )
        assert (batch.succeeded, batch.failed) == (2, 0) and len(batch.ids) == 2

        found = SearchResult.model_validate(
            structured(await client.call_tool("search_memories", {"query": "green tea", "top_k": 2}))
        )
        assert found.hits[0].memory.id == added.id and 0 < found.hits[0].similarity <= 1

        got = Memory.model_validate(structured(await client.call_tool("get_memory", {"id": added.id})))
        assert got == added

        for mode in ("keyword", "vector", "hybrid"):
            by_mode = SearchResult.model_validate(
                structured(await client.call_tool("search_memories", {"query": "green tea", "mode": mode, "mmr": True}))
            )
            assert by_mode.mode == mode and by_mode.hits[0].memory.id == added.id
        bad_mode = await client.call_tool("search_memories", {"query": "green tea", "mode": "fuzzy"})
        assert bad_mode.is_error

        updated = Memory.model_validate(
            structured(await client.call_tool("update_memory", {"id": added.id, "text": "Alice prefers oolong tea"}))
        )
        assert updated.text == "Alice prefers oolong tea" and updated.version == 2 and updated.tags == ["drinks"]
        assert [v.text for v in memory_store.history(added.id)] == [added.text, updated.text]

        page = Page[Memory].model_validate(structured(await client.call_tool("list_memories", {"limit": 2})))
        assert len(page.items) == 2 and page.next_cursor is not None
        rest = Page[Memory].model_validate(
            structured(await client.call_tool("list_memories", {"limit": 2, "cursor": page.next_cursor}))
        )
        assert len(rest.items) == 1 and rest.next_cursor is None
        assert {m.id for m in page.items + rest.items} == {added.id, *batch.ids}

        deleted = DeleteResult.model_validate(structured(await client.call_tool("delete_memory", {"id": added.id})))
        assert deleted == DeleteResult(id=added.id, deleted=True)
        assert memory_store.get(added.id) is None
        assert "not_found" in error_text(await client.call_tool("get_memory", {"id": added.id}))
        assert "not_found" in error_text(await client.call_tool("delete_memory", {"id": added.id}))


async def test_search_filters_and_shortcuts(memory_store: MemoryStore) -> None:
    memory_store.add("standup meeting notes about the launch", tags=["meeting"], metadata={"priority": "high"})
    memory_store.add("launch checklist draft", tags=["draft"], metadata={"priority": "low"})
    old = memory_store.add("launch retrospective from last year", tags=["meeting"])
    async with connect(create_server(memory_store)) as client:
        by_filter = structured(
            await client.call_tool(
                "search_memories",
                {"query": "launch", "filter": {"tags": {"any": ["meeting"]}, "metadata.priority": {"in": ["high"]}}},
            )
        )
        assert [h["memory"]["text"] for h in by_filter["hits"]] == ["standup meeting notes about the launch"]
        assert by_filter["filter"] is not None
        by_tags = structured(await client.call_tool("search_memories", {"query": "launch", "tags": ["draft"]}))
        assert [h["memory"]["text"] for h in by_tags["hits"]] == ["launch checklist draft"]
        created = old.created_at.isoformat()
        in_range = structured(
            await client.call_tool("search_memories", {"query": "launch", "date_range": [created, None]})
        )
        assert old.id in {h["memory"]["id"] for h in in_range["hits"]}
        before = structured(
            await client.call_tool("search_memories", {"query": "launch", "date_range": [None, "2000-01-01"]})
        )
        assert before["hits"] == []
        strict = structured(await client.call_tool("search_memories", {"query": "launch", "threshold": 0.99}))
        assert strict["hits"] == []
        by_date = structured(await client.call_tool("search_memories", {"query": "launch", "sort_by": "date"}))
        assert by_date["sort_by"] == "date" and len(by_date["hits"]) == 3
        listed = structured(
            await client.call_tool("list_memories", {"filter": {"tags": {"none": ["draft"]}}, "order": "created_asc"})
        )
        assert [m["tags"] for m in listed["items"]] == [["meeting"], ["meeting"]]


async def test_batch_items_fail_alone(small_store: MemoryStore) -> None:
    async with connect(create_server(small_store, user_id="alice")) as client:
        result = BatchResult.model_validate(
            structured(
                await client.call_tool(
                    "add_memories",
                    {
                        "items": [
                            "fine",
                            {"text": ""},
                            {"text": "x" * 201},
                            {"text": "someone else's", "user_id": "bob"},
                            {"text": "also fine", "tags": ["a"], "run_id": "r1"},
                        ],
                        "agent_id": "planner",
                    },
                )
            )
        )
    assert (result.succeeded, result.failed) == (2, 3)
    assert [item.index for item in result.items] == [0, 1, 2, 3, 4]
    errors = {item.index: item.error for item in result.items if item.error is not None}
    assert errors[1].code == "validation_error" and errors[1].details["field"] == "text"
    assert errors[2].code == "limit_exceeded" and errors[2].details["limit"] == "max_text_length"
    assert errors[3].details["field"] == "user_id" and "outside this server's scope" in errors[3].message
    stored = [small_store.get(i) for i in result.ids]
    assert [(m.text, m.user_id, m.agent_id, m.run_id) for m in stored if m] == [
        ("fine", "alice", "planner", None),
        ("also fine", "alice", "planner", "r1"),
    ]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("add_memory", {"text": ""}, ["validation_error", '"field": "text"']),
        ("add_memory", {"text": "x" * 201}, ["limit_exceeded", "max_text_length", '"maximum": 200']),
        ("add_memory", {"text": "t", "tags": ["a", "b", "c", "d"]}, ["limit_exceeded", "max_tags"]),
        ("add_memory", {"text": "t", "metadata": {"a.b": 1}}, ["validation_error", "metadata.a.b"]),
        ("add_memory", {}, ["text", "Field required"]),
        ("add_memory", {"text": "t", "tags": "not-a-list"}, ["tags"]),
        ("add_memories", {"items": ["a"] * 6}, ["limit_exceeded", "max_batch_size"]),
        ("search_memories", {"query": "q", "top_k": 21}, ["limit_exceeded", "max_top_k"]),
        ("search_memories", {"query": "q", "top_k": 0}, ["validation_error", "top_k"]),
        ("search_memories", {"query": "q", "top_k": "many"}, ["top_k"]),
        ("search_memories", {"query": " "}, ["validation_error", "query"]),
        ("search_memories", {"query": "q", "threshold": 2}, ["validation_error", "threshold"]),
        ("search_memories", {"query": "q", "sort_by": "size"}, ["sort_by"]),
        ("search_memories", {"query": "q", "filter": {"colour": "red"}}, ["validation_error", "filter.colour"]),
        ("search_memories", {"query": "q", "filter": {"tags": {"some": ["a"]}}}, ["validation_error", "filter.tags"]),
        ("search_memories", {"query": "q", "date_range": ["yesterday", None]}, ["validation_error", "date_range[0]"]),
        ("get_memory", {"id": "not-an-id"}, ["validation_error", '"field": "id"']),
        ("get_memory", {"id": "0000000000000"}, ["not_found", "0000000000000"]),
        ("update_memory", {"id": "0000000000000", "text": "new"}, ["not_found"]),
        ("update_memory", {"id": "0000000000000", "tags": ["a", "b", "c", "d"]}, ["limit_exceeded", "max_tags"]),
        ("list_memories", {"limit": 11}, ["limit_exceeded", "max_page_size"]),
        ("list_memories", {"cursor": "garbage"}, ["validation_error", "cursor"]),
        ("list_memories", {"order": "random"}, ["order"]),
        ("no_such_tool", {}, ["Unknown tool"]),
    ],
)
async def test_bad_arguments_are_tool_errors(
    small_store: MemoryStore, tool: str, arguments: dict[str, object], expected: list[str]
) -> None:
    async with connect(create_server(small_store)) as client:
        text = error_text(await client.call_tool(tool, arguments))
        assert all(part in text for part in expected), text
        # The session survives every error.
        assert not (await client.call_tool("list_memories", {})).is_error


async def test_cursor_of_another_query_is_rejected(memory_store: MemoryStore) -> None:
    for text in ("one", "two", "three"):
        memory_store.add(text)
    async with connect(create_server(memory_store)) as client:
        page = structured(await client.call_tool("list_memories", {"limit": 1}))
        text = error_text(
            await client.call_tool("list_memories", {"limit": 1, "order": "created_asc", "cursor": page["next_cursor"]})
        )
    assert "different query" in text


async def test_an_unexpected_error_is_a_generic_tool_error(
    memory_store: MemoryStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire: secret detail")

    server = create_server(memory_store)
    monkeypatch.setattr(memory_store, "search", broken)
    async with connect(server) as client:
        text = error_text(await client.call_tool("search_memories", {"query": "q"}))
        assert "secret detail" not in text and "search_memories" in text
        assert not (await client.call_tool("list_memories", {})).is_error
    assert any(record.exc_info for record in caplog.records), "the crash is logged with its traceback"


async def test_a_closed_store_is_a_tool_error(embedder: object) -> None:
    store = MemoryStore.open(None, embedder=embedder)  # type: ignore[arg-type]
    server = create_server(store)
    store.close()
    async with connect(server) as client:
        assert "store_closed" in error_text(await client.call_tool("list_memories", {}))


async def test_caller_errors_are_not_logged_as_errors(
    memory_store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(create_server(memory_store)) as client:
        assert error_text(await client.call_tool("add_memory", {"text": ""}))
        assert error_text(await client.call_tool("get_memory", {"id": "0000000000000"}))
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_a_store_fault_is_a_tool_error_and_logged(
    memory_store: MemoryStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def corrupted(*args: object, **kwargs: object) -> None:
        raise StoreCorruptedError("record 42 failed its integrity check")

    monkeypatch.setattr(memory_store, "list", corrupted)
    async with connect(create_server(memory_store)) as client:
        text = error_text(await client.call_tool("list_memories", {}))
    assert "store_corrupted: record 42 failed its integrity check" in text
    logged = [r for r in caplog.records if r.name == "memorylink.mcp._errors" and r.levelno == logging.ERROR]
    assert logged and logged[0].exc_info


async def test_tool_calls_emit_the_librarys_events(memory_store: MemoryStore) -> None:
    events: list[Event] = []
    memory_store.events.subscribe(events.append)
    async with connect(create_server(memory_store, user_id="alice")) as client:
        added = structured(await client.call_tool("add_memory", {"text": "an event-worthy note"}))
        structured(await client.call_tool("update_memory", {"id": added["id"], "tags": ["seen"]}))
        structured(await client.call_tool("search_memories", {"query": "note"}))
        structured(await client.call_tool("add_memories", {"items": ["another note", {"text": ""}]}))
        structured(await client.call_tool("delete_memory", {"id": added["id"]}))
    assert [event.type for event in events] == [
        "memory.created",
        "memory.updated",
        "memory.searched",
        "memory.created",
        "memory.error",
        "batch.completed",
        "memory.deleted",
    ]
    assert events[0].user_id == "alice" and events[0].data["id"] == added["id"]
