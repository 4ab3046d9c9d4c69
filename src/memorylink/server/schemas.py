"""Request bodies of the REST API (responses are the library's own models).

Each body maps one to one onto the keyword arguments of the MemoryStore method it calls;
the store validates values and limits, so the server and the library refuse the same input
with the same error. The fields state those rules in the schema (see ``_constraints``).
Unknown fields are refused (422) so a typo is never silently ignored, and booleans and
integers are strict: ``"dedupe": 0`` or ``"top_k": "5"`` is a 422, not a guess.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from memorylink.events.retry import RetryPolicy
from memorylink.events.sender import MAX_URL_LENGTH
from memorylink.events.signing import PREFIX
from memorylink.events.webhook_manager import MAX_KEEP_OLD_SECRET_S
from memorylink.events.webhooks import MAX_BEARER_TOKEN, MAX_DESCRIPTION, MAX_TIMEOUT_S
from memorylink.models import SearchMode, SortBy
from memorylink.server._constraints import (
    MEMORY_ID,
    METADATA,
    NEW_MEMORY_USER_ID,
    QUERY,
    SCOPE_ID,
    TAG,
    TEXT,
    THRESHOLD,
    TOP_K,
    limit,
    states,
)

__all__ = [
    "AddMessagesRequest",
    "BatchAddRequest",
    "CreateMemoryRequest",
    "CreateWebhookRequest",
    "DeleteManyRequest",
    "DeleteManyResult",
    "RetryPolicyRequest",
    "RotateSecretRequest",
    "SearchRequest",
    "UpdateMemoryRequest",
    "UpdateWebhookRequest",
    "VectorSearchRequest",
    "WebhookTestResult",
]

_SCOPE_DOC = "only memories of this {}; non-admins always act on their own user"


def _strict(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


def _whole(value: object) -> object:
    """A float with no fraction as the int it is (JSON's 5.0 is an integer); anything else as given."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Tag = Annotated[str, Field(json_schema_extra=TAG)]
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103
"""The smallest magnitude that rounds to infinity as a float32 (the store refuses a vector holding one)."""
VectorValue = Annotated[
    float, Field(json_schema_extra=states(exclusiveMinimum=-_FLOAT32_OVERFLOW, exclusiveMaximum=_FLOAT32_OVERFLOW))
]
Integer = Annotated[int, BeforeValidator(_whole), Field(strict=True)]
"""An integer body field: 5 or 5.0, never "5" or true."""
DateBound = Annotated[
    str, Field(strict=True, json_schema_extra={"anyOf": [{"format": "date-time"}, {"format": "date"}]})
]
MemoryIdItem = Annotated[str, Field(json_schema_extra=MEMORY_ID)]


def _scope_id(description: str) -> Any:
    return Field(None, description=description, json_schema_extra=SCOPE_ID)


def _flag(default: bool, description: str) -> Any:
    return Field(default, strict=True, description=description)


class _Scope(BaseModel):
    user_id: str | None = _scope_id(_SCOPE_DOC.format("user"))
    agent_id: str | None = _scope_id(_SCOPE_DOC.format("agent"))
    run_id: str | None = _scope_id(_SCOPE_DOC.format("run"))


class CreateMemoryRequest(_Scope):
    """``POST /api/v1/memories``: the arguments of ``MemoryStore.add``."""

    model_config = _strict(
        {
            "text": "Alice prefers window seats on long flights",
            "tags": ["travel", "preferences"],
            "metadata": {"source": "chat"},
            "user_id": "alice",
        }
    )

    text: str = Field(description="the memory (at most max_text_length characters)", json_schema_extra=TEXT)
    tags: list[Tag] = Field(default_factory=list, description="labels; duplicates are dropped")
    metadata: dict[str, Any] | None = Field(
        None, description="a JSON object (keys without '.')", json_schema_extra=METADATA
    )
    user_id: str | None = Field(
        None,
        description="whose memory (empty or omitted: the caller's own); non-admins may only name themselves",
        json_schema_extra=NEW_MEMORY_USER_ID,
    )
    dedupe: bool = _flag(False, "return the existing memory instead when one in the same scope is (nearly) identical")


class UpdateMemoryRequest(BaseModel):
    """``PATCH /api/v1/memories/{id}``: what to replace (omitted fields are kept)."""

    model_config = _strict({"text": "Alice prefers aisle seats now", "tags": ["travel"]})

    text: str | None = Field(None, description="new text (re-embedded)", json_schema_extra=TEXT)
    tags: list[Tag] | None = Field(None, description="new tags, replacing the old ones")
    metadata: dict[str, Any] | None = Field(
        None, description="new metadata, replacing the old object", json_schema_extra=METADATA
    )


class _SearchOptions(_Scope):
    top_k: Integer = Field(10, description="hits to return (1 to max_top_k)", json_schema_extra=TOP_K)
    threshold: float | None = Field(
        None,
        strict=True,
        description="drop hits whose similarity is below this (0 to 1)",
        json_schema_extra=THRESHOLD,
    )
    filter: dict[str, Any] | None = Field(None, description="the filter language (see docs/filters.md)")
    tags: list[str] | None = Field(None, description="shortcut: memories with any of these tags")
    date_range: tuple[DateBound | None, DateBound | None] | None = Field(
        None, description="shortcut: [start, end] on created_at (ISO 8601; null for an open end)"
    )
    metadata: dict[str, Any] | None = Field(None, description="shortcut: metadata keys that must equal these")
    sort_by: SortBy = Field("relevance", description="relevance (similarity blended with recency), similarity, date")
    include_similar: bool = _flag(False, "attach each hit's nearest neighbours as related")
    mmr: bool = _flag(False, "re-order hits by maximal marginal relevance (fewer near-duplicates)")


class SearchRequest(_SearchOptions):
    """``POST /api/v1/memories/search``: the arguments of ``MemoryStore.search``."""

    model_config = _strict(
        {"query": "seat preference", "top_k": 5, "user_id": "alice"},
        {"query": "peanut allergy", "mode": "keyword", "mmr": True},
        {
            "query": "what did we decide in the planning meeting?",
            "filter": {"tags": {"any": ["meeting"]}, "created_at": {"gte": "2026-01-01"}},
            "sort_by": "date",
        },
    )

    query: str = Field(
        description="what to look for, in words (at most max_query_length characters)", json_schema_extra=QUERY
    )
    mode: SearchMode = Field(
        "hybrid", description="hybrid (keyword BM25 and vector similarity fused), vector or keyword"
    )


class VectorSearchRequest(_SearchOptions):
    """``POST /api/v1/memories/search/vector``: the arguments of ``MemoryStore.search_by_vector``."""

    model_config = _strict({"vector": [0.01, -0.2, 0.33], "top_k": 3})

    vector: list[VectorValue] = Field(
        description="a query embedding of the store's dimension",
        json_schema_extra=states(
            minItems=limit("dimension"), maxItems=limit("dimension"), **{"not": {"items": {"const": 0}}}
        ),
    )


class BatchAddRequest(BaseModel):
    """``POST /api/v1/memories/batch``: the items of ``MemoryStore.add_many``.

    Each item is an object with the fields of ``POST /api/v1/memories`` or a bare string;
    a bad item fails alone (its result names the index and the reason).
    """

    model_config = _strict(
        {
            "items": [
                {"text": "Bob is allergic to peanuts", "tags": ["health"], "user_id": "bob"},
                "The office closes at 6 pm on Fridays",
            ]
        }
    )

    items: list[Any] = Field(
        description="objects like a create body, or strings",
        json_schema_extra=states(maxItems=limit("max_batch_size")),
    )
    dedupe: bool = _flag(False, "skip items (nearly) identical to a memory in the same scope, or to an earlier item")


class DeleteManyRequest(_Scope):
    """``POST /api/v1/memories/delete``: the arguments of ``MemoryStore.delete_many`` (ids or a filter)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"ids": ["0d2jq3m5k8t9v"]}, {"filter": {"tags": {"any": ["draft"]}}, "user_id": "alice"}],
            # The store refuses ids and a filter together (null counts as not given).
            "not": {
                "required": ["ids", "filter"],
                "properties": {"ids": {"type": "array"}, "filter": {"type": "object"}},
            },
        },
    )

    ids: list[MemoryIdItem] | None = Field(
        None,
        description="memories to delete (those out of scope are skipped)",
        json_schema_extra=states(maxItems=limit("max_batch_size")),
    )
    filter: dict[str, Any] | None = Field(None, description="delete every memory matching this, in scope")


class DeleteManyResult(BaseModel):
    """How many memories ``POST /api/v1/memories/delete`` deleted."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"deleted": 3}]})

    deleted: int


class AddMessagesRequest(BaseModel):
    """``POST /api/v1/memories/messages``: the arguments of ``MemoryStore.add_messages``."""

    model_config = _strict(
        {
            "messages": [
                {"role": "user", "content": "I'm vegetarian"},
                {"role": "assistant", "content": "Noted: no meat in suggestions"},
            ],
            "user_id": "alice",
            "tags": ["diet"],
        }
    )

    messages: list[Any] = Field(
        description='chat messages, {"role": ..., "content": ...}; a bad one fails alone',
        json_schema_extra=states(maxItems=limit("max_batch_size")),
    )
    # A bad tag, metadata or scope id fails each message alone (a 200 with item errors): no rule is stated.
    tags: list[str] = Field(default_factory=list, description="tags on every stored message")
    metadata: dict[str, Any] | None = Field(None, description="metadata on every stored message")
    user_id: str | None = Field(
        None, description="whose conversation (omitted: the caller's own); non-admins may only name themselves"
    )
    agent_id: str | None = Field(None, description=_SCOPE_DOC.format("agent"))
    run_id: str | None = Field(None, description="the conversation's run (a new one when omitted)")


_EVENT_PATTERN = r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*)$"
"""An event name (``memory.created``), a prefix (``memory.*``) or ``*``, as ``EventFilter.parse`` reads them."""
_EVENT = Annotated[str, Field(json_schema_extra=states(pattern=_EVENT_PATTERN))]
_EVENTS_STRING = Annotated[str, Field(json_schema_extra=states(pattern=_EVENT_PATTERN.replace("^(", "^(all|none|", 1)))]
_B64 = "[A-Za-z0-9+/]"
SECRET_PATTERN = (
    rf"^{PREFIX}((?:{_B64}{{4}}){{8,20}}(?:{_B64}{{2}}==|{_B64}{{3}}=)?|(?:{_B64}{{4}}){{21}}(?:{_B64}{{2}}==)?)$"
)
"""``whsec_`` and the base64 of a key of 24 to 64 bytes (what ``signing.secret_key`` accepts)."""
_SECRET = states(pattern=SECRET_PATTERN)
_URL = states(minLength=1, maxLength=MAX_URL_LENGTH, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f]+$")
_TIMEOUT = states(exclusiveMinimum=0, maximum=MAX_TIMEOUT_S)
_BEARER = states(minLength=1, maxLength=MAX_BEARER_TOKEN, pattern=r"^[ -~]+$")
_DESCRIPTION = states(maxLength=MAX_DESCRIPTION)


class RetryPolicyRequest(RetryPolicy):
    """A :class:`RetryPolicy` in a request body: its numbers are strict (``"jitter": false`` is a 422)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True)


def _kept(description: str, constraints: dict[str, Any] | None = None, *, strict: bool = False) -> Any:
    """A PATCH field that may be omitted (kept as it is) but not sent as null."""

    def schema(field: dict[str, Any]) -> None:
        field.pop("default", None)
        field.update(constraints or {})

    return Field(None, description=description, strict=strict, json_schema_extra=schema)


class CreateWebhookRequest(BaseModel):
    """``POST /api/v1/webhooks``: the arguments of ``store.webhooks.add``."""

    model_config = _strict({"url": "https://example.com/hooks/memorylink", "events": ["memory.*"]})

    url: str = Field(description="where to POST events (http or https)", json_schema_extra=_URL)
    events: list[_EVENT] | _EVENTS_STRING | None = Field(
        None, description='event names or prefixes ("memory.*"), or one as a string; null or "*": every event'
    )
    user_id: str | None = _scope_id("only this user's events (forced to your own for non-admins)")
    agent_id: str | None = _scope_id("only this agent's events")
    run_id: str | None = _scope_id("only this run's events")
    secret: str | None = Field(
        None, description="a whsec_ signing secret; generated (and returned once) if omitted", json_schema_extra=_SECRET
    )
    timeout_s: float = Field(
        10.0, strict=True, description="per-request timeout, at most 60 s", json_schema_extra=_TIMEOUT
    )
    retry: RetryPolicyRequest | None = Field(None, description="attempts and backoff")
    bearer_token: str | None = Field(None, description="sent as Authorization: Bearer ...", json_schema_extra=_BEARER)
    include_text: bool = _flag(False, "put memory text in created / updated events")
    description: str | None = Field(None, description="a note for people", json_schema_extra=_DESCRIPTION)
    enabled: bool = _flag(True, "start delivering at once")


class UpdateWebhookRequest(BaseModel):
    """``PATCH /api/v1/webhooks/{id}``: settings to change (omitted ones are kept; null clears)."""

    model_config = _strict({"events": ["memory.created"], "enabled": False})

    url: str = _kept("where to POST events", _URL)
    events: list[_EVENT] | _EVENTS_STRING | None = Field(
        None, description='event names or prefixes; null or "*": every event'
    )
    user_id: str | None = _scope_id("only this user's events (admins only)")
    agent_id: str | None = _scope_id("only this agent's events")
    run_id: str | None = _scope_id("only this run's events")
    timeout_s: float = _kept("per-request timeout, at most 60 s", _TIMEOUT, strict=True)
    retry: RetryPolicyRequest | None = Field(None, description="attempts and backoff")
    bearer_token: str | None = Field(
        None, description="sent as Authorization: Bearer ...; null removes it", json_schema_extra=_BEARER
    )
    include_text: bool = _kept("put memory text in created / updated events", strict=True)
    description: str | None = Field(None, description="a note for people", json_schema_extra=_DESCRIPTION)
    enabled: bool | None = Field(None, strict=True, description="pause (false) or resume (true) delivery")


class RotateSecretRequest(BaseModel):
    """``POST /api/v1/webhooks/{id}/rotate-secret``: the arguments of ``store.webhooks.rotate_secret``."""

    model_config = _strict({"keep_old_for_s": 3600})

    secret: str | None = Field(
        None, description="the new whsec_ secret; generated when omitted", json_schema_extra=_SECRET
    )
    keep_old_for_s: float = Field(
        86_400.0,
        strict=True,
        description="how long the old secret also signs (at most 7 days)",
        json_schema_extra=states(minimum=0, maximum=MAX_KEEP_OLD_SECRET_S),
    )


class WebhookTestResult(BaseModel):
    """What ``POST /api/v1/webhooks/{id}/test`` got back from the receiver."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["delivered", "retry", "give_up"] = Field(description="what the attempt means for a delivery")
    status: int | None = Field(description="the receiver's HTTP status; null when no response arrived")
    error: str | None = Field(description="a one-line reason when not delivered")
    retry_after_s: float | None = Field(description="the receiver's Retry-After, when it sent one")
    duration_ms: float = Field(description="wall time of the attempt")
