"""Response examples for the OpenAPI document (a test validates each against its model)."""

from __future__ import annotations

from typing import Any

__all__ = ["EXAMPLES", "example_response"]

_MEMORY: dict[str, Any] = {
    "id": "0d2jq3m5k8t9v",
    "text": "Alice prefers window seats on long flights",
    "tags": ["travel", "preferences"],
    "metadata": {"source": "chat"},
    "user_id": "alice",
    "agent_id": None,
    "run_id": None,
    "created_at": "2026-01-31T12:00:00Z",
    "updated_at": "2026-01-31T12:00:00Z",
    "version": 1,
}
_HIT = {"memory": _MEMORY, "similarity": 0.83, "score": 0.84, "related": []}
_ENDPOINT: dict[str, Any] = {
    "id": "wh_0d2jq3m5k8t9v",
    "url": "https://example.com/hooks/memorylink",
    "events": ["memory.*"],
    "user_id": "alice",
    "agent_id": None,
    "run_id": None,
    "description": None,
    "enabled": True,
    "include_text": False,
    "timeout_s": 10.0,
    "retry": {"max_attempts": 8, "initial_delay_s": 1.0, "max_delay_s": 900.0, "multiplier": 2.0, "jitter": 0.2},
    "has_bearer_token": False,
    "secret_hint": "whsec_Zm9v",
    "created_at": "2026-01-31T12:00:00Z",
    "updated_at": "2026-01-31T12:00:00Z",
}
_DELIVERY = {
    "webhook_id": "wh_0d2jq3m5k8t9v",
    "event_id": "evt_0d2jq3m5k8t9v",
    "event_type": "memory.created",
    "state": "delivered",
    "attempts": 1,
    "next_attempt_at": None,
    "updated_at": "2026-01-31T12:00:01Z",
    "last_status": 200,
    "last_error": None,
}

EXAMPLES: dict[str, Any] = {
    "Memory": _MEMORY,
    "Page[Memory]": {"items": [_MEMORY], "next_cursor": "eyJpZCI6IjBkMmpxM201azh0OXYifQ"},
    "list[MemoryVersion]": [
        {
            "memory_id": "0d2jq3m5k8t9v",
            "version": 1,
            "text": "Alice prefers window seats on long flights",
            "tags": ["travel"],
            "metadata": {},
            "changed_at": "2026-01-31T12:00:00Z",
        }
    ],
    "SearchResult": {
        "hits": [_HIT],
        "total": 12,
        "query": "seat preference",
        "query_time_ms": 2.4,
        "filter": None,
        "sort_by": "relevance",
    },
    "BatchResult": {
        "succeeded": 1,
        "failed": 1,
        "items": [
            {"index": 0, "id": "0d2jq3m5k8t9v", "error": None},
            {
                "index": 1,
                "id": None,
                "error": {
                    "code": "validation_error",
                    "message": "text must not be empty",
                    "details": {"field": "text"},
                },
            },
        ],
    },
    "StoreStats": {
        "path": "/srv/memorylink/store",
        "memories": 1200,
        "users": 3,
        "history_versions": 40,
        "embedder": "all-MiniLM-L6-v2",
        "dimension": 384,
        "index_entries": 1200,
        "journal_entries": 12,
        "disk_bytes": 4_194_304,
        "key_id": "k_6f1c2e7a",
        "schema_version": 4,
        "outbox_backlog": 0,
    },
    "WebhookEndpoint": _ENDPOINT,
    "list[WebhookEndpoint]": [_ENDPOINT],
    "NewWebhook": {**_ENDPOINT, "secret": "whsec_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA=="},
    "Delivery": _DELIVERY,
    "list[Delivery]": [_DELIVERY],
    "SendResult": {"outcome": "delivered", "status": 200, "error": None, "retry_after_s": None, "duration_ms": 41.7},
}


def example_response(name: str, description: str | None = None) -> dict[str, Any]:
    """A ``responses=`` entry whose JSON example is ``EXAMPLES[name]``."""
    entry: dict[str, Any] = {"content": {"application/json": {"example": EXAMPLES[name]}}}
    if description is not None:
        entry["description"] = description
    return entry
