"""Retries: which calls are tried again, how often, and how long the client waits (no real sleeping)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from client_helpers import FakeServer, error_json, memory_json
from hypothesis import given
from hypothesis import strategies as st

from memorylink import RateLimitError, RemoteError, StoreClosedError, ValidationError
from memorylink.client import AsyncRemoteStore, RemoteStore, Retries

URL = "http://memory.test"
PAGE = {"items": [], "next_cursor": None}


def store_with(server: FakeServer, waits: list[float], attempts: int = 3) -> RemoteStore:
    retries = Retries(attempts=attempts, backoff_s=0.0, sleep=waits.append)
    return RemoteStore(URL, transport=server.transport(), retries=retries)


def test_429_is_retried_after_retry_after_even_for_an_add(server: FakeServer) -> None:
    waits: list[float] = []
    server.script = [error_json(429, "rate_limited", **{"Retry-After": "2"}), httpx.Response(201, json=memory_json())]
    with store_with(server, waits) as store:
        assert store.add("hello").text == "hello"
    assert len(server.requests) == 2 and waits == [2.0]


def test_503_is_retried_for_reads_only(server: FakeServer) -> None:
    waits: list[float] = []
    server.default = error_json(503, "store_closed", "store is closing")
    with store_with(server, waits) as store:
        with pytest.raises(StoreClosedError):
            store.list()
        assert len(server.requests) == 3 and waits == [0.0, 0.0]  # three tries in all
        server.requests.clear()
        with pytest.raises(StoreClosedError):
            store.add("not twice")
        assert len(server.requests) == 1


def test_a_spent_budget_raises_rate_limit_error(server: FakeServer) -> None:
    waits: list[float] = []
    server.default = error_json(429, "rate_limited", details={"retry_after": 1}, **{"Retry-After": "1"})
    with store_with(server, waits, attempts=2) as store, pytest.raises(RateLimitError) as caught:
        store.search("q")
    assert caught.value.retry_after == 1.0
    assert len(server.requests) == 2 and waits == [1.0]


def test_a_long_retry_after_is_not_waited_for(server: FakeServer) -> None:
    waits: list[float] = []
    server.default = error_json(429, "rate_limited", **{"Retry-After": "3600"})
    with store_with(server, waits) as store, pytest.raises(RateLimitError) as caught:
        store.list()
    assert caught.value.retry_after == 3600.0
    assert len(server.requests) == 1 and waits == []


def test_connection_refused_is_retried_for_any_call(server: FakeServer) -> None:
    waits: list[float] = []
    refused = httpx.ConnectError("refused")
    server.script = [refused, refused, httpx.Response(201, json=memory_json())]
    with store_with(server, waits) as store:
        store.add("reached the third time")
    assert len(server.requests) == 3 and len(waits) == 2


def test_a_broken_connection_is_retried_only_when_idempotent(server: FakeServer) -> None:
    waits: list[float] = []
    server.script = [httpx.ReadError("reset"), httpx.Response(200, json=PAGE)]
    with store_with(server, waits) as store:
        store.list()
        assert len(server.requests) == 2
        server.requests.clear()
        server.script = [httpx.RemoteProtocolError("server hung up")]
        with pytest.raises(RemoteError) as caught:
            store.add_many(["may have been stored"])
    assert len(server.requests) == 1
    assert caught.value.code == "connection_error" and caught.value.status is None
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)


def test_gives_up_after_the_attempts(server: FakeServer) -> None:
    waits: list[float] = []
    server.default = httpx.ConnectError("refused")
    with store_with(server, waits, attempts=4) as store, pytest.raises(RemoteError) as caught:
        store.get("0d2jq3m5k8t9v")
    assert len(server.requests) == 4 and len(waits) == 3
    assert "memory.test" in caught.value.message


def test_other_errors_are_not_retried(server: FakeServer) -> None:
    waits: list[float] = []
    server.default = error_json(422, "validation_error", details={"field": "text"})
    with store_with(server, waits) as store, pytest.raises(ValidationError):
        store.search("")
    assert len(server.requests) == 1 and waits == []


def test_retries_zero_means_one_try(server: FakeServer) -> None:
    server.default = httpx.ConnectError("refused")
    with RemoteStore(URL, transport=server.transport(), retries=0) as store, pytest.raises(RemoteError):
        store.list()
    assert len(server.requests) == 1


def test_idempotency_of_each_call() -> None:
    from memorylink.client._base import Calls, WebhookCalls

    calls, hooks = Calls(), WebhookCalls()
    not_idempotent = {
        "add": calls.add("x"),
        "add_many": calls.add_many(["x"]),
        "add_messages": calls.add_messages([]),
        "webhooks.add": hooks.add("https://example.com"),
        "webhooks.rotate_secret": hooks.rotate_secret("wh"),
        "webhooks.test": hooks.test("wh"),
    }
    idempotent = {
        "get": calls.get("m"),
        "list": calls.list(),
        "search": calls.search("q"),
        "search_by_vector": calls.search_by_vector([1.0]),
        "similar": calls.similar("m"),
        "history": calls.history("m"),
        "update": calls.update("m", text="t"),
        "delete": calls.delete("m"),
        "delete_many": calls.delete_many(["m"]),
        "stats": calls.stats(),
        "webhooks.update": hooks.update("wh", url="https://example.com"),
        "webhooks.remove": hooks.remove("wh"),
        "webhooks.redeliver": hooks.redeliver("wh", "evt"),
    }
    assert [name for name, call in not_idempotent.items() if call.idempotent] == []
    assert [name for name, call in idempotent.items() if not call.idempotent] == []


def test_async_retries_await_the_sleep(server: FakeServer) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    server.script = [error_json(429, "rate_limited", **{"Retry-After": "0.5"}), httpx.Response(200, json=PAGE)]

    async def main() -> None:
        retries = Retries(backoff_s=0.0, sleep=sleep)
        async with AsyncRemoteStore(URL, transport=server.async_transport(), retries=retries) as store:
            await store.list()

    asyncio.run(main())
    assert waits == [0.5] and len(server.requests) == 2


@given(attempt=st.integers(1, 30), base=st.floats(0, 10), cap=st.floats(0, 60))
def test_backoff_is_bounded_and_jittered_below_the_doubling(attempt: int, base: float, cap: float) -> None:
    wait = Retries(backoff_s=base, max_backoff_s=cap).backoff(attempt)
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    assert ceiling / 2 <= wait <= ceiling


def test_bad_policies_are_named() -> None:
    for bad, field in ((Retries, "retries.attempts"),):
        with pytest.raises(ValidationError) as caught:
            bad(attempts=0)
        assert caught.value.field == field
    with pytest.raises(ValidationError) as caught:
        Retries(backoff_s=-1)
    assert caught.value.field == "retries.backoff_s"
    with pytest.raises(ValidationError) as caught:
        RemoteStore(URL, retries=-1)
    assert caught.value.field == "retries"
    assert Retries.coerce(4).attempts == 5
