"""Review finding: CORS preflights (answered before the app) carry X-Request-ID, and a refused one the error body."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI
from server_helpers import Api, assert_error

from memorylink.server import ServerSettings

ORIGIN = "https://app.example.com"


def _preflight(api: Api, origin: str, method: str = "POST", **extra: str) -> httpx.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": method, **extra}
    return api.as_(None).request("OPTIONS", "/api/v1/memories", headers=headers)


def test_preflights_carry_a_request_id(make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api]) -> None:
    api = api_for(make_app(ServerSettings(cors_origins=[ORIGIN])))
    allowed = _preflight(api, ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert len(allowed.headers["x-request-id"]) == 32
    echoed = _preflight(api, ORIGIN, **{"X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"


def test_a_refused_preflight_answers_the_error_body(
    make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api]
) -> None:
    api = api_for(make_app(ServerSettings(cors_origins=[ORIGIN])))
    error = assert_error(_preflight(api, "https://evil.example.com"), 400, "bad_request")
    assert error["details"] == {"disallowed": ["origin"]}
    error = assert_error(
        _preflight(api, ORIGIN, "PUT", **{"Access-Control-Request-Headers": "X-Other"}), 400, "bad_request"
    )
    assert error["details"] == {"disallowed": ["method", "headers"]}
