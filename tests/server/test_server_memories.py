"""/api/v1/memories: every route's happy path, its errors, and the scoping rule."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from server_helpers import ALICE, ALICE_READER, BOB, Api, KeyGuard, assert_error

from memorylink import MemoryStore, Settings
from memorylink.config import Limits
from memorylink.models import BatchResult, Memory, MemoryVersion, Page, SearchResult
from memorylink.server.schemas import (
    AddMessagesRequest,
    BatchAddRequest,
    CreateMemoryRequest,
    DeleteManyRequest,
    SearchRequest,
    UpdateMemoryRequest,
    VectorSearchRequest,
)

M = "/api/v1/memories"


def add(api: Api, text: str, **fields: object) -> Memory:
    response = api.post(M, json={"text": text, **fields})
    assert response.status_code == 201, response.text
    return Memory.model_validate(response.json())


# -- create / get / update / delete / history --------------------------------------------


def test_create_then_get_returns_the_stored_memory(api: Api, store: MemoryStore) -> None:
    response = api.post(M, json={"text": "Alice likes tea", "tags": ["drinks"], "metadata": {"k": 1}, "user_id": "a"})
    assert response.status_code == 201
    created = Memory.model_validate(response.json())
    assert (created.text, created.tags, created.metadata) == ("Alice likes tea", ["drinks"], {"k": 1})
    assert created.user_id == "a"
    assert store.get(created.id) == created
    fetched = api.get(f"{M}/{created.id}")
    assert fetched.status_code == 200
    assert Memory.model_validate(fetched.json()) == created


def test_a_write_naming_no_user_stores_for_the_caller(api: Api) -> None:
    assert add(api, "no user named").user_id == "admin"
    batch = BatchResult.model_validate(api.post(f"{M}/batch", json={"items": ["a", {"text": "b"}]}).json())
    messages = api.post(f"{M}/messages", json={"messages": [{"role": "user", "content": "hi"}]}).json()
    ids = batch.ids + BatchResult.model_validate(messages).ids
    owners = {Memory.model_validate(api.get(f"{M}/{i}").json()).user_id for i in ids}
    assert owners == {"admin"}
    assert add(api, "for alice", user_id="alice").user_id == "alice"


def test_create_refuses_unknown_fields_and_bad_values(api: Api, store: MemoryStore) -> None:
    error = assert_error(api.post(M, json={"text": "x", "colour": "red"}), 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["body", "colour"]
    assert_error(api.post(M, json={"tags": ["no text"]}), 422, "validation_error")
    blank = assert_error(api.post(M, json={"text": "   "}), 422, "validation_error")
    assert blank["details"]["field"] == "text"
    too_long = "x" * (store.settings.limits.max_text_length + 1)
    limit = assert_error(api.post(M, json={"text": too_long}), 422, "limit_exceeded")
    assert limit["details"]["limit"] == "max_text_length"
    assert limit["details"]["maximum"] == store.settings.limits.max_text_length
    assert limit["details"]["actual"] == len(too_long)
    assert store.stats().memories == 0


def test_update_replaces_fields_and_keeps_history(api: Api) -> None:
    memory = add(api, "first text", tags=["a"])
    response = api.patch(f"{M}/{memory.id}", json={"text": "second text", "tags": ["b"]})
    assert response.status_code == 200
    updated = Memory.model_validate(response.json())
    assert (updated.text, updated.tags, updated.version) == ("second text", ["b"], 2)
    history = api.get(f"{M}/{memory.id}/history")
    assert history.status_code == 200
    versions = [MemoryVersion.model_validate(v) for v in history.json()]
    assert [(v.version, v.text) for v in versions] == [(1, "first text"), (2, "second text")]


def test_update_errors(api: Api) -> None:
    memory = add(api, "text")
    assert_error(api.patch(f"{M}/{memory.id}", json={"text": ""}), 422, "validation_error")
    assert_error(api.patch(f"{M}/{memory.id}", json={"bogus": 1}), 422, "validation_error")
    assert_error(api.patch(f"{M}/0000000000000", json={"text": "x"}), 404, "not_found")


def test_delete_answers_204_then_404(api: Api, store: MemoryStore) -> None:
    memory = add(api, "to delete")
    response = api.delete(f"{M}/{memory.id}")
    assert response.status_code == 204
    assert response.content == b""
    assert store.get(memory.id) is None
    assert_error(api.delete(f"{M}/{memory.id}"), 404, "not_found")
    assert_error(api.get(f"{M}/{memory.id}"), 404, "not_found")
    assert_error(api.get(f"{M}/{memory.id}/history"), 404, "not_found")


def test_a_malformed_id_is_a_validation_error_naming_the_id(api: Api) -> None:
    error = assert_error(api.get(f"{M}/not-an-id"), 422, "validation_error")
    assert error["details"]["field"] == "id"


# -- list ------------------------------------------------------------------------------


def test_list_pages_with_cursor_and_filters(api: Api) -> None:
    for number in range(5):
        add(api, f"memory {number}", tags=["even" if number % 2 == 0 else "odd"], metadata={"n": number})
    first = api.get(M, params={"limit": 2, "order": "created_asc"})
    assert first.status_code == 200
    page = Page[Memory].model_validate(first.json())
    assert [m.text for m in page.items] == ["memory 0", "memory 1"]
    assert page.next_cursor is not None
    second = Page[Memory].model_validate(
        api.get(M, params={"limit": 2, "order": "created_asc", "cursor": page.next_cursor}).json()
    )
    assert [m.text for m in second.items] == ["memory 2", "memory 3"]
    evens = Page[Memory].model_validate(api.get(M, params={"tags": ["even"]}).json())
    assert sorted(m.text for m in evens.items) == ["memory 0", "memory 2", "memory 4"]
    where = json.dumps({"metadata.n": {"gte": 3}})
    filtered = Page[Memory].model_validate(api.get(M, params={"filter": where}).json())
    assert sorted(m.text for m in filtered.items) == ["memory 3", "memory 4"]
    exact = Page[Memory].model_validate(api.get(M, params={"metadata": json.dumps({"n": 1})}).json())
    assert [m.text for m in exact.items] == ["memory 1"]
    future = Page[Memory].model_validate(api.get(M, params={"date_from": "2999-01-01T00:00:00Z"}).json())
    assert future.items == []


def test_list_errors_name_the_parameter(api: Api) -> None:
    bad_json = assert_error(api.get(M, params={"filter": "{not json"}), 422, "validation_error")
    assert bad_json["details"]["field"] == "filter"
    not_object = assert_error(api.get(M, params={"metadata": "[1]"}), 422, "validation_error")
    assert not_object["details"]["field"] == "metadata"
    unknown_field = assert_error(api.get(M, params={"filter": '{"colour": "red"}'}), 422, "validation_error")
    assert "colour" in unknown_field["message"]
    assert_error(api.get(M, params={"order": "sideways"}), 422, "validation_error")
    assert_error(api.get(M, params={"limit": "many"}), 422, "validation_error")
    assert_error(api.get(M, params={"limit": 0}), 422, "validation_error")


# -- search ----------------------------------------------------------------------------


def test_search_finds_and_filters(api: Api) -> None:
    add(api, "the cat sat on the mat", tags=["pets"])
    add(api, "quarterly revenue report", tags=["work"])
    response = api.post(f"{M}/search", json={"query": "cat on a mat", "top_k": 1})
    assert response.status_code == 200
    result = SearchResult.model_validate(response.json())
    assert [hit.memory.text for hit in result.hits] == ["the cat sat on the mat"]
    scoped = SearchResult.model_validate(
        api.post(f"{M}/search", json={"query": "cat on a mat", "filter": {"tags": {"any": ["work"]}}}).json()
    )
    assert [hit.memory.text for hit in scoped.hits] == ["quarterly revenue report"]
    by_tag = SearchResult.model_validate(api.post(f"{M}/search", json={"query": "x", "tags": ["pets"]}).json())
    assert [hit.memory.text for hit in by_tag.hits] == ["the cat sat on the mat"]
    none_yet = SearchResult.model_validate(
        api.post(f"{M}/search", json={"query": "cat", "date_range": ["2999-01-01", None]}).json()
    )
    assert none_yet.hits == []


def test_search_errors(api: Api, store: MemoryStore) -> None:
    assert_error(api.post(f"{M}/search", json={}), 422, "validation_error")
    assert_error(api.post(f"{M}/search", json={"query": "x", "sort_by": "colour"}), 422, "validation_error")
    limit = store.settings.limits.max_top_k
    error = assert_error(api.post(f"{M}/search", json={"query": "x", "top_k": limit + 1}), 422, "limit_exceeded")
    assert error["details"] == {"limit": "max_top_k", "maximum": limit, "actual": limit + 1, "field": "top_k"}
    bad_filter = assert_error(
        api.post(f"{M}/search", json={"query": "x", "filter": {"tags": {"sometimes": ["a"]}}}), 422, "validation_error"
    )
    assert "sometimes" in bad_filter["message"]


def test_search_by_vector_uses_the_embedding(api: Api, store: MemoryStore) -> None:
    memory = add(api, "vectors are lists of numbers")
    vector = store.embedder.embed([memory.text])[0].tolist()
    response = api.post(f"{M}/search/vector", json={"vector": vector, "top_k": 1})
    assert response.status_code == 200
    assert SearchResult.model_validate(response.json()).hits[0].memory.id == memory.id
    wrong = assert_error(api.post(f"{M}/search/vector", json={"vector": [0.1, 0.2]}), 422, "validation_error")
    assert wrong["details"]["field"] == "vector"


def test_similar_excludes_the_memory_itself(api: Api) -> None:
    first = add(api, "apples and pears")
    second = add(api, "apples and oranges")
    response = api.get(f"{M}/{first.id}/similar", params={"top_k": 3})
    assert response.status_code == 200
    ids = [hit.memory.id for hit in SearchResult.model_validate(response.json()).hits]
    assert ids == [second.id]
    assert_error(api.get(f"{M}/0000000000000/similar"), 404, "not_found")
    assert_error(api.get(f"{M}/{first.id}/similar", params={"filter": "[]"}), 422, "validation_error")


# -- batches ---------------------------------------------------------------------------


def test_batch_add_fails_bad_items_alone(api: Api, store: MemoryStore) -> None:
    response = api.post(f"{M}/batch", json={"items": [{"text": "one"}, "two", {"text": ""}, 42]})
    assert response.status_code == 200
    result = BatchResult.model_validate(response.json())
    assert (result.succeeded, result.failed) == (2, 2)
    assert [item.index for item in result.errors] == [2, 3]
    assert [m.text for m in map(store.get, result.ids) if m] == ["one", "two"]


def test_batch_over_the_limit_is_refused_whole(
    make_app: Callable[..., FastAPI], api_for: Callable[[FastAPI], Api], open_store: Callable[..., MemoryStore]
) -> None:
    small = open_store("small", settings=Settings(limits=Limits(max_batch_size=2)))
    api = api_for(make_app(store=small))
    error = assert_error(api.post(f"{M}/batch", json={"items": ["a", "b", "c"]}), 422, "limit_exceeded")
    assert error["details"]["limit"] == "max_batch_size"
    assert small.stats().memories == 0


def test_delete_many_by_ids_and_by_filter(api: Api, store: MemoryStore) -> None:
    keep = add(api, "keep me", tags=["keep"])
    drafts = [add(api, f"draft {n}", tags=["draft"]) for n in range(3)]
    by_ids = api.post(f"{M}/delete", json={"ids": [drafts[0].id]})
    assert by_ids.status_code == 200
    assert by_ids.json() == {"deleted": 1}
    by_filter = api.post(f"{M}/delete", json={"filter": {"tags": {"any": ["draft"]}}})
    assert by_filter.json() == {"deleted": 2}
    assert [m.id for m in store.list().items] == [keep.id]
    assert api.post(f"{M}/delete", json={}).json() == {"deleted": 0}
    assert_error(api.post(f"{M}/delete", json={"ids": [keep.id], "filter": {}}), 422, "validation_error")


def test_add_messages_stores_a_conversation(api: Api, store: MemoryStore) -> None:
    messages = [{"role": "user", "content": "I am vegetarian"}, {"role": "assistant", "content": "Noted"}, {"x": 1}]
    response = api.post(f"{M}/messages", json={"messages": messages, "user_id": "alice", "tags": ["diet"]})
    assert response.status_code == 200
    result = BatchResult.model_validate(response.json())
    assert (result.succeeded, result.failed) == (2, 1)
    stored = [store.get(i) for i in result.ids]
    assert [(m.metadata["role"], m.metadata["turn"], m.tags) for m in stored if m] == [
        ("user", 0, ["diet"]),
        ("assistant", 1, ["diet"]),
    ]


# -- scoping: non-admins see and touch only their own user ------------------------------


@pytest.fixture
def two_users(api: Api) -> tuple[Memory, Memory]:
    alice = add(api.as_(ALICE), "alice's secret plan")
    bob = add(api.as_(BOB), "bob's secret plan")
    return alice, bob


def test_non_admin_writes_carry_their_user(api: Api, two_users: tuple[Memory, Memory]) -> None:
    alice, bob = two_users
    assert (alice.user_id, bob.user_id) == ("alice", "bob")
    error = assert_error(api.as_(ALICE).post(M, json={"text": "x", "user_id": "bob"}), 403, "forbidden")
    assert error["details"] == {"field": "user_id"}
    batch = api.as_(ALICE).post(f"{M}/batch", json={"items": ["plain", {"text": "mine", "user_id": "alice"}]})
    assert BatchResult.model_validate(batch.json()).succeeded == 2
    owners = [m.user_id for m in Page[Memory].model_validate(api.get(M).json()).items]
    assert sorted(owners) == ["alice", "alice", "alice", "bob"]
    naming_bob = api.as_(ALICE).post(f"{M}/batch", json={"items": [{"text": "x", "user_id": "bob"}]})
    assert [i.error.code if i.error else None for i in BatchResult.model_validate(naming_bob.json()).items] == [
        "forbidden"
    ]
    assert_error(api.as_(ALICE).post(f"{M}/messages", json={"messages": [], "user_id": "bob"}), 403, "forbidden")


def test_other_users_memories_are_not_found(api: Api, two_users: tuple[Memory, Memory], store: MemoryStore) -> None:
    _, bob = two_users
    alice_api = api.as_(ALICE)
    for response in (
        alice_api.get(f"{M}/{bob.id}"),
        alice_api.patch(f"{M}/{bob.id}", json={"text": "hijacked"}),
        alice_api.delete(f"{M}/{bob.id}"),
        alice_api.get(f"{M}/{bob.id}/history"),
        alice_api.get(f"{M}/{bob.id}/similar"),
    ):
        error = assert_error(response, 404, "not_found")
        assert "secret" not in json.dumps(error)
    assert store.get(bob.id) == bob
    assert alice_api.post(f"{M}/delete", json={"ids": [bob.id]}).json() == {"deleted": 0}
    assert store.get(bob.id) == bob


def test_non_admin_reads_see_only_their_own(api: Api, two_users: tuple[Memory, Memory]) -> None:
    alice, _ = two_users
    alice_api = api.as_(ALICE)
    listed = Page[Memory].model_validate(alice_api.get(M).json())
    assert [m.id for m in listed.items] == [alice.id]
    found = SearchResult.model_validate(alice_api.post(f"{M}/search", json={"query": "secret plan"}).json())
    assert [hit.memory.id for hit in found.hits] == [alice.id]
    assert found.total == 1
    assert_error(alice_api.get(M, params={"user_id": "bob"}), 403, "forbidden")
    assert_error(alice_api.post(f"{M}/search", json={"query": "plan", "user_id": "bob"}), 403, "forbidden")
    assert alice_api.get(M, params={"user_id": "alice"}).status_code == 200


def test_admin_sees_every_user_or_the_one_named(api: Api, two_users: tuple[Memory, Memory]) -> None:
    alice, bob = two_users
    everyone = Page[Memory].model_validate(api.get(M).json())
    assert {m.id for m in everyone.items} == {alice.id, bob.id}
    only_bob = Page[Memory].model_validate(api.get(M, params={"user_id": "bob"}).json())
    assert [m.id for m in only_bob.items] == [bob.id]
    assert api.get(f"{M}/{bob.id}", params={"user_id": "alice"}).status_code == 404


def test_scopes_and_budgets_the_routes_ask_for(api: Api, guard: KeyGuard) -> None:
    reader = api.as_(ALICE_READER)
    assert_error(reader.post(M, json={"text": "x"}), 403, "forbidden")
    assert reader.get(M).status_code == 200
    assert_error(api.as_(None).get(M), 401, "unauthenticated")
    assert api.as_(None).get(M).headers["www-authenticate"] == "Bearer"
    guard.calls.clear()
    memory = add(api, "budgets")
    api.get(f"{M}/{memory.id}")
    api.post(f"{M}/search", json={"query": "budgets"})
    api.post(f"{M}/batch", json={"items": ["x"]})
    api.get("/api/v1/stats")
    assert guard.calls == [
        ("write", "writes"),
        ("read", "reads"),
        ("read", "searches"),
        ("write", "batches"),
        ("admin", "reads"),
    ]


# -- the routes accept every argument of the store method they call ----------------------

# Arguments that are not part of a request body: the path id, Python callbacks, the query text.
_NOT_IN_BODY = {"self", "memory_id", "on_progress"}


@pytest.mark.parametrize(
    ("method", "body", "carried_elsewhere"),
    [
        ("add", CreateMemoryRequest, set()),
        ("add_many", BatchAddRequest, set()),
        ("add_messages", AddMessagesRequest, set()),
        ("search", SearchRequest, set()),
        ("search_by_vector", VectorSearchRequest, set()),
        ("delete_many", DeleteManyRequest, set()),
        ("update", UpdateMemoryRequest, {"user_id", "agent_id", "run_id"}),  # query parameters
    ],
)
def test_each_body_carries_every_store_argument(method: str, body: type, carried_elsewhere: set[str]) -> None:
    parameters = set(inspect.signature(getattr(MemoryStore, method)).parameters) - _NOT_IN_BODY - carried_elsewhere
    assert parameters == set(body.model_fields), method  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("list", ("GET", M)),
        ("similar", ("GET", M + "/{memory_id}/similar")),
        ("get", ("GET", M + "/{memory_id}")),
        ("delete", ("DELETE", M + "/{memory_id}")),
        ("history", ("GET", M + "/{memory_id}/history")),
    ],
)
def test_each_query_route_takes_every_store_argument(app: FastAPI, method: str, route: tuple[str, str]) -> None:
    operation = app.openapi()["paths"][route[1]][route[0].lower()]
    names = {parameter["name"] for parameter in operation["parameters"]} - {"memory_id"}
    expected = set(inspect.signature(getattr(MemoryStore, method)).parameters) - _NOT_IN_BODY
    if "date_range" in expected:  # travels as date_from / date_to
        expected = (expected - {"date_range"}) | {"date_from", "date_to"}
    assert names == expected


def test_dedupe_returns_the_existing_memory(api: Api, store: MemoryStore) -> None:
    first = add(api, "Alice prefers window seats")
    again = add(api, "Alice prefers window seats", dedupe=True)
    assert again.id == first.id
    batch = api.post(f"{M}/batch", json={"items": ["Alice prefers window seats", "something new"], "dedupe": True})
    result = BatchResult.model_validate(batch.json())
    assert [item.deduplicated for item in result.items] == [True, False]
    assert store.stats().memories == 2


def test_search_modes_and_mmr(api: Api) -> None:
    add(api, "zebra crossing near the station")
    add(api, "a quiet street")
    for mode in ("hybrid", "vector", "keyword"):
        response = api.post(f"{M}/search", json={"query": "zebra", "mode": mode, "mmr": True})
        assert response.status_code == 200, response.text
        result = SearchResult.model_validate(response.json())
        assert result.mode == mode
        assert result.hits[0].memory.text == "zebra crossing near the station"
    assert_error(api.post(f"{M}/search", json={"query": "zebra", "mode": "psychic"}), 422, "validation_error")


def test_a_non_admin_filter_delete_stays_in_their_user(
    api: Api, two_users: tuple[Memory, Memory], store: MemoryStore
) -> None:
    alice, bob = two_users
    assert api.as_(ALICE).post(f"{M}/delete", json={"filter": {}}).json() == {"deleted": 1}
    assert store.get(alice.id) is None
    assert store.get(bob.id) == bob


def test_non_admin_vector_search_and_similar_see_only_their_own(
    api: Api, two_users: tuple[Memory, Memory], store: MemoryStore
) -> None:
    alice, bob = two_users
    vector = store.embedder.embed([bob.text])[0].tolist()
    found = SearchResult.model_validate(api.as_(ALICE).post(f"{M}/search/vector", json={"vector": vector}).json())
    assert [hit.memory.id for hit in found.hits] == [alice.id]
    similar = SearchResult.model_validate(api.as_(ALICE).get(f"{M}/{alice.id}/similar").json())
    assert similar.hits == []
    history = api.as_(ALICE).get(f"{M}/{alice.id}/history")
    assert [v["memory_id"] for v in history.json()] == [alice.id]
