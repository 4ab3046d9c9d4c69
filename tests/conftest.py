"""Shared fixtures: stores on the deterministic hashing embedder (no model needed), and a webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from memorylink import MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

KEY = bytes(range(32))
OTHER_KEY = bytes(reversed(range(32)))


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def open_store(tmp_path: Path, embedder: HashingEmbedder) -> Iterator[Callable[..., MemoryStore]]:
    """Open stores under tmp_path (raw key by default, so no KDF cost); all closed afterwards."""
    opened: list[MemoryStore] = []

    def factory(name: str = "store", **kwargs: object) -> MemoryStore:
        kwargs.setdefault("embedder", embedder)
        if "passphrase" not in kwargs:
            kwargs.setdefault("key", KEY)
        store = MemoryStore.open(tmp_path / name, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store()


@pytest.fixture
def memory_store(embedder: HashingEmbedder) -> Iterator[MemoryStore]:
    """An in-memory store (no directory)."""
    with MemoryStore.open(None, embedder=embedder, settings=Settings()) as store:
        yield store


# -- a real webhook receiver on 127.0.0.1 (event delivery tests) ---------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every complete POST; answers with the scripted statuses in turn, then ``default``."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    default: int = 200
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def answer(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            step = self.script.pop(0) if self.script else self.default
        return step if isinstance(step, tuple) else (step, {})

    def record(self, received: Received) -> None:
        with self.arrived:
            self.requests.append(received)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """Block until ``count`` requests arrived (bounded); returns them all."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.arrived.wait(left)
            return list(self.requests)

    def events(self) -> list[dict[str, Any]]:
        return [r.json for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = holder["receiver"]
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender died mid-request (the crash tests kill it): a real server never
                # hands a torn body to its application, so neither does this one.
                self.close_connection = True
                return
            status, extra = target.answer()
            if target.delay_s:
                time.sleep(target.delay_s)
            target.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def _drain(run_once: Callable[[], float], rounds: int = 200) -> None:
    for _ in range(rounds):
        wait_s = run_once()
        if wait_s > 1.0:
            return
        time.sleep(min(wait_s, 0.05))


@pytest.fixture
def drain() -> Callable[..., None]:
    """``drain(store._delivery.run_once)``: delivery rounds until nothing is due within a second (bounded)."""
    return _drain
