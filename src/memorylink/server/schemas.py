"""Request bodies of the REST API (responses are the library's own models).

Each body maps one to one onto the keyword arguments of the MemoryStore method it calls;
the store validates values and limits, so the server and the library refuse the same input
with the same error. Unknown fields are refused (422) so a typo is never silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memorylink.events.retry import RetryPolicy
from memorylink.models import SearchMode, SortBy

__all__ = [
    "AddMessagesRequest",
    "BatchAddRequest",
    "CreateMemoryRequest",
    "CreateWebhookRequest",
    "DeleteManyRequest",
    "DeleteManyResult",
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


class _Scope(BaseModel):
    user_id: str | None = Field(None, description=_SCOPE_DOC.format("user"))
    agent_id: str | None = Field(None, description=_SCOPE_DOC.format("agent"))
    run_id: str | None = Field(None, description=_SCOPE_DOC.format("run"))


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

    text: str = Field(description="the memory (at most max_text_length characters)")
    tags: list[str] = Field(default_factory=list, description="labels; duplicates are dropped")
    metadata: dict[str, Any] | None = Field(None, description="a JSON object (keys without '.')")
    user_id: str | None = Field(None, description="whose memory; non-admins may only name themselves")
    dedupe: bool = Field(
        False, description="return the existing memory instead when one in the same scope is (nearly) identical"
    )


class UpdateMemoryRequest(BaseModel):
    """``PATCH /api/v1/memories/{id}``: what to replace (omitted fields are kept)."""

    model_config = _strict({"text": "Alice prefers aisle seats now", "tags": ["travel"]})

    text: str | None = Field(None, description="new text (re-embedded)")
    tags: list[str] | None = Field(None, description="new tags, replacing the old ones")
    metadata: dict[str, Any] | None = Field(None, description="new metadata, replacing the old object")


class _SearchOptions(_Scope):
    top_k: int = Field(10, description="hits to return (1 to max_top_k)")
    threshold: float | None = Field(None, description="drop hits whose similarity is below this (0 to 1)")
    filter: dict[str, Any] | None = Field(None, description="the filter language (see docs/filters.md)")
    tags: list[str] | None = Field(None, description="shortcut: memories with any of these tags")
    date_range: tuple[datetime | str | None, datetime | str | None] | None = Field(
        None, description="shortcut: [start, end] on created_at (ISO 8601; null for an open end)"
    )
    metadata: dict[str, Any] | None = Field(None, description="shortcut: metadata keys that must equal these")
    sort_by: SortBy = Field("relevance", description="relevance (similarity blended with recency), similarity, date")
    include_similar: bool = Field(False, description="attach each hit's nearest neighbours as related")
    mmr: bool = Field(False, description="re-order hits by maximal marginal relevance (fewer near-duplicates)")


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

    query: str = Field(description="what to look for, in words (at most max_query_length characters)")
    mode: SearchMode = Field(
        "hybrid", description="hybrid (keyword BM25 and vector similarity fused), vector or keyword"
    )


class VectorSearchRequest(_SearchOptions):
    """``POST /api/v1/memories/search/vector``: the arguments of ``MemoryStore.search_by_vector``."""

    model_config = _strict({"vector": [0.01, -0.2, 0.33], "top_k": 3})

    vector: list[float] = Field(description="a query embedding of the store's dimension")


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

    items: list[Any] = Field(description="objects like a create body, or strings")
    dedupe: bool = Field(
        False, description="skip items (nearly) identical to a memory in the same scope, or to an earlier item"
    )


class DeleteManyRequest(_Scope):
    """``POST /api/v1/memories/delete``: the arguments of ``MemoryStore.delete_many`` (ids or a filter)."""

    model_config = _strict({"ids": ["0d2jq3m5k8t9v"]}, {"filter": {"tags": {"any": ["draft"]}}, "user_id": "alice"})

    ids: list[str] | None = Field(None, description="memories to delete (those out of scope are skipped)")
    filter: dict[str, Any] | None = Field(None, description="delete every memory matching this, in scope")


class DeleteManyResult(BaseModel):
    """How many memories ``POST /api/v1/memories/delete`` deleted."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"deleted": 3}]})

    deleted: int


class AddMessagesRequest(_Scope):
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

    messages: list[Any] = Field(description='chat messages, {"role": ..., "content": ...}; a bad one fails alone')
    tags: list[str] = Field(default_factory=list, description="tags on every stored message")
    metadata: dict[str, Any] | None = Field(None, description="metadata on every stored message")
    run_id: str | None = Field(None, description="the conversation's run (a new one when omitted)")


class CreateWebhookRequest(BaseModel):
    """``POST /api/v1/webhooks``: the arguments of ``store.webhooks.add``."""

    model_config = _strict({"url": "https://example.com/hooks/memorylink", "events": ["memory.*"]})

    url: str = Field(description="where to POST events (http or https)")
    events: list[str] | str | None = Field(
        None, description='event names or prefixes ("memory.*"), or one as a string; null or "*": every event'
    )
    user_id: str | None = Field(None, description="only this user's events (forced to your own for non-admins)")
    agent_id: str | None = Field(None, description="only this agent's events")
    run_id: str | None = Field(None, description="only this run's events")
    secret: str | None = Field(None, description="a whsec_ signing secret; generated (and returned once) if omitted")
    timeout_s: float = Field(10.0, description="per-request timeout, at most 60 s")
    retry: RetryPolicy | None = Field(None, description="attempts and backoff")
    bearer_token: str | None = Field(None, description="sent as Authorization: Bearer ...")
    include_text: bool = Field(False, description="put memory text in created / updated events")
    description: str | None = Field(None, description="a note for people")
    enabled: bool = Field(True, description="start delivering at once")


class UpdateWebhookRequest(BaseModel):
    """``PATCH /api/v1/webhooks/{id}``: settings to change (omitted ones are kept; null clears)."""

    model_config = _strict({"events": ["memory.created"], "enabled": False})

    url: str | None = Field(None, description="where to POST events")
    events: list[str] | str | None = Field(None, description='event names or prefixes; null or "*": every event')
    user_id: str | None = Field(None, description="only this user's events (admins only)")
    agent_id: str | None = Field(None, description="only this agent's events")
    run_id: str | None = Field(None, description="only this run's events")
    timeout_s: float | None = Field(None, description="per-request timeout, at most 60 s")
    retry: RetryPolicy | None = Field(None, description="attempts and backoff")
    bearer_token: str | None = Field(None, description="sent as Authorization: Bearer ...; null removes it")
    include_text: bool | None = Field(None, description="put memory text in created / updated events")
    description: str | None = Field(None, description="a note for people")
    enabled: bool | None = Field(None, description="pause (false) or resume (true) delivery")


class RotateSecretRequest(BaseModel):
    """``POST /api/v1/webhooks/{id}/rotate-secret``: the arguments of ``store.webhooks.rotate_secret``."""

    model_config = _strict({"keep_old_for_s": 3600})

    secret: str | None = Field(None, description="the new whsec_ secret; generated when omitted")
    keep_old_for_s: float = Field(86_400.0, description="how long the old secret also signs (at most 7 days)")


class WebhookTestResult(BaseModel):
    """What ``POST /api/v1/webhooks/{id}/test`` got back from the receiver."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["delivered", "retry", "give_up"] = Field(description="what the attempt means for a delivery")
    status: int | None = Field(description="the receiver's HTTP status; null when no response arrived")
    error: str | None = Field(description="a one-line reason when not delivered")
    retry_after_s: float | None = Field(description="the receiver's Retry-After, when it sent one")
    duration_ms: float = Field(description="wall time of the attempt")
