"""Helpers for the event stream tests (server and client): a live uvicorn, a raw SSE reader, waiting.

A module, not a conftest, so tests/server and tests/client can both import it (``tests/`` is
on sys.path through the top-level conftest).
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from memorylink import EventSettings, Settings
from memorylink.server.streams import StreamingServer, hub_of

ALWAYS = Settings(events=EventSettings(outbox="always"))
WAIT_S = 10.0
"""The bound on every wait in these tests (they normally finish in milliseconds)."""


@dataclass
class Live:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    app: FastAPI

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "uvicorn did not stop within the deadline"


def start(app: FastAPI, *, server_class: type[uvicorn.Server] = StreamingServer, port: int = 0) -> Live:
    """Serve ``app`` on 127.0.0.1 (a free port by default) in a thread; returns once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio")
    server = server_class(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "uvicorn to start")
    assert thread.is_alive(), "uvicorn failed to start"
    return Live(f"http://127.0.0.1:{port}", server, thread, app)


@contextmanager
def serving(app: FastAPI) -> Iterator[Live]:
    live = start(app)
    try:
        yield live
    finally:
        live.stop()


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    """Poll ``condition`` until it is true, failing after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def open_feeds(app: FastAPI) -> int:
    return hub_of(app).open_feeds


def wait_caught_up(app: FastAPI, event_id: str) -> None:
    """Wait until a stream of ``app`` has read past ``event_id`` at the watch's current version.

    Then the stream waits for news; a wake-up still pending (the watch's poll seeing the same
    commit) would otherwise make it read once more at a moment the test does not control.
    """
    watch = hub_of(app).watch

    def caught_up() -> bool:
        entry = watch._reads.get(event_id)
        return entry is not None and entry[0] == watch.version and entry[1].done()

    wait_until(caught_up, "the stream to wait, caught up")


@dataclass
class Frame:
    """One parsed SSE message."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


class SSEReader:
    """Reads one SSE response in a thread, into a queue of frames (keep-alive comments dropped)."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, params: Any = None) -> None:
        self.client = httpx.Client(timeout=httpx.Timeout(WAIT_S, read=None))
        self.frames: queue.Queue[Frame | BaseException | None] = queue.Queue()
        self._opened = threading.Event()
        self.response: httpx.Response | None = None
        self.status: int | None = None
        self.body: bytes | None = None
        self.comments = 0
        """Comment-only messages (keep-alive pings) seen so far."""
        self._thread = threading.Thread(target=self._run, args=(url, headers or {}, params), daemon=True)
        self._thread.start()
        assert self._opened.wait(WAIT_S), "the SSE request was not answered"

    def _run(self, url: str, headers: dict[str, str], params: Any) -> None:
        try:
            with self.client.stream("GET", url, headers=headers, params=params) as response:
                self.response = response
                self.status = response.status_code
                if response.status_code != 200:
                    self.body = response.read()
                    self._opened.set()
                    return
                self._opened.set()
                frame = Frame()
                for line in response.iter_lines():
                    if line == "":
                        if any(part is not None for part in (frame.id, frame.data, frame.event, frame.retry)):
                            self.frames.put(frame)
                        elif frame.comments:
                            self.comments += 1
                        frame = Frame()
                        continue
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "":
                        frame.comments.append(value)
                    elif name == "id":
                        frame.id = value
                    elif name == "event":
                        frame.event = value
                    elif name == "data":
                        frame.data = value if frame.data is None else frame.data + "\n" + value
                    elif name == "retry":
                        frame.retry = int(value)
            self.frames.put(None)
        except BaseException as error:  # the test reads it from the queue
            self._opened.set()
            self.frames.put(error)

    def next(self, timeout_s: float = WAIT_S) -> Frame:
        """The next frame; fails on a timeout, a closed stream or a read error."""
        item = self.frames.get(timeout=timeout_s)
        if item is None:
            raise AssertionError("the stream ended")
        if isinstance(item, BaseException):
            raise AssertionError(f"the stream failed: {item!r}")
        return item

    def events(self, count: int) -> list[Frame]:
        """The next ``count`` event frames (frames without data are skipped)."""
        found: list[Frame] = []
        while len(found) < count:
            frame = self.next()
            if frame.data is not None:
                found.append(frame)
        return found

    def ended(self, timeout_s: float = WAIT_S) -> bool:
        """Whether the stream ends (cleanly or not) within ``timeout_s``, skipping any frames left."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                item = self.frames.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if item is None or isinstance(item, BaseException):
                return True

    def cut(self) -> None:
        """Kill the TCP connection under the stream, as a network failure would."""
        assert self.response is not None
        stream = self.response.extensions["network_stream"]
        sock: socket.socket = stream.get_extra_info("socket")
        sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Leave: the socket is shut so the reading thread wakes (closing the response from here would wait for it)."""
        if self.response is not None and self._thread.is_alive():
            with contextlib.suppress(OSError):
                self.cut()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "the SSE reader thread did not end"
        self.client.close()


# -- apps with a stand-in guard ---------------------------------------------------------

ADMIN_KEY, ALICE_KEY, BOB_KEY = "admin-key", "alice-key", "bob-key"
WRITE_ONLY_KEY, SPENT_KEY = "write-only-key", "spent-key"
"""A key without the read scope (403), and one whose budget is spent (429)."""


class HeaderGuard:
    """A stand-in Guard: three fixed keys (X-API-Key or Bearer); 401 otherwise."""

    def __init__(self) -> None:
        from memorylink.server.principal import SCOPES, Principal

        self.keys = {
            ADMIN_KEY: Principal(user_id="admin", scopes=frozenset(SCOPES), kind="api_key", key_id="adm"),
            ALICE_KEY: Principal(user_id="alice", scopes=frozenset({"read", "write"}), kind="api_key", key_id="ali"),
            BOB_KEY: Principal(user_id="bob", scopes=frozenset({"read", "write"}), kind="api_key", key_id="bob"),
            WRITE_ONLY_KEY: Principal(user_id="carol", scopes=frozenset({"write"}), kind="api_key", key_id="wo"),
        }
        self.calls: list[tuple[str, str | None]] = []

    async def __call__(self, request: Any, scope: Any, budget: Any) -> Any:
        from memorylink.server.errors import ApiError

        self.calls.append((scope, budget))
        given = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization", "")
        if given is None and authorization.lower().startswith("bearer "):
            given = authorization[7:]
        if given == SPENT_KEY:
            raise ApiError(429, "rate_limited", "the reads budget is spent", {"retry_after": 5})
        principal = self.keys.get(given or "")
        if principal is None:
            raise ApiError(401, "unauthenticated", "no valid credentials", headers={"WWW-Authenticate": "Bearer"})
        if not principal.allows(scope):
            raise ApiError(403, "forbidden", f"this credential lacks the {scope} scope", {"scope": scope})
        return principal


def stream_app(store: Any, **stream_settings: Any) -> FastAPI:
    """``create_app`` over ``store`` with the stand-in guard and the given StreamSettings fields."""
    from memorylink.server import ServerSettings, create_app
    from memorylink.server.streams import StreamSettings

    settings = ServerSettings(streams=StreamSettings(**stream_settings))
    return create_app(store, settings, guard=HeaderGuard())


def key(value: str) -> dict[str, str]:
    return {"X-API-Key": value}


# -- a TCP proxy that can cut every connection through it ---------------------------------


class CuttingProxy:
    """Forwards 127.0.0.1 connections to ``target``; ``cut()`` kills them all, as a network failure would.

    While ``paused`` (after ``cut(pause=True)`` until ``resume()``), new connections are
    accepted and closed at once, so clients see their reconnect attempts fail.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.paused = threading.Event()
        self.accepted = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.paused.is_set() or self._stopping:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self.accepted += 1
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self, *, pause: bool = False) -> None:
        if pause:
            self.paused.set()
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def resume(self) -> None:
        self.paused.clear()

    def close(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not
        self.listener.close()
        self.cut()
        self._thread.join(WAIT_S)
