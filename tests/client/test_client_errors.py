"""Error bodies come back as the library's exceptions, by code, with the server's request id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from client_helpers import FakeServer, error_json

from memorylink import (
    AuthenticationError,
    EmbedderMismatchError,
    LimitExceededError,
    MemoryLinkError,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RemoteError,
    StoreClosedError,
    ValidationError,
)
from memorylink.client import RemoteStore
from memorylink.client._errors import error_from_response, retry_after


def raised(response: httpx.Response) -> MemoryLinkError:
    server = FakeServer(default=response)
    with (
        RemoteStore("http://memory.test", transport=server.transport(), retries=0) as store,
        pytest.raises(MemoryLinkError) as caught,
    ):
        store.history("0d2jq3m5k8t9v")
    return caught.value


def test_validation_error_keeps_its_field_and_details() -> None:
    error = raised(error_json(422, "validation_error", "text must not be empty", {"field": "text"}))
    assert type(error) is ValidationError
    assert (error.field, error.message, error.details) == ("text", "text must not be empty", {"field": "text"})
    assert error.request_id == "req-123"


def test_request_validation_errors_are_validation_errors() -> None:
    details = {"errors": [{"loc": ["body", "top_k"], "msg": "Input should be a valid integer", "type": "int_parsing"}]}
    error = raised(error_json(422, "validation_error", "request body is not valid", details))
    assert isinstance(error, ValidationError) and error.field == "top_k"  # as the store names it
    assert error.details["errors"][0]["loc"] == ["body", "top_k"]
    nested = {"errors": [{"loc": ["body", "retry", "jitter"]}, {"loc": ["body", "x"]}]}
    assert raised(error_json(422, "validation_error", "bad", nested)).field == "retry.jitter"
    indexed = {"errors": [{"loc": ["body", "ids", 0]}]}
    assert raised(error_json(422, "validation_error", "bad", indexed)).field == "ids[0]"
    for odd in ({"errors": [{"loc": ["body"]}]}, {"errors": "no"}, {"errors": [{"loc": ["header", "x"]}]}, {}):
        assert raised(error_json(422, "validation_error", "bad", odd)).field is None


def test_limit_exceeded_names_the_limit() -> None:
    details = {"limit": "max_text_length", "maximum": 10, "actual": 11, "field": "text"}
    error = raised(error_json(422, "limit_exceeded", "text is 11 characters; the limit max_text_length is 10", details))
    assert type(error) is LimitExceededError
    assert (error.limit, error.maximum, error.actual, error.field) == ("max_text_length", 10, 11, "text")
    assert error.details == details


def test_payload_too_large_is_a_limit() -> None:
    details = {"limit": "max_body_bytes", "maximum": 1024, "actual": 5000}
    error = raised(error_json(413, "payload_too_large", "request body is too large", details))
    assert isinstance(error, LimitExceededError) and error.limit == "max_body_bytes" and error.maximum == 1024


def test_a_limit_body_without_its_numbers_is_still_a_validation_error() -> None:
    error = raised(error_json(422, "limit_exceeded", "too big", {"field": "text"}))
    assert type(error) is ValidationError and error.field == "text"


def test_not_found_keeps_id_and_kind() -> None:
    error = raised(error_json(404, "not_found", "webhook 'wh_1' not found", {"id": "wh_1", "kind": "webhook"}))
    assert isinstance(error, NotFoundError)
    assert (error.memory_id, error.kind, error.message) == ("wh_1", "webhook", "webhook 'wh_1' not found")


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "unauthenticated", AuthenticationError),
        (403, "forbidden", PermissionDeniedError),
        (401, "token_expired", AuthenticationError),  # an auth code this client does not know: by status
        (403, "scope_required", PermissionDeniedError),
        (503, "store_closed", StoreClosedError),
        (500, "embedder_mismatch", EmbedderMismatchError),
    ],
)
def test_codes_and_statuses_pick_the_class(status: int, code: str, cls: type[MemoryLinkError]) -> None:
    error = raised(error_json(status, code, "refused"))
    assert type(error) is cls
    assert error.message == "refused" and error.request_id == "req-123"


def test_permission_denied_is_an_authentication_error() -> None:
    assert issubclass(PermissionDeniedError, AuthenticationError)


def test_rate_limited_carries_retry_after() -> None:
    details = {"budget": "writes", "limit": "60/minute", "retry_after": 7}
    error = raised(error_json(429, "rate_limited", "slow down", details, **{"Retry-After": "3"}))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0  # the header wins over the body
    error = raised(error_json(429, "rate_limited", "slow down", details))
    assert isinstance(error, RateLimitError) and error.retry_after == 7.0
    assert error.details["budget"] == "writes"


def test_missing_dependency_is_rebuilt() -> None:
    error = raised(error_json(500, "missing_dependency", "x", {"package": "hnswlib", "extra": "index"}))
    assert isinstance(error, MissingDependencyError) and error.extra == "index"


def test_unknown_code_keeps_code_and_status() -> None:
    error = raised(error_json(500, "internal_error", "something broke", {"hint": "see logs"}))
    assert type(error) is RemoteError
    assert (error.code, error.status, error.details, error.request_id) == (
        "internal_error",
        500,
        {"hint": "see logs"},
        "req-123",
    )


def test_a_body_that_is_not_ours() -> None:
    response = httpx.Response(502, text="<html>Bad Gateway</html>", headers={"X-Request-ID": "proxy-1"})
    error = raised(response)
    assert type(error) is RemoteError and error.status == 502 and error.code == "http_error"
    assert "502" in error.message and error.request_id == "proxy-1"


@pytest.mark.parametrize(
    "body",
    [{"error": "flat string"}, {"error": {"message": "no code"}}, [1, 2], {"detail": "FastAPI default"}],
)
def test_malformed_error_bodies_never_crash(body: Any) -> None:
    error = error_from_response(httpx.Response(400, json=body))
    assert isinstance(error, RemoteError) and error.status == 400


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "2.5"})) == 2.5
    assert retry_after(httpx.Response(429, headers={"Retry-After": "-4"})) == 0.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None
