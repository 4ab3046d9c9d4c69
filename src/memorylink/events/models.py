"""The event shape emitted for every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EVENT_TYPES", "Event"]

EVENT_TYPES = (
    "memory.created",
    "memory.updated",
    "memory.deleted",
    "memory.searched",
    "batch.completed",
    "memory.error",
)


class Event(BaseModel):
    """One thing that happened. ``id`` is unique and sorts by time; use it as an idempotency key."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    timestamp: datetime
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    request_id: str | None = None
    source: str
