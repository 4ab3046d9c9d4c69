"""Scoping: a user-scoped server never reaches another user's memories, in any tool, resource or prompt."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError
from mcp_helpers import MODES, connect, error_text, resource_json, structured

from memorylink import Memory, MemoryStore, ValidationError
from memorylink.mcp import create_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def two_users(store: MemoryStore) -> tuple[MemoryStore, Memory, Memory]:
    """One store on disk holding a memory of alice and one of bob, with the same words."""
    alice = store.add("the secret project codename is bluebird", user_id="alice", tags=["secret"])
    bob = store.add("the secret project codename is nightjar", user_id="bob", tags=["secret"])
    return store, alice, bob


@pytest.mark.parametrize("mode", MODES)
async def test_a_user_server_never_sees_another_users_memories(
    two_users: tuple[MemoryStore, Memory, Memory], mode: str
) -> None:
    store, alice, bob = two_users
    async with connect(create_server(store, user_id="alice"), mode) as client:
        hits = structured(await client.call_tool("search_memories", {"query": "secret project codename"}))
        assert [h["memory"]["id"] for h in hits["hits"]] == [alice.id] and hits["total"] == 1
        # A filter cannot widen the scope: it is AND-ed with it.
        widened = structured(
            await client.call_tool(
                "search_memories", {"query": "codename", "filter": {"or": [{"user_id": "bob"}, {"user_id": "alice"}]}}
            )
        )
        assert [h["memory"]["id"] for h in widened["hits"]] == [alice.id]
        listed = structured(await client.call_tool("list_memories", {"tags": ["secret"]}))
        assert [m["id"] for m in listed["items"]] == [alice.id]
        for tool, arguments in [
            ("get_memory", {"id": bob.id}),
            ("update_memory", {"id": bob.id, "text": "overwritten"}),
            ("delete_memory", {"id": bob.id}),
        ]:
            assert "not_found" in error_text(await client.call_tool(tool, arguments)), tool
        with pytest.raises(MCPError):
            await client.read_resource(f"memorylink://memories/{bob.id}")
        recent = resource_json(await client.read_resource("memorylink://memories/recent"))
        assert [m["id"] for m in recent["items"]] == [alice.id]
        recall = await client.get_prompt("recall", {"topic": "secret project codename"})
        assert "bluebird" in recall.messages[0].content.text  # type: ignore[union-attr]
        assert "nightjar" not in recall.messages[0].content.text  # type: ignore[union-attr]
    assert store.get(bob.id) == bob  # untouched


async def test_a_user_id_argument_is_refused_unless_admin(two_users: tuple[MemoryStore, Memory, Memory]) -> None:
    store, alice, bob = two_users
    async with connect(create_server(store, user_id="alice")) as client:
        for tool, arguments in [
            ("search_memories", {"query": "codename", "user_id": "bob"}),
            ("list_memories", {"user_id": "bob"}),
            ("get_memory", {"id": bob.id, "user_id": "bob"}),
            ("add_memory", {"text": "planted", "user_id": "bob"}),
            ("delete_memory", {"id": bob.id, "user_id": "bob"}),
        ]:
            text = error_text(await client.call_tool(tool, arguments))
            assert "outside this server's scope" in text and '"field": "user_id"' in text, tool
        # Its own user_id is fine.
        assert structured(await client.call_tool("get_memory", {"id": alice.id, "user_id": "alice"}))["id"] == alice.id
    assert [m.text for m in store.list(user_id="bob").items] == [bob.text]


@pytest.mark.parametrize("mode", MODES)
async def test_an_admin_server_reaches_every_user(two_users: tuple[MemoryStore, Memory, Memory], mode: str) -> None:
    store, alice, bob = two_users
    async with connect(create_server(store, admin=True), mode) as client:
        everyone = structured(await client.call_tool("list_memories", {}))
        assert {m["id"] for m in everyone["items"]} == {alice.id, bob.id}
        only_bob = structured(await client.call_tool("search_memories", {"query": "codename", "user_id": "bob"}))
        assert [h["memory"]["id"] for h in only_bob["hits"]] == [bob.id]
        assert structured(await client.call_tool("get_memory", {"id": bob.id}))["user_id"] == "bob"
        added = structured(await client.call_tool("add_memory", {"text": "for carol", "user_id": "carol"}))
        assert added["user_id"] == "carol"
        default = structured(await client.call_tool("add_memory", {"text": "for nobody in particular"}))
        assert default["user_id"] == store.settings.default_user_id
        recent = resource_json(await client.read_resource(f"memorylink://memories/{bob.id}"))
        assert recent["user_id"] == "bob"
    async with connect(create_server(store, user_id="alice", admin=True)) as client:
        mine = structured(await client.call_tool("list_memories", {"tags": ["secret"]}))
        assert [m["id"] for m in mine["items"]] == [alice.id]  # its own user by default
        theirs = structured(await client.call_tool("list_memories", {"tags": ["secret"], "user_id": "bob"}))
        assert [m["id"] for m in theirs["items"]] == [bob.id]


async def test_no_user_means_the_stores_default_user(two_users: tuple[MemoryStore, Memory, Memory]) -> None:
    store, _, _ = two_users
    async with connect(create_server(store)) as client:
        assert structured(await client.call_tool("list_memories", {}))["items"] == []
        added = structured(await client.call_tool("add_memory", {"text": "a default note"}))
        assert added["user_id"] == store.settings.default_user_id
        text = error_text(await client.call_tool("list_memories", {"user_id": "alice"}))
        assert "outside this server's scope" in text


async def test_agent_and_run_scope(store: MemoryStore) -> None:
    other_agent = store.add("written by the coder agent", user_id="alice", agent_id="coder")
    async with connect(create_server(store, user_id="alice", agent_id="planner")) as client:
        mine = structured(await client.call_tool("add_memory", {"text": "planner note", "run_id": "r1"}))
        assert (mine["user_id"], mine["agent_id"], mine["run_id"]) == ("alice", "planner", "r1")
        structured(await client.call_tool("add_memory", {"text": "planner note two", "run_id": "r2"}))
        listed = structured(await client.call_tool("list_memories", {}))
        assert {m["text"] for m in listed["items"]} == {"planner note", "planner note two"}
        narrowed = structured(await client.call_tool("list_memories", {"run_id": "r1"}))
        assert [m["id"] for m in narrowed["items"]] == [mine["id"]]
        assert "not_found" in error_text(await client.call_tool("get_memory", {"id": other_agent.id}))
        text = error_text(await client.call_tool("list_memories", {"agent_id": "coder"}))
        assert "agent_id 'coder' is outside this server's scope" in text
    async with connect(create_server(store, user_id="alice")) as client:
        # Without a pinned agent, agent_id narrows.
        coder = structured(await client.call_tool("list_memories", {"agent_id": "coder"}))
        assert [m["id"] for m in coder["items"]] == [other_agent.id]
        assert len(structured(await client.call_tool("list_memories", {}))["items"]) == 3


def test_bad_server_scope_is_rejected(memory_store: MemoryStore) -> None:
    with pytest.raises(ValidationError) as raised:
        create_server(memory_store, user_id="")
    assert raised.value.field == "user_id"
    with pytest.raises(ValidationError):
        create_server(memory_store, agent_id="x" * 1000)
