"""schemathesis against the REST server on a real uvicorn, and the request-body edge cases it implies.

The server runs in this process (a uvicorn thread on a free 127.0.0.1 port) over a throwaway
store on the hashing embedder, with authentication on: an admin API key made through the
auth package's :class:`~memorylink.server.auth.Accounts`, sent as ``X-API-Key``. The
schemathesis CLI then reads ``/openapi.json`` over HTTP and runs all its phases (schema
examples, coverage, fuzzing, stateful) in positive and negative modes with a fixed seed and
a bounded number of cases per operation; any 5xx, response that disagrees with the schema
(status, body, content type, headers) or schema-violating request that is served fails the test
with schemathesis' report.

Rate limits are off for the run: with the default budgets most of a fuzzing run would be
answered 429, which the schema allows but which tests nothing else. The event streams
(``GET /api/v1/events``, SSE, and ``/api/v1/ws``, which is not an OpenAPI operation) are left
out: an SSE response stays open until the client leaves, so a request-per-case fuzzer can
only time out on it (tests/server covers the stream). One schemathesis hook (fuzz_hooks.py)
keeps the run from revoking its own key, which would leave it testing nothing but 401s.

Run with ``nox -s schemathesis``; ``-- -k body`` runs only the explicit body tests.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.server import ServerSettings, create_app
from memorylink.server.auth import Accounts
from memorylink.server.ratelimit import RateLimitSettings
from memorylink.server.streams import StreamingServer

logger = logging.getLogger(__name__)

KEY = bytes(range(32))
SEED = 20261201
"""schemathesis' --seed: the same cases on every run, so a finding reproduces."""
MAX_EXAMPLES = 40
"""Cases per operation in the fuzzing phase (the coverage phase adds its own, deterministic ones)."""
MAX_BODY_BYTES = 64 * 1024
"""Smaller than the default 1 MiB, so schemathesis' large generated bodies meet the limit too."""
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
"""positive_data_acceptance is left out: the store refuses some values the schema cannot state. A
``filter`` query parameter must be JSON text and a ``filter`` body must be the filter language
(docs/filters.md); a retry policy's max_delay_s must be at least its initial_delay_s; a webhook URL's host
must pass IDNA; a key's name must be printable and its username and user_id must agree with the account;
an event is redelivered only once it was attempted. Everything else it found is stated in the schema."""
NEGATIVE_STATUSES = ("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx")
"""What schema-violating requests may be answered: schemathesis' defaults and 413, the body limit, which
refuses an over-long array before its maxItems is checked."""
EXCLUDED_PATHS = ("/api/v1/events",)
"""SSE never ends by itself; each case would wait out the request timeout (see the module docstring)."""
RUN_TIMEOUT_S = 1200.0
"""The bound on the whole schemathesis run (it takes a few minutes on two cores)."""
WAIT_S = 10.0
HOOKS = Path(__file__).with_name("fuzz_hooks.py")
"""Keeps the run's own admin key from being revoked by the run (see that module)."""


@dataclass
class Live:
    url: str
    api_key: str
    api_key_id: str
    store: MemoryStore
    settings: ServerSettings


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The server with auth on, over a store holding a few memories of two users."""
    store = MemoryStore.open(tmp_path_factory.mktemp("fuzz") / "store", key=KEY, embedder=HashingEmbedder())
    for user in ("alice", "bob"):
        for i, text in enumerate(("likes window seats", "the budget meeting moved to Friday", "allergic to kiwi")):
            store.add(f"{user} {text}", tags=["seed", f"n{i}"], metadata={"i": i}, user_id=user)
    accounts = Accounts(store.app_data, limits=store.settings.limits)
    admin = accounts.create_key(scopes=("read", "write", "admin"), user_id="fuzz-admin", name="schemathesis")
    settings = ServerSettings(max_body_bytes=MAX_BODY_BYTES, rate_limits=RateLimitSettings(enabled=False))
    app = create_app(store, settings)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = StreamingServer(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "uvicorn to start")
    assert thread.is_alive(), "uvicorn failed to start"
    try:
        yield Live(f"http://127.0.0.1:{port}", admin.key, admin.id, store, settings)
    finally:
        server.should_exit = True
        thread.join(WAIT_S)
        store.close()
        assert not thread.is_alive(), "uvicorn did not stop within the deadline"


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, headers={"X-API-Key": live.api_key}, timeout=WAIT_S) as http:
        yield http


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the one error body with this status and code; returns ``body["error"]``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


# -- the fuzzing run ------------------------------------------------------------------------


def junit_counts(path: Path) -> dict[str, int]:
    """Operations tested, failed, errored and skipped, from schemathesis' JUnit report."""
    root = ET.parse(path).getroot()
    cases = root.findall(".//testcase")
    return {
        "operations": len(cases),
        "failures": sum(1 for case in cases if case.find("failure") is not None),
        "errors": sum(1 for case in cases if case.find("error") is not None),
        "skipped": sum(1 for case in cases if case.find("skipped") is not None),
    }


def test_schemathesis_finds_nothing(live: Live, tmp_path: Path) -> None:
    """Every operation but the SSE stream, positive and negative cases: no 5xx, every response as documented."""
    junit = tmp_path / "junit.xml"
    config = tmp_path / "schemathesis.toml"
    # One credential for the whole run, the admin key: no account signed up on the side.
    config.write_text(
        "[auth]\nauto-signup = false\n\n[checks.negative_data_rejection]\n"
        f"expected-statuses = {json.dumps(list(NEGATIVE_STATUSES))}\n"
    )
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{live.url}/openapi.json",
        "--mode",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--checks",
        ",".join(CHECKS),
        *(arg for path in EXCLUDED_PATHS for arg in ("--exclude-path", path)),
        "--header",
        f"X-API-Key: {live.api_key}",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        "--no-color",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "MEMORYLINK_FUZZ_KEY_ID": live.api_key_id,
    }
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL
    )
    output = run.stdout + run.stderr
    (tmp_path / "schemathesis.log").write_text(output)
    assert run.returncode == 0, f"schemathesis reported findings (exit {run.returncode}):\n{output[-20000:]}"
    counts = junit_counts(junit)
    logger.info("schemathesis: %s (seed %d, --max-examples %d)\n%s", counts, SEED, MAX_EXAMPLES, output[-3000:])
    # The run must have reached the API: the memory routes are among the operations it tested.
    assert counts["operations"] >= 20, counts
    assert counts["failures"] == counts["errors"] == 0, counts
    # The server is still serving with the admin key: the run tested the API, not a locked-out server.
    with httpx.Client(base_url=live.url, headers={"X-API-Key": live.api_key}, timeout=WAIT_S) as http:
        assert http.get("/api/v1/stats").status_code == 200


# -- request bodies the fuzzer cannot be relied on to send -------------------------------------


def test_body_over_the_limit_with_content_length_is_413(live: Live, client: httpx.Client) -> None:
    text = "x" * (MAX_BODY_BYTES + 1)
    body = json.dumps({"text": text, "user_id": "too-large"}).encode()
    response = client.post("/api/v1/memories", content=body, headers={"Content-Type": "application/json"})
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == {"limit": "max_body_bytes", "maximum": MAX_BODY_BYTES, "actual": len(body)}
    assert not live.store.list(user_id="too-large").items  # nothing was added


def test_chunked_body_over_the_limit_is_413(live: Live, client: httpx.Client) -> None:
    """No Content-Length (chunked transfer): the body is counted as it arrives."""
    chunk = b" " * 8192

    def chunks() -> Iterator[bytes]:
        yield b'{"user_id": "too-large", "text": "'
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk
        yield b'"}'

    response = client.post("/api/v1/memories", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["maximum"] == MAX_BODY_BYTES
    assert not live.store.list(user_id="too-large").items


def test_body_of_exactly_the_limit_is_accepted(live: Live, client: httpx.Client) -> None:
    """The limit counts bytes: a valid body of exactly max_body_bytes (padded with JSON whitespace) is served."""
    body = json.dumps({"text": "exactly at the limit", "user_id": "at-limit"}).encode()
    body += b" " * (MAX_BODY_BYTES - len(body))
    response = client.post("/api/v1/memories", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert [m.text for m in live.store.list(user_id="at-limit").items] == ["exactly at the limit"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": "unterminated',
        b'{"text": "a", }',
        b"{'text': 'single quotes'}",
        b"\xff\xfe not utf-8",  # read as UTF-16 (its BOM) by json.loads, then invalid
        b'{"text": "\xc3\x28"}',  # not UTF-8 at all
        b"",
        b"null",
        b"[]",
        b'"just a string"',
    ],
    ids=["unterminated", "trailing-comma", "single-quotes", "utf16-bom", "not-utf8", "empty", "null", "array", "str"],
)
@pytest.mark.parametrize("path", ["/api/v1/memories", "/api/v1/memories/search", "/api/v1/memories/batch"])
def test_malformed_json_body_is_422_with_the_error_body(client: httpx.Client, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    error = assert_error(response, 422, "validation_error")
    assert error["details"]["errors"], error
    for item in error["details"]["errors"]:
        assert {"loc", "msg", "type"} <= set(item), item
