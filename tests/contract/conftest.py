"""The store contract suite runs twice: on a local MemoryStore and on a RemoteStore over a real server.

``store`` / ``make_store`` are parametrized: ``local`` opens a MemoryStore on the hashing
embedder as the fast tests do; ``remote`` opens the same store behind ``create_app`` (the
real API-key guard, an admin key, rate limits off so the suite is not throttled) served
by one uvicorn on 127.0.0.1 for the whole session, and hands the test a RemoteStore. Each
test gets fresh stores: the live server's ASGI app is switched per test, so no state
crosses tests and the server starts once.

Select one backend with ``-m remote`` / ``-m "not remote"``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memorylink import MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

KEY = bytes(range(32))
STARTUP_S = 15.0

ASGIApp = Callable[..., Any]


class SwitchApp:
    """An ASGI app that forwards to the app of the current test (503 between tests)."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self.app
        if app is None:
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)


class LiveServer:
    """uvicorn on a free 127.0.0.1 port, in a thread, serving a :class:`SwitchApp`."""

    def __init__(self) -> None:
        import uvicorn

        self.switch = SwitchApp()
        self.app: Any = None  # the session's FastAPI app, made over the first test's store
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this: without it uvicorn's two writes per response
        # (head, then body) meet delayed ACKs and every call takes ~40 ms on loopback.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.switch, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + STARTUP_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within the deadline")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(STARTUP_S)


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    pytest.importorskip("fastapi", reason='the remote backend needs pip install "memorylink[server]"')
    server = LiveServer()
    yield server
    server.stop()


def _settings(settings: Settings | None) -> Settings:
    # No delivery worker: webhook tests register endpoints, they do not need them called.
    base = settings or Settings()
    return base.model_copy(update={"events": base.events.model_copy(update={"deliver": False})})


def _serve(live: LiveServer, store: MemoryStore) -> str:
    """Put ``store`` behind the live server with the real guard; returns an admin API key.

    One app serves the whole session and each test's store is swapped in with its own
    guard (the ``app.state`` contract every route reads). A fresh ``create_app`` per test
    would be the same server, but FastAPI builds each route's validators on the route's
    first request (about 0.3 s per app), which would double the suite's time.
    """
    from memorylink.server import ServerSettings, create_app
    from memorylink.server.auth import AuthService, build_guard
    from memorylink.server.ratelimit import RateLimitSettings

    # The key acts as the store's default user, so calls that name no user act as a local store's do.
    key = AuthService(store).accounts.create_key(scopes=["admin"], user_id="default", name="contract suite")
    settings = ServerSettings(rate_limits=RateLimitSettings(enabled=False))
    if live.app is None:
        live.app = create_app(store, settings)  # the default guard: API keys and JWTs, as served
    for derived in ("auth_service", "event_streams", "stream_positions"):  # built on first use over the previous store
        if hasattr(live.app.state, derived):
            delattr(live.app.state, derived)
    live.app.state.store = store
    live.app.state.guard = build_guard(store, settings)
    live.switch.app = live.app
    return key.key


@pytest.fixture(params=["local", pytest.param("remote", marks=pytest.mark.remote)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_store(settings=None, on_disk=False)``: a fresh store of this backend (one per test; closed afterwards)."""
    opened: list[Any] = []
    live: LiveServer | None = request.getfixturevalue("live_server") if backend == "remote" else None
    served: dict[str, str] = request.getfixturevalue("served")

    def factory(settings: Settings | None = None, *, on_disk: bool = False) -> Any:
        if opened:
            raise RuntimeError("one store per test: the live server serves one app at a time")
        # In memory unless a test needs files (the same SQLite, without a sync to disk per write).
        path = tmp_path / "store" if on_disk else None
        local = MemoryStore.open(path, key=KEY, embedder=HashingEmbedder(), settings=_settings(settings))
        opened.append(local)
        if live is None:
            return local
        from memorylink.client import RemoteStore

        served.update(url=live.url, api_key=_serve(live, local))
        remote = RemoteStore(served["url"], api_key=served["api_key"], retries=0)
        opened.append(remote)
        return remote

    yield factory
    if live is not None:
        live.switch.app = None
    for store in reversed(opened):
        store.close()


@pytest.fixture
def served() -> dict[str, str]:
    """The remote backend's ``url`` and admin ``api_key`` once ``make_store`` made its store (else empty)."""
    return {}


@pytest.fixture
def store(make_store: Callable[..., Any]) -> Any:
    """A fresh store of the backend under test, default settings."""
    return make_store()
