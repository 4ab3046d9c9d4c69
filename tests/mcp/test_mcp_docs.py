"""docs/mcp.md runs: its Python blocks, its shell blocks and every host configuration it shows.

The shell blocks and JSON configurations run the real `memorylink` command (the CLI) with
HOME in a temporary directory; the store is made with the hashing embedder (no model).
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_helpers import connect, error_text, structured

from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.mcp import create_server
from memorylink.mcp._context import MEMORY_URI_TEMPLATE, RECENT_URI

DOC = Path(__file__).resolve().parents[2] / "docs" / "mcp.md"
TEXT = DOC.read_text()
CLI = Path(sys.executable).parent / "memorylink"
TIMEOUT_S = 60
PASSPHRASE = "a passphrase for the docs test"
TOKEN = "docs-test-token"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TEXT, re.DOTALL)


def test_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    code = blocks("python")
    assert len(code) == 3
    for number, block in enumerate(code, start=1):
        exec(compile(block, f"docs/mcp.md#python{number}", "exec"), namespace)


def test_every_tool_resource_and_prompt_is_documented(memory_store: MemoryStore) -> None:
    server = create_server(memory_store)

    async def names() -> list[str]:
        async with connect(server) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            prompts = [p.name for p in (await client.list_prompts()).prompts]
            for tool in (await client.list_tools()).tools:
                for argument in tool.input_schema["properties"]:
                    assert f"`{argument}`" in TEXT, f"{tool.name}.{argument}"
            return [*tools, *prompts, RECENT_URI, MEMORY_URI_TEMPLATE]

    for name in anyio.run(names):
        assert f"`{name}`" in TEXT, name


def test_the_error_example_is_what_the_server_says(embedder: HashingEmbedder) -> None:
    (example,) = blocks("text")

    async def text() -> str:
        with MemoryStore.open(None, embedder=embedder) as store:
            async with connect(create_server(store)) as client:
                return error_text(await client.call_tool("add_memory", {"text": "x" * 20000}))

    assert anyio.run(text) == example.strip()


# -- the shell blocks and host configurations, with the real CLI ---------------------


def _cli_has_mcp() -> bool:
    if not CLI.exists():
        return False
    return subprocess.run([str(CLI), "mcp", "--help"], capture_output=True, timeout=TIMEOUT_S).returncode == 0


needs_cli = pytest.mark.skipif(not _cli_has_mcp(), reason="the memorylink CLI (memorylink.cli) is not installed")


def _environ(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYLINK_")}
    env.update(HOME=str(home), PATH=f"{CLI.parent}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def _for_test(script: str) -> str:
    # The docs show the default embedder; the test stores use the model-free one.
    return re.sub(r"(memorylink --store \S+ init)\b", r"\1 --embedder hashing", script)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HOME after the first shell block ran: a key file, a store at ~/memories; plus a passphrase store."""
    home = tmp_path_factory.mktemp("home")
    if not _cli_has_mcp():
        return home
    setup = blocks("bash")[0]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _for_test(setup)],
        env=_environ(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S * 2,
    )
    assert done.returncode == 0, done.stderr
    subprocess.run(
        [str(CLI), "--store", str(home / "memories-passphrase"), "init", "--embedder", "hashing"],
        env=_environ(home, MEMORYLINK_PASSPHRASE=PASSPHRASE),
        check=True,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    return home


@needs_cli
def test_setup_block_made_a_store(home: Path) -> None:
    key = (home / ".memorylink.key").read_text().strip()
    assert len(bytes.fromhex(key)) == 32
    assert (home / ".memorylink.key").stat().st_mode & 0o077 == 0
    with MemoryStore.open(home / "memories", key=key, embedder=HashingEmbedder()) as store:
        assert store.stats().embedder == HashingEmbedder().name


def _configurations() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for number, block in enumerate(blocks("json"), start=1):
        config = json.loads(block)
        servers = config.get("mcpServers") or config["servers"]
        found.extend((f"json{number}", entry) for entry in servers.values())
    return found


def test_configurations_follow_the_cli_contract() -> None:
    configurations = _configurations()
    assert len(configurations) == 4
    for _, entry in configurations:
        if "url" in entry:
            assert entry["type"] == "http" and entry["url"].endswith("/mcp")
            assert entry["headers"]["Authorization"].startswith("Bearer ")
            continue
        assert entry["command"] == "memorylink"
        assert entry["args"][0] == "--store" and entry["args"][2] == "mcp"
        assert set(entry["env"]) <= {"MEMORYLINK_KEY_FILE", "MEMORYLINK_PASSPHRASE"} and entry["env"]


@needs_cli
@pytest.mark.anyio
@pytest.mark.parametrize(("name", "entry"), [c for c in _configurations() if "command" in c[1]], ids=lambda v: str(v))
async def test_stdio_configuration_starts_a_server(home: Path, name: str, entry: dict[str, Any]) -> None:
    args = list(entry["args"])
    env: dict[str, str] = {}
    if "MEMORYLINK_KEY_FILE" in entry["env"]:
        args[1] = str(home / "memories")
        env["MEMORYLINK_KEY_FILE"] = str(home / ".memorylink.key")
    else:
        args[1] = str(home / "memories-passphrase")
        env["MEMORYLINK_PASSPHRASE"] = PASSPHRASE
    params = StdioServerParameters(command=str(CLI), args=args, env=_environ(home, **env))
    with (home / f"{name}-stderr.log").open("w") as errlog, anyio.fail_after(TIMEOUT_S):
        async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
            added = structured(await client.call_tool("add_memory", {"text": f"registered through {name}"}))
            assert added["user_id"] == "alice"
            if "--agent-id" in args:
                assert added["agent_id"] == args[args.index("--agent-id") + 1]
            found = structured(await client.call_tool("search_memories", {"query": f"registered through {name}"}))
            assert found["hits"][0]["memory"]["id"] == added["id"]


@pytest.fixture
def http_server(home: Path) -> Iterator[int]:
    """The doc's HTTP command (second shell block) on a free port, ready (bounded wait)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = blocks("bash")[1].strip().replace("--port 8765", f"--port {port}")
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", f"exec {command}"],
        env=_environ(home, MEMORYLINK_KEY_FILE=str(home / ".memorylink.key"), MEMORYLINK_MCP_TOKEN=TOKEN),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline, seen = time.monotonic() + TIMEOUT_S, []
    try:
        while True:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, "the server exited:\n" + "".join(seen)
            seen.append(line)
            if "Uvicorn running on" in line:
                break
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@needs_cli
@pytest.mark.anyio
async def test_http_command_and_configuration(http_server: int) -> None:
    (entry,) = [entry for _, entry in _configurations() if "url" in entry]
    url = entry["url"].replace(":8765/", f":{http_server}/")
    headers = {k: v.replace("${input:memorylink-token}", TOKEN) for k, v in entry["headers"].items()}
    with anyio.fail_after(TIMEOUT_S):
        async with (
            create_mcp_http_client(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http), cache=None) as client,
        ):
            assert structured(await client.call_tool("list_memories", {}))["items"] is not None
        async with create_mcp_http_client() as http:
            refused = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert refused.status_code == 401
