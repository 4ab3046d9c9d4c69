"""What RemoteStore sends for each method, and what it makes of the answers (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest
from client_helpers import FakeServer, error_json, memory_json

from memorylink import BatchResult, Filter, Memory, NewMemory, Page, SearchResult, StoreStats, ValidationError
from memorylink.client import AsyncRemoteStore, RemoteStore
from memorylink.events import Delivery, NewWebhook, SendResult, WebhookEndpoint

URL = "http://memory.test"


def remote(server: FakeServer, **kwargs: object) -> RemoteStore:
    return RemoteStore(URL, transport=server.transport(), **kwargs)  # type: ignore[arg-type]


def params(request: httpx.Request) -> list[tuple[str, str]]:
    return list(request.url.params.multi_items())


def test_add_posts_the_arguments_and_returns_the_memory(server: FakeServer) -> None:
    server.default = httpx.Response(201, json=memory_json(text="Alice prefers window seats", tags=["travel"]))
    with remote(server) as store:
        memory = store.add("Alice prefers window seats", tags=(t for t in ["travel"]), metadata={"n": 1}, agent_id="a")
    assert isinstance(memory, Memory) and memory.tags == ["travel"]
    assert (server.last.method, server.last.url.path) == ("POST", "/api/v1/memories")
    assert server.last.headers["content-type"] == "application/json"
    sent = {
        "text": "Alice prefers window seats",
        "tags": ["travel"],
        "metadata": {"n": 1},
        "agent_id": "a",
        "dedupe": False,
    }
    assert server.body() == sent


def test_credentials_and_headers(server: FakeServer) -> None:
    server.default = httpx.Response(200, json={"items": [], "next_cursor": None})
    with remote(server, api_key="mlk_secret", headers={"X-Trace": "t1"}) as store:
        store.list()
    assert server.last.headers["x-api-key"] == "mlk_secret"
    assert server.last.headers["x-trace"] == "t1"
    assert server.last.headers["user-agent"].startswith("memorylink-client/")
    assert "authorization" not in server.last.headers
    with remote(server, token="jwt.token.here") as store:
        store.list()
    assert server.last.headers["authorization"] == "Bearer jwt.token.here"
    with pytest.raises(ValidationError) as caught:
        RemoteStore(URL, api_key="k", token="t")
    assert caught.value.field == "token"


def test_bad_base_url_is_named() -> None:
    for bad in ("memory.test", "ftp://memory.test", ""):
        with pytest.raises(ValidationError) as caught:
            RemoteStore(bad)
        assert caught.value.field == "base_url"


def test_list_sends_query_parameters_and_reads_a_page(server: FakeServer) -> None:
    server.default = httpx.Response(200, json={"items": [memory_json()], "next_cursor": "abc"})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with remote(server) as store:
        page = store.list(
            user_id="alice",
            filter=Filter({"metadata.source": "zoom"}),
            tags=["a", "b"],
            date_range=(start, None),
            metadata={"k": "v"},
            order="created_asc",
            limit=7,
            cursor="c1",
        )
    assert isinstance(page, Page) and page.next_cursor == "abc" and isinstance(page.items[0], Memory)
    sent = params(server.last)
    assert (server.last.method, server.last.url.path) == ("GET", "/api/v1/memories")
    assert ("tags", "a") in sent and ("tags", "b") in sent
    as_dict = dict(sent)
    assert json.loads(as_dict["filter"]) == {"metadata.source": {"eq": "zoom"}}
    assert json.loads(as_dict["metadata"]) == {"k": "v"}
    assert as_dict["date_from"] == start.isoformat() and "date_to" not in as_dict
    assert [as_dict[k] for k in ("user_id", "order", "limit", "cursor")] == ["alice", "created_asc", "7", "c1"]
    assert "agent_id" not in as_dict  # None is "not given": the server decides


def test_search_body_carries_every_option(server: FakeServer) -> None:
    server.default = httpx.Response(200, json={"hits": [], "total": 0, "query": "q", "query_time_ms": 1.0})
    with remote(server) as store:
        result = store.search(
            "q",
            top_k=3,
            threshold=0.25,
            filter={"tags": {"any": ["x"]}},
            date_range=("2026-01-01", datetime(2026, 2, 1, tzinfo=UTC)),
            sort_by="date",
            include_similar=True,
            run_id="r1",
        )
    assert isinstance(result, SearchResult)
    assert (server.last.method, server.last.url.path) == ("POST", "/api/v1/memories/search")
    body = server.body()
    assert body["query"] == "q" and body["top_k"] == 3 and body["threshold"] == 0.25
    assert body["date_range"] == ["2026-01-01", "2026-02-01T00:00:00+00:00"]
    assert body["filter"] == {"tags": {"any": ["x"]}} and body["sort_by"] == "date"
    assert body["include_similar"] is True and body["run_id"] == "r1"
    assert "user_id" not in body and "tags" not in body


def test_search_by_vector_sends_plain_floats(server: FakeServer) -> None:
    server.default = httpx.Response(200, json={"hits": [], "total": 0, "query": "", "query_time_ms": 1.0})
    with remote(server) as store:
        store.search_by_vector(np.array([0.5, -0.25], dtype=np.float32), top_k=2)
        assert server.body()["vector"] == [0.5, -0.25]
        assert server.last.url.path == "/api/v1/memories/search/vector"
        with pytest.raises(ValidationError) as caught:
            store.search_by_vector([0.1, float("nan")])
        assert caught.value.field == "vector[1]"
    assert len(server.requests) == 1  # the bad vector never left the client


def test_get_quotes_the_id_and_a_404_is_none(server: FakeServer) -> None:
    server.script = [httpx.Response(200, json=memory_json()), error_json(404, "not_found", details={"id": "a/b"})]
    with remote(server) as store:
        assert isinstance(store.get("0d2jq3m5k8t9v", user_id="u"), Memory)
        assert params(server.last) == [("user_id", "u")]
        assert store.get("a/b") is None
    assert server.requests[1].url.raw_path == b"/api/v1/memories/a%2Fb"


def test_a_404_for_a_route_is_not_a_missing_memory(server: FakeServer) -> None:
    from memorylink import NotFoundError, RemoteError

    server.default = error_json(404, "not_found", "no such route", {"path": "/api/v1/memories/x"})
    with remote(server) as store:
        with pytest.raises(RemoteError) as caught:
            store.get("0d2jq3m5k8t9v")  # a missing route must not read as "no such memory"
        assert (caught.value.code, caught.value.status) == ("not_found", 404)
        assert not isinstance(caught.value, NotFoundError)
        with pytest.raises(RemoteError):
            store.delete("0d2jq3m5k8t9v")


def test_a_404_without_a_memorylink_body_is_not_a_missing_memory(server: FakeServer) -> None:
    from memorylink import RemoteError

    server.default = httpx.Response(404, text="<html>no such route</html>")
    with remote(server) as store, pytest.raises(RemoteError) as caught:
        store.get("0d2jq3m5k8t9v")
    assert caught.value.status == 404 and caught.value.code == "http_error"


def test_update_patches_only_what_is_given(server: FakeServer) -> None:
    server.default = httpx.Response(200, json=memory_json(version=2))
    with remote(server) as store:
        assert store.update("0d2jq3m5k8t9v", tags=[], user_id="u").version == 2
    assert (server.last.method, server.last.url.path) == ("PATCH", "/api/v1/memories/0d2jq3m5k8t9v")
    assert server.body() == {"tags": []}  # an empty list clears the tags; text and metadata are kept
    assert params(server.last) == [("user_id", "u")]


def test_delete_true_then_false(server: FakeServer) -> None:
    server.script = [httpx.Response(204), error_json(404, "not_found", details={"id": "0d2jq3m5k8t9v"})]
    with remote(server) as store:
        assert store.delete("0d2jq3m5k8t9v") is True
        assert store.delete("0d2jq3m5k8t9v") is False
    assert [r.method for r in server.requests] == ["DELETE", "DELETE"]


def test_delete_many_by_ids_or_filter(server: FakeServer) -> None:
    server.default = httpx.Response(200, json={"deleted": 2})
    with remote(server) as store:
        assert store.delete_many(["a", "b"]) == 2
        assert server.body() == {"ids": ["a", "b"]}
        assert store.delete_many(filter={}, user_id="u") == 2
        assert server.body() == {"filter": {}, "user_id": "u"}  # {} is "everything in scope", not "not given"
        assert store.delete_many() == 2
        assert server.body() == {}
    assert {r.url.path for r in server.requests} == {"/api/v1/memories/delete"}


def test_add_many_sends_each_kind_of_item_and_reports_progress(server: FakeServer) -> None:
    server.default = httpx.Response(
        200,
        json={
            "succeeded": 2,
            "failed": 1,
            "items": [
                {"index": 0, "id": "0d2jq3m5k8t9v"},
                {"index": 1, "error": {"code": "validation_error", "message": "empty", "details": {"field": "text"}}},
                {"index": 2, "id": "0d2jq3m5k8t9w"},
            ],
        },
    )
    progress: list[tuple[int, int]] = []
    with remote(server) as store:
        result = store.add_many(
            ["plain", {"text": ""}, NewMemory(text="model", tags=["t"])],
            on_progress=lambda done, total: progress.append((done, total)),
        )
    assert isinstance(result, BatchResult) and result.failed == 1 and result.errors[0].index == 1
    assert server.last.url.path == "/api/v1/memories/batch"
    items = server.body()["items"]
    assert items[0] == "plain" and items[1] == {"text": ""}
    assert items[2]["text"] == "model" and items[2]["tags"] == ["t"]
    assert progress == [(3, 3)]
    assert server.body()["dedupe"] is False


def test_add_messages_body(server: FakeServer) -> None:
    server.default = httpx.Response(200, json={"succeeded": 1, "failed": 0, "items": [{"index": 0, "id": "x"}]})
    with remote(server) as store:
        store.add_messages([{"role": "user", "content": "hi"}], user_id="alice", tags=["chat"])
    assert server.last.url.path == "/api/v1/memories/messages"
    assert server.body() == {"messages": [{"role": "user", "content": "hi"}], "tags": ["chat"], "user_id": "alice"}


def test_history_similar_and_stats(server: FakeServer) -> None:
    version = {"memory_id": "m", "version": 1, "text": "t", "changed_at": "2026-01-01T00:00:00Z"}
    stats = {
        "path": None,
        "memories": 1,
        "users": 1,
        "history_versions": 0,
        "embedder": "hashing",
        "dimension": 384,
        "index_entries": 1,
        "journal_entries": 0,
        "disk_bytes": 0,
        "key_id": "k",
        "schema_version": 4,
    }
    server.script = [
        httpx.Response(200, json=[version]),
        httpx.Response(200, json={"hits": [], "total": 0, "query": "", "query_time_ms": 0.1}),
        httpx.Response(200, json=stats),
    ]
    with remote(server) as store:
        assert store.history("m")[0].version == 1
        store.similar("m", top_k=2, threshold=0.5, filter={"tags": {"any": ["x"]}})
        assert isinstance(store.stats(), StoreStats)
    assert [r.url.path for r in server.requests] == [
        "/api/v1/memories/m/history",
        "/api/v1/memories/m/similar",
        "/api/v1/stats",
    ]
    sent = dict(params(server.requests[1]))
    assert (sent["top_k"], sent["threshold"], json.loads(sent["filter"])) == ("2", "0.5", {"tags": {"any": ["x"]}})


def test_a_value_json_cannot_carry_is_refused_before_sending(server: FakeServer) -> None:
    with remote(server) as store:
        with pytest.raises(ValidationError) as caught:
            store.add("x", metadata={"f": object()})
        assert caught.value.field == "metadata.f"
        with pytest.raises(ValidationError) as caught:
            store.add("x", metadata={"ratio": float("inf")})
        assert caught.value.field == "metadata.ratio"
        with pytest.raises(ValidationError):
            store.list(date_range=("2026-01-01",))  # type: ignore[arg-type]
    assert server.requests == []


WEBHOOK = {
    "id": "wh_1",
    "url": "https://example.com/hook",
    "events": ["memory.*"],
    "user_id": None,
    "agent_id": None,
    "run_id": None,
    "description": None,
    "enabled": True,
    "include_text": False,
    "timeout_s": 10.0,
    "retry": {},
    "has_bearer_token": False,
    "secret_hint": "whsec_ab",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}


def test_webhook_calls(server: FakeServer) -> None:
    delivery = {
        "webhook_id": "wh_1",
        "event_id": "evt_1",
        "event_type": "memory.created",
        "state": "delivered",
        "attempts": 1,
        "next_attempt_at": None,
        "updated_at": "2026-01-01T00:00:00Z",
        "last_status": 204,
        "last_error": None,
    }
    server.script = [
        httpx.Response(201, json={**WEBHOOK, "secret": "whsec_abcdef"}),
        httpx.Response(200, json=[WEBHOOK]),
        httpx.Response(200, json=WEBHOOK),
        httpx.Response(200, json={**WEBHOOK, "enabled": False}),
        httpx.Response(200, json=WEBHOOK),
        httpx.Response(200, json=[delivery]),
        httpx.Response(200, json={**delivery, "state": "pending"}),
        httpx.Response(
            200, json={"outcome": "delivered", "status": 200, "error": None, "retry_after_s": None, "duration_ms": 3.0}
        ),
        httpx.Response(200, json={**WEBHOOK, "secret": "whsec_new"}),
        httpx.Response(204),
    ]
    with remote(server) as store:
        created = store.webhooks.add("https://example.com/hook", events=iter(["memory.*"]), timeout_s=5.0)
        assert isinstance(created, NewWebhook) and created.secret == "whsec_abcdef"
        assert server.body() == {
            "url": "https://example.com/hook",
            "events": ["memory.*"],
            "timeout_s": 5.0,
            "include_text": False,
            "enabled": True,
        }
        assert [w.id for w in store.webhooks.list()] == ["wh_1"]
        assert isinstance(store.webhooks.update("wh_1", description=None, events="memory.created"), WebhookEndpoint)
        assert server.body() == {"description": None, "events": "memory.created"}  # None clears: it is sent
        assert store.webhooks.disable("wh_1").enabled is False
        assert server.body() == {"enabled": False}
        store.webhooks.enable("wh_1")
        assert server.body() == {"enabled": True}
        deliveries = store.webhooks.deliveries("wh_1", state="dead", limit=5)
        assert isinstance(deliveries[0], Delivery) and dict(params(server.last)) == {"state": "dead", "limit": "5"}
        assert store.webhooks.redeliver("wh_1", "evt_1").state == "pending"
        assert server.last.url.path == "/api/v1/webhooks/wh_1/deliveries/evt_1/redeliver"
        sent = store.webhooks.test("wh_1")
        assert isinstance(sent, SendResult) and sent.status == 200
        assert store.webhooks.rotate_secret("wh_1", keep_old_for_s=60).secret == "whsec_new"
        assert server.body() == {"keep_old_for_s": 60}
        assert store.webhooks.remove("wh_1") is True
    assert [(r.method, r.url.path) for r in server.requests][-3:] == [
        ("POST", "/api/v1/webhooks/wh_1/test"),
        ("POST", "/api/v1/webhooks/wh_1/rotate-secret"),
        ("DELETE", "/api/v1/webhooks/wh_1"),
    ]


def test_async_store_sends_the_same_requests(server: FakeServer) -> None:
    server.script = [
        httpx.Response(201, json=memory_json()),
        httpx.Response(200, json={"hits": [], "total": 0, "query": "q", "query_time_ms": 1.0}),
        error_json(404, "not_found", details={"id": "x"}),
        httpx.Response(200, json=[WEBHOOK]),
    ]

    async def main() -> None:
        async with AsyncRemoteStore(URL, api_key="k", transport=server.async_transport()) as store:
            assert isinstance(await store.add("hello", tags=["t"]), Memory)
            await store.search("q", top_k=1)
            assert await store.get("x") is None
            assert [w.id for w in await store.webhooks.list()] == ["wh_1"]

    asyncio.run(main())
    assert [(r.method, r.url.path) for r in server.requests] == [
        ("POST", "/api/v1/memories"),
        ("POST", "/api/v1/memories/search"),
        ("GET", "/api/v1/memories/x"),
        ("GET", "/api/v1/webhooks"),
    ]
    assert server.body(0) == {"text": "hello", "tags": ["t"], "dedupe": False}
    assert server.body(1)["top_k"] == 1
    assert all(r.headers["x-api-key"] == "k" for r in server.requests)


def test_an_encrypted_export_is_refused_before_any_request(server: FakeServer) -> None:
    import io

    with remote(server) as store, pytest.raises(ValidationError) as caught:
        store.export(io.StringIO())
    assert caught.value.field == "plaintext" and "memorylink export" in caught.value.message
    assert server.requests == []


def test_a_base_url_with_a_path_prefix(server: FakeServer) -> None:
    server.default = httpx.Response(200, json={"items": [], "next_cursor": None})
    with RemoteStore("http://proxy.test/memorylink/", transport=server.transport()) as store:
        store.list()
        assert repr(store) == "RemoteStore('http://proxy.test/memorylink', open)"
    assert str(server.last.url) == "http://proxy.test/memorylink/api/v1/memories?order=created_desc&limit=50"
