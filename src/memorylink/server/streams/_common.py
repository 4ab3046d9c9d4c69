"""What the SSE and WebSocket endpoints share: the store, the settings, and the outbox requirement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memorylink.errors import MemoryLinkError
from memorylink.server.errors import ApiError, error_body, status_for
from memorylink.server.streams.settings import StreamSettings

if TYPE_CHECKING:
    from memorylink import MemoryStore

__all__ = ["MAX_EVENT_ID", "require_outbox", "store_and_settings", "stream_error_body"]

MAX_EVENT_ID = 128


def store_and_settings(app: Any) -> tuple[MemoryStore, StreamSettings]:
    """The app's store and stream settings (``app.state.store``, ``app.state.settings.streams``)."""
    store: MemoryStore = app.state.store
    settings: StreamSettings = app.state.settings.streams
    return store, settings


def require_outbox(store: MemoryStore) -> None:
    """Refuse streams unless the store records every event (only then can a stream resume without gaps).

    Raises:
        ApiError: 503 ``events_unavailable`` naming the setting.
    """
    mode = store.settings.events.outbox
    if mode != "always":
        raise ApiError(
            503,
            "events_unavailable",
            "this server does not record every event: open the store with "
            "Settings(events=EventSettings(outbox='always')) to serve event streams",
            {"setting": "events.outbox", "required": "always", "actual": mode},
        )


def stream_error_body(error: MemoryLinkError, request_id: str) -> dict[str, dict[str, Any]]:
    """The error body for a library error met while streaming (store faults keep their details private)."""
    if status_for(error) == 500:
        return error_body(error.code, "the server could not continue the stream", {}, request_id)
    return error_body(error.code, str(error), error.details, request_id)
