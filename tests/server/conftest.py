"""Server fixtures: apps over hashing-embedder stores, an in-process client, a real uvicorn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI
from server_helpers import ADMIN, Api, KeyGuard, LiveServer, known_keys, start_server, stop_server

from memorylink import MemoryStore
from memorylink.server import ServerSettings, create_app


@pytest.fixture
def guard() -> KeyGuard:
    return KeyGuard(known_keys())


@pytest.fixture
def make_app(store: MemoryStore, guard: KeyGuard) -> Callable[..., FastAPI]:
    def factory(settings: ServerSettings | None = None, **kwargs: Any) -> FastAPI:
        # Users may point webhooks at 127.0.0.1 here: that is where the tests' receivers listen.
        settings = settings or ServerSettings(private_webhook_urls="everyone")
        return create_app(kwargs.pop("store", store), settings, guard=kwargs.pop("guard", guard))

    return factory


@pytest.fixture
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


@pytest.fixture
def api_for() -> Iterator[Callable[[FastAPI], Api]]:
    """In-process clients (no sockets) for apps; each speaks as the admin until ``as_()``."""
    with anyio.from_thread.start_blocking_portal() as portal:
        clients: list[httpx.AsyncClient] = []

        def factory(app: FastAPI) -> Api:
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
            clients.append(client)
            return Api(portal, client, ADMIN)

        yield factory
        for client in clients:
            portal.call(client.aclose)


@pytest.fixture
def api(app: FastAPI, api_for: Callable[[FastAPI], Api]) -> Api:
    return api_for(app)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    live = start_server(app)
    try:
        yield live
    finally:
        stop_server(live)
