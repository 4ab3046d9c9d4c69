"""One pooled connection per client, a clear error after close, and nothing secret in repr."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from client_helpers import FakeServer

from memorylink import StoreClosedError
from memorylink.client import AsyncRemoteStore, RemoteStore


class KeepAliveServer:
    """A real HTTP/1.1 server on 127.0.0.1 that records the client port of every request."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.ports.append(self.client_address[1])
                body = json.dumps({"items": [], "next_cursor": None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def keep_alive() -> Iterator[KeepAliveServer]:
    server = KeepAliveServer()
    yield server
    server.stop()


def test_calls_reuse_one_pooled_connection(keep_alive: KeepAliveServer) -> None:
    with RemoteStore(keep_alive.url) as store:
        for _ in range(5):
            store.list()
    assert len(keep_alive.ports) == 5
    assert len(set(keep_alive.ports)) == 1  # one TCP connection served all five calls
    with RemoteStore(keep_alive.url) as other:
        other.list()
    assert keep_alive.ports[-1] != keep_alive.ports[0]  # a new client, a new connection


def test_async_calls_reuse_one_pooled_connection(keep_alive: KeepAliveServer) -> None:
    async def main() -> None:
        async with AsyncRemoteStore(keep_alive.url) as store:
            for _ in range(4):
                await store.list()

    asyncio.run(main())
    assert len(keep_alive.ports) == 4 and len(set(keep_alive.ports)) == 1


def test_use_after_close_raises_store_closed(server: FakeServer) -> None:
    store = RemoteStore("http://memory.test", transport=server.transport())
    assert not store.closed and "open" in repr(store)
    store.close()
    store.close()  # idempotent
    assert store.closed and "closed" in repr(store)
    with pytest.raises(StoreClosedError):
        store.list()
    with pytest.raises(StoreClosedError):
        store.webhooks.list()
    assert server.requests == []


def test_async_use_after_close_raises_store_closed(server: FakeServer) -> None:
    async def main() -> None:
        async with AsyncRemoteStore("http://memory.test", transport=server.async_transport()) as store:
            assert not store.closed
        assert store.closed
        await store.close()
        with pytest.raises(StoreClosedError):
            await store.search("q")

    asyncio.run(main())
    assert server.requests == []


def test_repr_never_shows_credentials() -> None:
    with RemoteStore("http://127.0.0.1:9/", api_key="mlk_topsecret") as store:
        assert repr(store) == "RemoteStore('http://127.0.0.1:9', open)"
        assert "topsecret" not in repr(store) and "topsecret" not in repr(store.retries)


def test_importing_memorylink_does_not_import_the_client() -> None:
    code = "import sys, memorylink; print('memorylink.client' in sys.modules, 'httpx' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]
