"""The constraints the OpenAPI schema states: each value at its bound is served, one beyond is a 422 naming the field.

The bounds are read from the served store's settings (a store with other limits publishes other
numbers), and each stated pattern agrees with the store's own check (property tests).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from server_helpers import Api, assert_error

from memorylink import MemoryStore
from memorylink.config import Limits, Settings
from memorylink.errors import ValidationError
from memorylink.events.event_filter import EventFilter
from memorylink.events.signing import secret_key
from memorylink.ids import decode_id
from memorylink.models import check_scope_id
from memorylink.server import _constraints
from memorylink.server.schemas import SECRET_PATTERN

URL = "https://example.com/hooks/memorylink"


def named(error: dict[str, Any], field: str) -> None:
    """The 422 names ``field``: the store's ``details.field`` or pydantic's ``loc``."""
    details = error["details"]
    names = [str(details.get("field", ""))] + [str(e["loc"][-1]) for e in details.get("errors", [])]
    assert any(name == field or name.startswith((f"{field}[", f"{field}.")) for name in names), error


def refused(response: Any, field: str) -> None:
    """A 422 naming ``field``: ``validation_error``, or ``limit_exceeded`` for a store limit."""
    code = response.json()["error"]["code"]
    assert code in ("validation_error", "limit_exceeded"), response.text
    named(assert_error(response, 422, code), field)


def pattern(marker: dict[str, Any]) -> str:
    value: str = marker[_constraints.MARKER]["pattern"]
    return value


@pytest.fixture
def limits(store: MemoryStore) -> Limits:
    return store.settings.limits


# -- the document states the served store's numbers --------------------------------------------


def test_bounds_come_from_the_served_store(
    open_store: Callable[..., MemoryStore], make_app: Callable[..., FastAPI]
) -> None:
    small = Limits(max_top_k=7, max_scope_id_length=5, max_page_size=9, max_tag_length=3)
    app = make_app(store=open_store("small", settings=Settings(limits=small)))
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert schemas["SearchRequest"]["properties"]["top_k"]["maximum"] == 7
    assert schemas["SearchRequest"]["properties"]["tags"]["anyOf"][0]["items"] == {"type": "string"}
    assert schemas["CreateMemoryRequest"]["properties"]["tags"]["items"]["maxLength"] == 3
    user_id = schemas["SearchRequest"]["properties"]["user_id"]["anyOf"][0]
    assert user_id == {"type": "string", "minLength": 1, "maxLength": 5, "pattern": pattern(_constraints.SCOPE_ID)}
    listing = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/memories"]["get"]["parameters"]}
    assert listing["limit"]["maximum"] == 9
    assert _constraints.MARKER not in str(document)


def test_the_vector_length_is_the_store_dimension(app: FastAPI, store: MemoryStore) -> None:
    vector = app.openapi()["components"]["schemas"]["VectorSearchRequest"]["properties"]["vector"]
    assert vector["minItems"] == vector["maxItems"] == store.embedder.dimension


# -- at the bound served, beyond it a 422 naming the field ---------------------------------------


def test_top_k(api: Api, limits: Limits) -> None:
    body = {"query": "seat", "user_id": "alice"}
    assert api.post("/api/v1/memories/search", json={**body, "top_k": limits.max_top_k}).status_code == 200
    assert api.post("/api/v1/memories/search", json={**body, "top_k": 1}).status_code == 200
    refused(api.post("/api/v1/memories/search", json={**body, "top_k": limits.max_top_k + 1}), "top_k")
    refused(api.post("/api/v1/memories/search", json={**body, "top_k": 0}), "top_k")


def test_integers_are_not_strings_or_booleans(api: Api) -> None:
    body = {"query": "seat", "user_id": "alice"}
    assert api.post("/api/v1/memories/search", json={**body, "top_k": 5.0}).status_code == 200  # JSON's 5.0 is 5
    for bad in ("5", True, 5.5):
        refused(api.post("/api/v1/memories/search", json={**body, "top_k": bad}), "top_k")


def test_page_size(api: Api, limits: Limits) -> None:
    assert api.get("/api/v1/memories", params={"limit": limits.max_page_size}).status_code == 200
    refused(api.get("/api/v1/memories", params={"limit": limits.max_page_size + 1}), "limit")
    refused(api.get("/api/v1/memories", params={"limit": 0}), "limit")


@pytest.mark.parametrize("field", ["user_id", "agent_id", "run_id"])
def test_scope_ids_in_a_query(api: Api, limits: Limits, field: str) -> None:
    assert api.get("/api/v1/memories", params={field: "x" * limits.max_scope_id_length}).status_code == 200
    for bad in ("x" * (limits.max_scope_id_length + 1), "", "   "):
        refused(api.get("/api/v1/memories", params={field: bad}), field)


@pytest.mark.parametrize("field", ["agent_id", "run_id"])
def test_scope_ids_in_a_body(api: Api, limits: Limits, field: str) -> None:
    body = {"text": "likes tea", "user_id": "alice"}
    ok = api.post("/api/v1/memories", json={**body, field: "x" * limits.max_scope_id_length})
    assert ok.status_code == 201, ok.text
    for bad in ("x" * (limits.max_scope_id_length + 1), "", " \t"):
        refused(api.post("/api/v1/memories", json={**body, field: bad}), field)


def test_an_empty_user_id_on_add_is_the_callers_own(api: Api) -> None:
    """The schema allows it (``add`` reads it as not given); a blank one is refused."""
    added = api.post("/api/v1/memories", json={"text": "likes tea", "user_id": ""})
    assert added.status_code == 201, added.text
    refused(api.post("/api/v1/memories", json={"text": "likes tea", "user_id": "  "}), "user_id")


def test_text_and_tags(api: Api, limits: Limits) -> None:
    at = {"text": "x" * limits.max_text_length, "tags": ["t" * limits.max_tag_length], "user_id": "alice"}
    assert api.post("/api/v1/memories", json=at).status_code == 201
    refused(api.post("/api/v1/memories", json={**at, "text": "x" * (limits.max_text_length + 1)}), "text")
    refused(api.post("/api/v1/memories", json={**at, "text": " \n "}), "text")
    refused(api.post("/api/v1/memories", json={**at, "tags": ["t" * (limits.max_tag_length + 1)]}), "tags")
    refused(api.post("/api/v1/memories", json={**at, "tags": [""]}), "tags")


def test_metadata_keys(api: Api, limits: Limits) -> None:
    body = {"text": "likes tea", "user_id": "alice"}
    many = {f"k{i}": i for i in range(limits.max_metadata_keys)}
    assert api.post("/api/v1/memories", json={**body, "metadata": many}).status_code == 201
    refused(api.post("/api/v1/memories", json={**body, "metadata": {**many, "one_more": 1}}), "metadata")
    refused(api.post("/api/v1/memories", json={**body, "metadata": {"a.b": 1}}), "metadata")


@pytest.mark.parametrize("path", ["/api/v1/memories", "/api/v1/memories/batch"])
def test_booleans_are_strict(api: Api, path: str) -> None:
    body: dict[str, Any] = {"text": "likes tea", "user_id": "alice"}
    if path.endswith("batch"):
        body = {"items": [body]}
    assert api.post(path, json={**body, "dedupe": True}).status_code in (200, 201)
    for bad in (0, 1, "true"):
        refused(api.post(path, json={**body, "dedupe": bad}), "dedupe")


def test_memory_ids(api: Api) -> None:
    assert api.get("/api/v1/memories/0D2JQ3M5K8T9V").status_code == 404  # well formed, not there
    for bad in ("abc", "U" * 13, "8" + "0" * 12):
        refused(api.get(f"/api/v1/memories/{bad}"), "id")
    refused(api.post("/api/v1/memories/delete", json={"ids": ["nope"]}), "id")


def test_date_range_bounds_are_strings(api: Api) -> None:
    body = {"query": "seat", "user_id": "alice"}
    ok = api.post("/api/v1/memories/search", json={**body, "date_range": ["2026-01-01", None]})
    assert ok.status_code == 200, ok.text
    refused(api.post("/api/v1/memories/search", json={**body, "date_range": [0, None]}), "0")


def test_webhook_settings(api: Api) -> None:
    made = api.post("/api/v1/webhooks", json={"url": URL, "timeout_s": 60})
    assert made.status_code == 201, made.text
    path = f"/api/v1/webhooks/{made.json()['id']}"
    refused(api.post("/api/v1/webhooks", json={"url": URL, "timeout_s": 60.5}), "timeout_s")
    refused(api.post("/api/v1/webhooks", json={"url": URL, "enabled": 0}), "enabled")
    refused(api.post("/api/v1/webhooks", json={"url": URL, "retry": {"jitter": False}}), "jitter")
    refused(api.post("/api/v1/webhooks", json={"url": URL, "description": "d" * 257}), "description")
    assert api.patch(path, json={"description": "d" * 256}).status_code == 200
    refused(api.patch(path, json={"timeout_s": None}), "timeout_s")
    rotate = f"{path}/rotate-secret"
    assert api.post(rotate, json={"keep_old_for_s": 7 * 86_400}).status_code == 200
    refused(api.post(rotate, json={"keep_old_for_s": 7 * 86_400 + 1}), "keep_old_for_s")
    assert api.get(f"{path}/deliveries", params={"state": "dead"}).status_code == 200
    refused(api.get(f"{path}/deliveries", params={"state": "gone"}), "state")


# -- each stated pattern says what the store's own check says ------------------------------------


@given(st.text(max_size=12))
def test_scope_id_pattern_is_the_store_check(value: str) -> None:
    try:
        check_scope_id("user_id", value, Limits())
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(re.search(pattern(_constraints.SCOPE_ID), value)) == accepted


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz-", min_size=12, max_size=14))
def test_memory_id_pattern_is_decode_id(value: str) -> None:
    try:
        decode_id(value)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(re.search(pattern(_constraints.MEMORY_ID), value)) == accepted


@given(st.binary(min_size=20, max_size=70))
def test_secret_pattern_is_secret_key(key: bytes) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    try:
        secret_key(secret)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(re.search(SECRET_PATTERN, secret)) == accepted


@given(st.text(alphabet="ab._*Z", max_size=8))
def test_event_pattern_is_the_event_filter(entry: str) -> None:
    from memorylink.server.schemas import _EVENT_PATTERN

    try:
        EventFilter.parse([entry])
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(re.search(_EVENT_PATTERN, entry)) == accepted


def test_a_repeated_single_valued_query_parameter_is_refused(api: Api) -> None:
    """``?user_id=a&user_id=b`` is a 422 naming user_id, not a call acting on b; an array parameter may repeat."""
    refused(api.get("/api/v1/memories", params=[("user_id", "alice"), ("user_id", "bob")]), "user_id")
    refused(api.get("/api/v1/keys", params=[("username", "a"), ("username", "b")]), "username")
    assert api.get("/api/v1/memories", params=[("tags", "a"), ("tags", "b")]).status_code == 200


def test_messages_with_a_blank_run_id_fail_alone(api: Api) -> None:
    """Scope ids of a conversation fail each message (a 200 with item errors), so the schema states no rule."""
    body = {"messages": [{"role": "user", "content": "hi"}], "user_id": "alice", "run_id": " "}
    response = api.post("/api/v1/memories/messages", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["error"]["details"]["field"] == "run_id"


def test_vector_values_within_float32(api: Api, app: FastAPI, store: MemoryStore) -> None:
    """The stated bound is where float32 overflows: a value at it is refused, one below it is a float32."""
    items = app.openapi()["components"]["schemas"]["VectorSearchRequest"]["properties"]["vector"]["items"]
    bound = items["exclusiveMaximum"]
    assert items["exclusiveMinimum"] == -bound
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(bound))
        assert np.isfinite(np.float32(math.nextafter(bound, 0.0)))
    served = [1e15] + [1.0] * (store.embedder.dimension - 1)
    response = api.post("/api/v1/memories/search/vector", json={"vector": served, "user_id": "alice"})
    assert response.status_code == 200, response.text
    refused(api.post("/api/v1/memories/search/vector", json={"vector": [bound, *served[1:]]}), "vector")
    refused(api.post("/api/v1/memories/search/vector", json={"vector": [0.0] * len(served)}), "vector")


def test_delete_takes_ids_or_a_filter(api: Api, app: FastAPI) -> None:
    """The schema says not both (null is not given); the store refuses both with a 422 naming filter."""
    schema = app.openapi()["components"]["schemas"]["DeleteManyRequest"]
    assert schema["not"]["required"] == ["ids", "filter"]
    both = {"ids": ["0D2JQ3M5K8T9V"], "filter": {"tags": {"any": ["draft"]}}, "user_id": "alice"}
    refused(api.post("/api/v1/memories/delete", json=both), "filter")
    assert api.post("/api/v1/memories/delete", json={**both, "filter": None}).json() == {"deleted": 0}
