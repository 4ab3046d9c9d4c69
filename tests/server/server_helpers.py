"""Helpers of the server tests: a stand-in guard, an in-process client, the error-body check, a live uvicorn."""

from __future__ import annotations

import functools
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request

from memorylink.server.errors import ApiError
from memorylink.server.principal import SCOPES, Budget, Principal, Scope
from memorylink.server.streams import StreamingServer

ADMIN = "admin-key"
ALICE = "alice-key"
BOB = "bob-key"
ALICE_READER = "alice-read-key"


class KeyGuard:
    """A stand-in guard: fixed keys mapped to principals, the 401 / 403 rules of the Guard protocol."""

    def __init__(self, keys: dict[str, Principal]) -> None:
        self.keys = keys
        self.calls: list[tuple[Scope, Budget | None]] = []

    async def __call__(self, request: Request, scope: Scope, budget: Budget | None) -> Principal:
        self.calls.append((scope, budget))
        given = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization", "")
        if given is None and authorization.lower().startswith("bearer "):
            given = authorization[7:]
        principal = self.keys.get(given or "")
        if principal is None:
            raise ApiError(401, "unauthenticated", "no valid credentials", headers={"WWW-Authenticate": "Bearer"})
        if not principal.allows(scope):
            raise ApiError(403, "forbidden", f"this credential lacks the {scope} scope", {"scope": scope})
        return principal


def known_keys() -> dict[str, Principal]:
    return {
        ADMIN: Principal(user_id="admin", scopes=frozenset(SCOPES), kind="api_key", key_id="adm"),
        ALICE: Principal(user_id="alice", scopes=frozenset({"read", "write"}), kind="api_key", key_id="ali"),
        BOB: Principal(user_id="bob", scopes=frozenset({"read", "write"}), kind="api_key", key_id="bob"),
        ALICE_READER: Principal(user_id="alice", scopes=frozenset({"read"}), kind="api_key", key_id="alr"),
    }


def headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


class Api:
    """A synchronous face on ``httpx.AsyncClient(transport=ASGITransport(app))`` (one event loop in a portal)."""

    def __init__(self, portal: Any, client: httpx.AsyncClient, key: str | None) -> None:
        self._portal = portal
        self._client = client
        self.key = key

    def as_(self, key: str | None) -> Api:
        """The same client sending another key (None: no credentials)."""
        return Api(self._portal, self._client, key)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        sent = dict(kwargs.pop("headers", None) or {})
        if self.key is not None:
            sent.setdefault("X-API-Key", self.key)
        call = functools.partial(self._client.request, method, url, headers=sent, **kwargs)
        response: httpx.Response = self._portal.call(call)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the one error body with this status and code; returns ``body["error"]``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["timestamp"].endswith("Z")
    return error


# -- a real uvicorn server on 127.0.0.1 ------------------------------------------------


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def start_server(app: FastAPI, *, startup_timeout_s: float = 10.0) -> LiveServer:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; returns once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = StreamingServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("uvicorn did not start within the deadline")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread)


def stop_server(live: LiveServer, *, timeout_s: float = 10.0) -> None:
    live.server.should_exit = True
    live.thread.join(timeout_s)
    assert not live.thread.is_alive(), "uvicorn did not stop within the deadline"
