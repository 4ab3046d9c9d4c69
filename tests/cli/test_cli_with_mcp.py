"""The CLI and an MCP server (``memorylink mcp`` over stdio) sharing one store, in separate processes."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from cli_helpers import SCRIPT, Cli
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _structured(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


async def test_the_cli_works_while_an_mcp_server_holds_the_store(store_cli: Cli, tmp_path: Path) -> None:
    run = partial(anyio.to_thread.run_sync)
    from_cli = (await run(lambda: store_cli.ok("add", "alice parks her bike by the gym", "-u", "alice"))).stdout.strip()
    params = StdioServerParameters(
        command=str(SCRIPT), args=["mcp", "--user-id", "alice"], env=store_cli.env, cwd=str(tmp_path)
    )
    with (tmp_path / "mcp-stderr.log").open("w") as errlog, anyio.fail_after(120):
        async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
            found = _structured(await client.call_tool("search_memories", {"query": "bike gym"}))
            assert [hit["memory"]["id"] for hit in found["hits"]] == [from_cli]
            from_mcp = _structured(await client.call_tool("add_memory", {"text": "alice's helmet is blue"}))["id"]

            # While the server process is running: the CLI reads what it wrote, and writes more.
            shown = await run(lambda: store_cli.ok("get", from_mcp, "--json"))
            assert json.loads(shown.stdout)["user_id"] == "alice"
            later = (await run(lambda: store_cli.ok("add", "alice renewed her gym pass", "-u", "alice"))).stdout.strip()
            other_user = (await run(lambda: store_cli.ok("add", "bob's gym pass expired", "-u", "bob"))).stdout.strip()
            assert (await run(lambda: store_cli("doctor"))).returncode == 0

            again = _structured(await client.call_tool("search_memories", {"query": "gym pass", "top_k": 5}))
            ids = [hit["memory"]["id"] for hit in again["hits"]]
            assert later in ids and other_user not in ids  # the server stays scoped to alice

    listed = json.loads(store_cli.ok("list", "-u", "alice", "--json").stdout)
    assert {m["id"] for m in listed["items"]} == {from_cli, from_mcp, later}
