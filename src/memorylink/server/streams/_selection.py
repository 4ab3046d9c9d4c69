"""Which events a stream (or one WebSocket subscription) delivers: types, scope, and the caller's rights."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from memorylink.errors import ValidationError
from memorylink.events import Event, EventFilter
from memorylink.server.errors import ApiError
from memorylink.server.principal import Principal, resolve_user

__all__ = ["Selection", "select"]


@dataclass(frozen=True, slots=True)
class Selection:
    """Event types plus an exact scope; ``None`` in a scope field matches any value."""

    types: EventFilter
    user_id: str | None
    agent_id: str | None
    run_id: str | None

    def matches(self, event: Event) -> bool:
        """Whether ``event`` passes (an event without a user never passes a user-scoped selection)."""
        return (
            self.types.matches(event.type)
            and (self.user_id is None or event.user_id == self.user_id)
            and (self.agent_id is None or event.agent_id == self.agent_id)
            and (self.run_id is None or event.run_id == self.run_id)
        )

    def describe(self) -> dict[str, Any]:
        """JSON-able: what the selection ended up as (after the caller's own user was filled in)."""
        return {
            "types": self.types.to_list(),
            "filter": {"user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id},
        }


def select(
    principal: Principal,
    types: Iterable[str] | None,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
) -> Selection:
    """The selection a caller may have: non-admins always get their own ``user_id``.

    Raises:
        ApiError: 403 ``forbidden`` for a non-admin naming another user, 422
            ``validation_error`` for a bad type pattern or scope value.
    """
    for name, value in (("user_id", user_id), ("agent_id", agent_id), ("run_id", run_id)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 128):
            raise ApiError(422, "validation_error", f"{name} must be 1 to 128 characters", {"field": name})
    if types is not None and not isinstance(types, str):
        # Query strings arrive as ["memory.*,batch.completed"] as often as as separate values.
        types = [part.strip() for item in types for part in str(item).split(",") if part.strip()] or None
    try:
        parsed = EventFilter.parse(types)
    except ValidationError as error:
        message = str(error).removeprefix("events: ").replace("events must be", "types must be")
        raise ApiError(422, "validation_error", f"types: {message}", {"field": "types"}) from None
    return Selection(parsed, resolve_user(principal, user_id), agent_id, run_id)
