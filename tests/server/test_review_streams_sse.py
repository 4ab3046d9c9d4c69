"""GET /api/v1/events, found in review: a stream that ends by a failed send lets go of its feed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from memorylink import MemoryStore
from memorylink.server.streams import hub_of
from stream_helpers import ADMIN_KEY, ALWAYS, WAIT_S, stream_app


def _scope(query: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/events",
        "raw_path": b"/api/v1/events",
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test"), (b"x-api-key", ADMIN_KEY.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


def test_a_client_too_slow_to_take_a_message_releases_its_feed(
    open_store: Callable[..., MemoryStore], caplog: pytest.LogCaptureFixture
) -> None:
    # sse-starlette raises out of the response when a send times out, and then skips the
    # response's background task: the stream's clean-up must not depend on it.
    store = open_store(settings=ALWAYS)
    store.add("one event to send")
    app = stream_app(store, send_timeout_s=0.05)
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()  # a client that never reads

    async def main() -> None:
        with anyio.fail_after(WAIT_S):
            await app(_scope(b"start=oldest"), receive, send)

    with caplog.at_level(logging.INFO, logger="memorylink"):
        anyio.run(main)
    assert sent[:2] == ["http.response.start", "http.response.body"]
    assert hub_of(app).open_feeds == 0
    assert hub_of(app).watch._users == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert any("send_timeout_s" in r.getMessage() for r in caplog.records)


def test_many_slow_clients_leave_nothing_behind(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=ALWAYS)
    store.add("one event to send")
    app = stream_app(store, send_timeout_s=0.01)

    async def receive() -> dict[str, Any]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await anyio.sleep_forever()

    async def main() -> None:
        with anyio.fail_after(WAIT_S):
            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(app, _scope(b"start=oldest"), receive, send)

    anyio.run(main)
    assert hub_of(app).open_feeds == 0
