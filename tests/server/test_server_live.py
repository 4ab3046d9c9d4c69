"""The server for real: uvicorn on 127.0.0.1 in a thread, and `memorylink serve` in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_helpers import ADMIN, ALICE, LiveServer, assert_error

from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.models import Memory, SearchResult

SCRIPT = Path(sys.executable).with_name("memorylink")
KEY = bytes(range(32))


def test_over_a_real_socket(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, headers={"X-API-Key": ALICE}, timeout=10) as client:
        created = client.post("/api/v1/memories", json={"text": "served over TCP"})
        assert created.status_code == 201
        memory = Memory.model_validate(created.json())
        assert memory.user_id == "alice"
        found = SearchResult.model_validate(client.post("/api/v1/memories/search", json={"query": "TCP"}).json())
        assert [hit.memory.id for hit in found.hits] == [memory.id]
        assert_error(client.get("/api/v1/stats"), 403, "forbidden")
        too_big = client.post("/api/v1/memories", content=b"x" * (2 * 1024 * 1024))
        assert_error(too_big, 413, "payload_too_large")
        assert client.get("/health", headers={"X-API-Key": ADMIN}).json() == {"status": "ok"}


def test_a_chunked_body_over_the_limit_over_a_real_socket(live_server: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"y" * 65536

    with httpx.Client(base_url=live_server.url, headers={"X-API-Key": ADMIN}, timeout=10) as client:
        response = client.post("/api/v1/memories/batch", content=chunks(), headers={"content-type": "application/json"})
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["maximum"] == 1024 * 1024


# -- memorylink serve ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def cli_store(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A store made with the hashing embedder, and the environment that opens it from the CLI."""
    path = tmp_path / "store"
    with MemoryStore.open(path, key=KEY, embedder=HashingEmbedder()) as store:
        store.add("written before the server started", user_id="default")
    key_file = tmp_path / "key.hex"
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYLINK_")}
    env.update({"MEMORYLINK_STORE": str(path), "MEMORYLINK_KEY_FILE": str(key_file), "HOME": str(tmp_path)})
    return path, env


def _wait_for_health(url: str, process: subprocess.Popen[str], timeout_s: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"memorylink serve exited with {process.returncode}: {stderr}")
        try:
            return httpx.get(f"{url}/health", timeout=1)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _serve(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SCRIPT), "serve", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_answers_then_stops_cleanly_on_sigterm(cli_store: tuple[Path, dict[str, str]]) -> None:
    path, env = cli_store
    port = _free_port()
    process = _serve(env, "--port", str(port), "--no-auth")
    try:
        url = f"http://127.0.0.1:{port}"
        assert _wait_for_health(url, process).json() == {"status": "ok"}
        listed = httpx.get(f"{url}/api/v1/memories", timeout=10).json()
        assert [m["text"] for m in listed["items"]] == ["written before the server started"]
        created = httpx.post(f"{url}/api/v1/memories", json={"text": "written over HTTP"}, timeout=10)
        assert created.status_code == 201
        assert httpx.get(f"{url}/health/ready", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"memorylink REST API at {url} (no authentication)" in stderr
    assert "written over HTTP" not in stderr  # request logs carry routes, never texts
    assert "POST /api/v1/memories 201" in stderr
    with MemoryStore.open(path, key=KEY, embedder=HashingEmbedder()) as store:
        assert sorted(m.text for m in store.list().items) == ["written before the server started", "written over HTTP"]


def test_serve_with_auth_refuses_anonymous_calls_and_says_how_to_make_a_key(
    cli_store: tuple[Path, dict[str, str]],
) -> None:
    _, env = cli_store
    port = _free_port()
    process = _serve(env, "--port", str(port))
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url, process)
        assert_error(httpx.get(f"{url}/api/v1/memories", timeout=10), 401, "unauthenticated")
        # The command the startup note suggests, run while the server is up.
        made = subprocess.run(
            [str(SCRIPT), "keys", "create", "--user-id", "admin", "--scope", "admin"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        key = re.search(r"mlk_\S+", made.stdout)
        assert key is not None, made.stdout
        stats = httpx.get(f"{url}/api/v1/stats", headers={"X-API-Key": key.group(0)}, timeout=10)
        assert stats.status_code == 200, stats.text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "memorylink keys create --user-id admin --scope admin" in " ".join(stderr.split())  # notes may wrap


def test_serve_refuses_no_auth_off_loopback(cli_store: tuple[Path, dict[str, str]]) -> None:
    _, env = cli_store
    result = subprocess.run(
        [str(SCRIPT), "serve", "--no-auth", "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--no-auth" in result.stderr and "0.0.0.0" in result.stderr


def test_serve_logs_json_lines_with_the_request_fields(cli_store: tuple[Path, dict[str, str]]) -> None:
    _, env = cli_store
    port = _free_port()
    process = _serve(env, "--port", str(port), "--no-auth", "--log-json")
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url, process)
        httpx.post(f"{url}/api/v1/memories", json={"text": "never in a log line"}, headers={"X-Request-ID": "j-1"})
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    requests = [r for r in records if r.get("request_id") == "j-1"]
    assert len(requests) == 1
    assert {k: requests[0][k] for k in ("method", "route", "status", "logger")} == {
        "method": "POST",
        "route": "/api/v1/memories",
        "status": 201,
        "logger": "memorylink.server.middleware",
    }
    assert requests[0]["duration_ms"] > 0
    assert "never in a log line" not in stderr
