"""One error body for every error; request ids; the request log line; the body size limit."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_helpers import Api, assert_error

from memorylink import MemoryStore
from memorylink.errors import (
    AuthenticationError,
    EmbedderMismatchError,
    InvalidKeyError,
    LimitExceededError,
    MemoryLinkError,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StoreClosedError,
    StoreCorruptedError,
    ValidationError,
)
from memorylink.server import ServerSettings
from memorylink.server.errors import status_for

M = "/api/v1/memories"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError("bad", field="text"), 422),
        (LimitExceededError("big", limit="max_tags", maximum=1, actual=2), 422),
        (NotFoundError("x"), 404),
        (StoreClosedError(), 503),
        (AuthenticationError("who?"), 401),
        (PermissionDeniedError("no"), 403),
        (RateLimitError("slow down", retry_after=2), 429),
        (StoreCorruptedError("broken"), 500),
        (InvalidKeyError("wrong key"), 500),
        (EmbedderMismatchError("other embedder"), 500),
        (MissingDependencyError("torch", "embed"), 500),
        (MemoryLinkError("anything else"), 500),
    ],
)
def test_status_for_each_library_error(error: MemoryLinkError, status: int) -> None:
    assert status_for(error) == status


def test_unknown_route_and_method(api: Api) -> None:
    missing = assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")
    assert missing["details"] == {"path": "/api/v1/nothing-here"}
    wrong = assert_error(api.request("PUT", M), 405, "method_not_allowed")
    assert sorted(wrong["details"]["allowed"]) == ["GET", "POST"]


def test_malformed_json_and_wrong_types_are_422_with_locations(api: Api) -> None:
    broken = assert_error(
        api.post(M, content=b'{"text": "unterminated', headers={"content-type": "application/json"}),
        422,
        "validation_error",
    )
    assert broken["details"]["errors"][0]["type"] == "json_invalid"
    not_object = assert_error(api.post(M, json=["a", "list"]), 422, "validation_error")
    assert not_object["details"]["errors"][0]["loc"][0] == "body"
    wrong_type = assert_error(api.post(M, json={"text": "x", "tags": "not-a-list"}), 422, "validation_error")
    assert wrong_type["details"]["errors"][0]["loc"] == ["body", "tags"]
    assert wrong_type["message"].startswith("body.tags: ")
    empty = assert_error(
        api.post(M, content=b"", headers={"content-type": "application/json"}), 422, "validation_error"
    )
    assert empty["details"]["errors"]


def test_validation_errors_never_echo_the_input(api: Api) -> None:
    secret = "my-very-secret-memory-text"
    response = api.post(M, json={"text": secret, "tags": {"not": "a list"}, "extra": secret})
    assert_error(response, 422, "validation_error")
    assert secret not in response.text


def test_a_body_over_the_limit_is_413_by_content_length(
    make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api]
) -> None:
    api = api_for(make_app(ServerSettings(max_body_bytes=100)))
    response = api.post(M, json={"text": "x" * 200})
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["limit"] == "max_body_bytes"
    assert error["details"]["maximum"] == 100
    assert error["details"]["actual"] == len(response.request.content)
    assert api.post(M, json={"text": "small"}).status_code == 201


def test_a_streamed_body_over_the_limit_is_413(
    make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api], store: MemoryStore
) -> None:
    api = api_for(make_app(ServerSettings(max_body_bytes=100)))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"x" * 20
        yield b'"}'

    response = api.post(M, content=chunks(), headers={"content-type": "application/json"})
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == {"limit": "max_body_bytes", "maximum": 100}
    assert store.stats().memories == 0


def test_an_unexpected_error_is_a_500_body_that_leaks_nothing(
    api: Api, store: MemoryStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail: /secret/path")

    monkeypatch.setattr(store, "add", explode)
    with caplog.at_level(logging.ERROR, logger="memorylink.server.middleware"):
        response = api.post(M, json={"text": "x"})
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.text
    assert error["details"] == {}
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged and logged[0].exc_info is not None
    assert error["request_id"] in logged[0].getMessage()


def test_a_store_fault_is_500_with_its_code_and_no_details(
    api: Api, store: MemoryStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def corrupted(*args: object, **kwargs: object) -> None:
        raise StoreCorruptedError("record 17 failed its check", details={"row": 17})

    monkeypatch.setattr(store, "list", corrupted)
    with caplog.at_level(logging.ERROR, logger="memorylink.server.errors"):
        error = assert_error(api.get(M), 500, "store_corrupted")
    assert error["details"] == {}
    assert "17" not in error["message"]
    logged = [r for r in caplog.records if r.name == "memorylink.server.errors"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert error["request_id"] in logged[0].getMessage()


def test_a_closed_store_is_503(api: Api, store: MemoryStore) -> None:
    store.close()
    assert_error(api.get(M), 503, "store_closed")
    assert_error(api.post(f"{M}/search", json={"query": "x"}), 503, "store_closed")


# -- request ids -----------------------------------------------------------------------


def test_every_response_has_a_request_id(api: Api) -> None:
    responses = [api.get("/health"), api.get(M), api.get("/nope"), api.as_(None).get(M), api.post(M, json={})]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(len(i) == 32 for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_sane_incoming_request_id_is_echoed(api: Api) -> None:
    response = api.get("/nope", headers={"X-Request-ID": "trace-42.a:b_c"})
    assert response.headers["x-request-id"] == "trace-42.a:b_c"
    assert response.json()["error"]["request_id"] == "trace-42.a:b_c"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(incoming=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=200))
def test_an_incoming_request_id_is_kept_only_when_sane(api: Api, incoming: str) -> None:
    returned = api.get("/health", headers={"X-Request-ID": incoming}).headers["x-request-id"]
    sane = len(incoming) <= 128 and all(c.isalnum() or c in "._:-" for c in incoming)
    assert (returned == incoming) == sane
    assert len(returned) <= 128


def test_events_carry_the_request_id(api: Api, store: MemoryStore) -> None:
    seen = []
    store.events.subscribe(seen.append, types=["memory.created"])
    response = api.post(M, json={"text": "traced"}, headers={"X-Request-ID": "req-123"})
    assert response.status_code == 201
    assert [event.request_id for event in seen] == ["req-123"]


# -- the request log line --------------------------------------------------------------


def test_one_log_line_per_request_with_the_fields_and_no_text(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    secret = "the launch code is 0000"
    with caplog.at_level(logging.INFO, logger="memorylink.server.middleware"):
        created = api.post(M, json={"text": secret, "metadata": {"pin": "4321"}})
        api.get(f"{M}/{created.json()['id']}", params={"filter": json.dumps({"metadata.pin": "4321"})})
        api.as_("secret-api-key-value").get(M)
    lines = [r for r in caplog.records if r.name == "memorylink.server.middleware"]
    assert [(r.method, r.route, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("POST", "/api/v1/memories", 201),
        ("GET", "/api/v1/memories/{memory_id}", 200),
        ("GET", "/api/v1/memories", 401),
    ]
    for record in lines:
        assert record.request_id and record.duration_ms >= 0  # type: ignore[attr-defined]
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        for leaked in (secret, "4321", "secret-api-key-value", created.json()["id"]):
            assert leaked not in text


def test_a_guard_refusal_keeps_its_headers_and_the_request_id(
    make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api]
) -> None:
    from memorylink.server.errors import ApiError

    class SpentGuard:
        async def __call__(self, request: object, scope: str, budget: str | None) -> None:
            raise ApiError(
                429,
                "rate_limited",
                "the writes budget is spent",
                {"budget": budget, "limit": "1/minute", "retry_after": 7},
                headers={"Retry-After": "7", "RateLimit-Limit": "1", "RateLimit-Remaining": "0"},
            )

    api = api_for(make_app(guard=SpentGuard()))
    response = api.post(M, json={"text": "x"}, headers={"X-Request-ID": "limited-1"})
    error = assert_error(response, 429, "rate_limited")
    assert error["details"] == {"budget": "writes", "limit": "1/minute", "retry_after": 7}
    assert (response.headers["retry-after"], response.headers["ratelimit-remaining"]) == ("7", "0")
    assert response.headers["x-request-id"] == "limited-1"
