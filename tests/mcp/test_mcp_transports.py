"""Real sessions: the server in a subprocess over stdio, and over streamable HTTP on 127.0.0.1 (with a token)."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_helpers import SERVE_SCRIPT, error_text, structured

from memorylink import MemoryStore, ValidationError
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.mcp import create_server, run_server
from memorylink.mcp._transport import http_app, is_loopback

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


KEY = bytes(range(32))
TOKEN = "test-token-0123456789"
SESSION_TIMEOUT_S = 60


@pytest.fixture
def store_dir(tmp_path: Path) -> tuple[Path, Path, str]:
    """A store on disk holding one memory of alice and one of bob, closed; and its key file."""
    directory = tmp_path / "store"
    with MemoryStore.open(directory, key=KEY, embedder=HashingEmbedder()) as store:
        alice = store.add("alice keeps her bike in the garage", user_id="alice")
        store.add("bob keeps his bike at the office", user_id="bob")
    key_file = tmp_path / "key.hex"
    key_file.write_text(KEY.hex())
    return directory, key_file, alice.id


def _check_session_against_alice(tools: set[str], hits: list[str], alice_id: str) -> None:
    assert {"add_memory", "search_memories", "list_memories"} <= tools
    assert hits == [alice_id]


async def test_stdio_session_in_a_subprocess(store_dir: tuple[Path, Path, str], tmp_path: Path) -> None:
    directory, key_file, alice_id = store_dir
    params = StdioServerParameters(
        command=sys.executable, args=[str(SERVE_SCRIPT), str(directory), str(key_file), "--user-id", "alice"]
    )
    with (tmp_path / "server-stderr.log").open("w") as errlog:
        with anyio.fail_after(SESSION_TIMEOUT_S):
            async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                found = structured(await client.call_tool("search_memories", {"query": "bike"}))
                _check_session_against_alice(tools, [h["memory"]["id"] for h in found["hits"]], alice_id)
                added = structured(await client.call_tool("add_memory", {"text": "alice bought a helmet"}))
                assert "not_found" in error_text(await client.call_tool("get_memory", {"id": "0000000000000"}))
    with MemoryStore.open(directory, key=KEY, embedder=HashingEmbedder()) as store:
        stored = store.get(added["id"])
        assert stored is not None and stored.user_id == "alice"


@dataclass
class HttpServer:
    url: str
    process: subprocess.Popen[str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def http_server(store_dir: tuple[Path, Path, str]) -> Iterator[HttpServer]:
    """serve_mcp.py --http on a free port of 127.0.0.1, with TOKEN; waits (bounded) for uvicorn's ready line."""
    directory, key_file, _ = store_dir
    port = _free_port()
    command = [sys.executable, str(SERVE_SCRIPT), str(directory), str(key_file), "--user-id", "alice"]
    process = subprocess.Popen(
        [*command, "--http", "--port", str(port), "--token", TOKEN],
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
    seen: list[str] = []
    deadline = time.monotonic() + SESSION_TIMEOUT_S
    try:
        while True:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError("the server exited before it was ready:\n" + "".join(seen))
            seen.append(line)
            if "Uvicorn running on" in line:
                break
        yield HttpServer(url=f"http://127.0.0.1:{port}/mcp", process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def test_http_session_with_the_token(http_server: HttpServer, store_dir: tuple[Path, Path, str]) -> None:
    _, _, alice_id = store_dir
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with anyio.fail_after(SESSION_TIMEOUT_S):
        async with (
            create_mcp_http_client(headers=headers) as http,
            Client(streamable_http_client(http_server.url, http_client=http), cache=None) as client,
        ):
            tools = {tool.name for tool in (await client.list_tools()).tools}
            found = structured(await client.call_tool("search_memories", {"query": "bike"}))
            _check_session_against_alice(tools, [h["memory"]["id"] for h in found["hits"]], alice_id)
            assert "outside this server's scope" in error_text(
                await client.call_tool("list_memories", {"user_id": "bob"})
            )
            recent = await client.read_resource("memorylink://memories/recent")
            assert alice_id in recent.contents[0].text  # type: ignore[union-attr]


def test_http_without_the_token_is_401(http_server: HttpServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for authorization in [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN]:
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = httpx.post(http_server.url, json=body, headers=headers, timeout=10)
        assert response.status_code == 401, authorization
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"] == "unauthorized"
        assert "tools" not in response.text
    # The same request with the token is served (the 401s were the token's doing).
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {TOKEN}"}
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    assert httpx.post(http_server.url, json=initialize, headers=headers, timeout=10).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_http_off_loopback_needs_a_token(memory_store: MemoryStore, host: str) -> None:
    server = create_server(memory_store)
    with pytest.raises(ValidationError, match="needs a bearer token") as raised:
        run_server(server, transport="http", host=host, port=_free_port())
    assert raised.value.field == "bearer_token"
    http_app(server, host=host, bearer_token=TOKEN)  # with a token it builds


def test_bad_transport_and_empty_token(memory_store: MemoryStore) -> None:
    server = create_server(memory_store)
    with pytest.raises(ValidationError, match="transport"):
        run_server(server, transport="websocket")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="empty"):
        http_app(server, bearer_token=" ")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("myhost.local", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
