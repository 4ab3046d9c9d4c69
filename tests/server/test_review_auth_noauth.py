"""Review finding: a --no-auth app answers only loopback callers, however it is served (not only via `serve`)."""

from __future__ import annotations

import anyio
import httpx
import pytest

from memorylink import MemoryStore
from memorylink.server import ServerSettings, create_app


def _get(app: object, path: str, client: tuple[str, int]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.get(path)

    return anyio.run(call)


@pytest.mark.parametrize("address", ["203.0.113.9", "10.0.0.5", "2001:db8::1", "::ffff:10.0.0.5"])
def test_a_no_auth_app_refuses_callers_from_other_machines(store: MemoryStore, address: str) -> None:
    app = create_app(store, ServerSettings(no_auth=True))
    refused = _get(app, "/api/v1/memories", (address, 40000))
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "forbidden" and error["request_id"] == refused.headers["X-Request-ID"]
    assert _get(app, "/health", (address, 40000)).status_code == 200


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_a_no_auth_app_serves_this_machine(store: MemoryStore, address: str) -> None:
    app = create_app(store, ServerSettings(no_auth=True))
    assert _get(app, "/api/v1/memories", (address, 40000)).status_code == 200
