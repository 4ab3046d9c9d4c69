"""The MCP server checked by a client nobody here wrote: the MCP Inspector's CLI, over stdio.

Runs `npx -y @modelcontextprotocol/inspector --cli <server command> --method ...` against
`memorylink --store DIR mcp` (the CLI, when it is installed beside this Python; else
tests/mcp/serve_mcp.py, the same two calls). Skipped without npx; `nox -s mcp_inspector`
runs only these tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import SERVE_SCRIPT

from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder

pytestmark = [
    pytest.mark.inspector,
    pytest.mark.skipif(shutil.which("npx") is None, reason="npx (Node.js) is needed for the MCP Inspector"),
]

INSPECTOR = "@modelcontextprotocol/inspector"
KEY = bytes(range(32))
# The first run downloads the inspector; later runs start in a few seconds.
TIMEOUT_S = 300


def _cli() -> Path | None:
    """The `memorylink` console script installed with this interpreter, if it has the mcp command."""
    script = Path(sys.executable).parent / "memorylink"
    if not script.exists():
        return None
    probe = subprocess.run([str(script), "mcp", "--help"], capture_output=True, text=True, timeout=60)
    return script if probe.returncode == 0 else None


@pytest.fixture(scope="module")
def server_command(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The stdio server command line, over a store on the hashing embedder holding nothing yet."""
    base = tmp_path_factory.mktemp("inspector")
    store, key_file = base / "store", base / "key.hex"
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    cli = _cli()
    if cli is not None:
        env = {**os.environ, "MEMORYLINK_KEY_FILE": str(key_file)}
        subprocess.run(
            [str(cli), "--store", str(store), "init", "--embedder", "hashing"], env=env, check=True, timeout=60
        )
        return ["-e", f"MEMORYLINK_KEY_FILE={key_file}", str(cli), "--store", str(store), "mcp", "--user-id", "alice"]
    MemoryStore.open(store, key=KEY, embedder=HashingEmbedder()).close()
    return [sys.executable, str(SERVE_SCRIPT), str(store), str(key_file), "--user-id", "alice"]


def inspect(server_command: list[str], *method: str) -> Any:
    """Run one inspector CLI call; its stdout is the JSON result."""
    npx = shutil.which("npx")
    assert npx is not None
    done = subprocess.run(
        [npx, "-y", INSPECTOR, "--cli", *server_command, *method],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"inspector failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def test_inspector_lists_the_tools(server_command: list[str]) -> None:
    tools = {tool["name"]: tool for tool in inspect(server_command, "--method", "tools/list")["tools"]}
    assert set(tools) == {
        "add_memory",
        "add_memories",
        "search_memories",
        "get_memory",
        "update_memory",
        "delete_memory",
        "list_memories",
    }
    assert tools["add_memory"]["inputSchema"]["required"] == ["text"]
    assert "outputSchema" in tools["search_memories"]


def test_inspector_calls_tools_and_reads_resources(server_command: list[str]) -> None:
    added = inspect(
        server_command,
        *("--method", "tools/call", "--tool-name", "add_memory"),
        *("--tool-arg", "text=The inspector checked the memorylink MCP server", 'tags=["ci", "inspector"]'),
    )
    assert added["isError"] is False
    memory = added["structuredContent"]
    assert memory["user_id"] == "alice" and memory["tags"] == ["ci", "inspector"]

    found = inspect(
        server_command,
        *("--method", "tools/call", "--tool-name", "search_memories"),
        *("--tool-arg", "query=inspector checked", "top_k=3"),
    )
    assert [hit["memory"]["id"] for hit in found["structuredContent"]["hits"]] == [memory["id"]]

    refused = inspect(
        server_command,
        *("--method", "tools/call", "--tool-name", "search_memories", "--tool-arg", "query=x", "top_k=0"),
    )
    assert refused["isError"] is True and "top_k" in refused["content"][0]["text"]

    recent = inspect(server_command, "--method", "resources/read", "--uri", "memorylink://memories/recent")
    assert [m["id"] for m in json.loads(recent["contents"][0]["text"])["items"]] == [memory["id"]]
