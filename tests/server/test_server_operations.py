"""Health, readiness, metrics, stats, CORS and the interactive docs."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from server_helpers import ALICE, Api, assert_error

from memorylink import MemoryStore
from memorylink.models import StoreStats
from memorylink.server import ServerSettings


def test_health_needs_no_credentials(api: Api) -> None:
    response = api.as_(None).get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_lists_every_component(api: Api, store: MemoryStore) -> None:
    store.add("one memory")
    response = api.as_(None).get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["components"]) == {"storage", "index", "embedder", "outbox"}
    assert all(component["ok"] for component in body["components"].values())
    assert body["components"]["index"]["detail"] == "holds every memory"  # counts are for admins only
    assert api.get("/health/ready").json()["components"]["index"]["detail"] == "1 entries for 1 memories"


def test_ready_is_503_with_the_failing_components_when_the_store_is_closed(api: Api, store: MemoryStore) -> None:
    store.close()
    error = assert_error(api.as_(None).get("/health/ready"), 503, "not_ready")
    assert error["details"]["failing"] == ["embedder", "index", "outbox", "storage"]
    assert "store_closed" in error["details"]["components"]["storage"]["detail"]
    assert api.get("/health").status_code == 200


def test_ready_is_503_when_the_embedder_fails(api: Api, store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(texts: object) -> None:
        raise OSError("model files missing")

    monkeypatch.setattr(store.embedder, "embed", broken)
    error = assert_error(api.get("/health/ready"), 503, "not_ready")
    assert error["details"]["failing"] == ["embedder"]
    assert "OSError" in error["details"]["components"]["embedder"]["detail"]


def _sample(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line) if labels else re.fullmatch(rf"{name} (\S+)", line)
        if match is None:
            continue
        if not labels:
            return float(match.group(1))
        found = ",".join(sorted(match.group(1).split(",")))
        if found == wanted:
            return float(match.group(2))
    return None


def test_metrics_count_requests_by_route_and_status(api: Api, store: MemoryStore) -> None:
    memory = api.post("/api/v1/memories", json={"text": "counted"}).json()
    api.get(f"/api/v1/memories/{memory['id']}")
    api.get(f"/api/v1/memories/{memory['id']}")
    api.get("/api/v1/memories/0000000000000")
    api.get("/no/such/route")
    api.request("BREW", "/no/such/route")
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = "/api/v1/memories/{memory_id}"
    counter = "memorylink_http_requests_total"
    assert _sample(text, counter, method="GET", route=route, status="200") == 2
    assert _sample(text, counter, method="GET", route=route, status="404") == 1
    assert _sample(text, counter, method="POST", route="/api/v1/memories", status="201") == 1
    assert _sample(text, counter, method="GET", route="<unmatched>", status="404") == 1
    assert _sample(text, counter, method="OTHER", route="<unmatched>", status="404") == 1
    assert "BREW" not in text
    histogram = "memorylink_http_request_duration_seconds_count"
    assert _sample(text, histogram, method="GET", route=route, status="200") == 2
    assert _sample(text, "memorylink_memories") == 1
    assert _sample(text, "memorylink_store_up") == 1
    assert memory["id"] not in text
    store.add("another")
    assert _sample(api.get("/metrics").text, "memorylink_memories") == 2


def test_metrics_are_for_admins_unless_public(
    api: Api, make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api]
) -> None:
    assert_error(api.as_(None).get("/metrics"), 401, "unauthenticated")
    assert_error(api.as_(ALICE).get("/metrics"), 403, "forbidden")
    public = api_for(make_app(ServerSettings(metrics_public=True)))
    assert public.as_(None).get("/metrics").status_code == 200


def test_metrics_report_a_closed_store_as_down(api: Api, store: MemoryStore) -> None:
    store.close()
    text = api.get("/metrics").text
    assert _sample(text, "memorylink_store_up") == 0
    assert _sample(text, "memorylink_memories") is None


def test_stats_is_for_admins(api: Api, store: MemoryStore) -> None:
    store.add("x", user_id="alice")
    response = api.get("/api/v1/stats")
    assert response.status_code == 200
    stats = StoreStats.model_validate(response.json())
    assert (stats.memories, stats.users) == (1, 1)
    assert_error(api.as_(ALICE).get("/api/v1/stats"), 403, "forbidden")


def test_no_cors_headers_by_default(api: Api) -> None:
    response = api.get("/health", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_for_configured_origins(make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api]) -> None:
    api = api_for(make_app(ServerSettings(cors_origins=["https://app.example.com"])))
    preflight = api.as_(None).request(
        "OPTIONS",
        "/api/v1/memories",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    simple = api.get("/api/v1/memories", headers={"Origin": "https://app.example.com"})
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    error = api.get("/nope", headers={"Origin": "https://app.example.com"})
    assert error.headers["access-control-allow-origin"] == "https://app.example.com"
    other = api.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers


def test_interactive_docs_and_schema_are_served_without_credentials(api: Api) -> None:
    docs = api.as_(None).get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    schema = api.as_(None).get("/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "memorylink"


def test_no_auth_settings_are_refused_off_loopback() -> None:
    from pydantic import ValidationError

    assert ServerSettings(no_auth=True, host="127.0.0.1").no_auth
    assert ServerSettings(no_auth=True, host="::1").no_auth
    assert ServerSettings(no_auth=True, host="localhost").no_auth
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(ValidationError, match="refused"):
            ServerSettings(no_auth=True, host=host)
    assert ServerSettings(host="0.0.0.0").host == "0.0.0.0"


def test_no_auth_app_treats_callers_as_admin_of_the_configured_user(
    store: MemoryStore, api_for: Callable[[FastAPI], Api]
) -> None:
    from memorylink.server import create_app

    api = api_for(create_app(store, ServerSettings(no_auth=True, no_auth_user_id="solo"))).as_(None)
    created = api.post("/api/v1/memories", json={"text": "mine"})
    assert created.status_code == 201
    assert created.json()["user_id"] == "solo"
    assert api.get("/api/v1/stats").status_code == 200


def test_metrics_and_stats_report_the_outbox_backlog(
    open_store: Callable[..., MemoryStore], make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api]
) -> None:
    from memorylink import EventSettings, Settings

    # No delivery worker here, so every event stays owed.
    store = open_store("backlog", settings=Settings(events=EventSettings(deliver=False)))
    api = api_for(make_app(store=store))
    store.webhooks.add("https://example.com/enabled")
    store.webhooks.add("https://example.com/paused", enabled=False)
    for number in range(3):
        store.add(f"event {number}")
    assert store.stats().outbox_backlog == 3
    assert _sample(api.get("/metrics").text, "memorylink_outbox_backlog") == 3
    ready = api.get("/health/ready").json()
    assert ready["components"]["outbox"]["detail"] == "3 deliveries owed"
