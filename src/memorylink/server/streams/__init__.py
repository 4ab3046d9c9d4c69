"""Event streams over HTTP: ``GET /api/v1/events`` (Server-Sent Events) and ``/api/v1/ws`` (WebSocket).

``create_app`` includes :data:`router`. Both read the store's durable event feed, so a
client resumes after the last event id it saw, and both need a store opened with
``Settings(events=EventSettings(outbox="always"))`` (``memorylink serve`` opens it so);
otherwise they answer 503 ``events_unavailable``.
"""

from fastapi import APIRouter

from memorylink.server.streams._hub import StreamHub, close_streams, hub_of
from memorylink.server.streams.lifecycle import StreamingServer
from memorylink.server.streams.settings import StreamSettings
from memorylink.server.streams.sse import router as _sse_router
from memorylink.server.streams.ws import router as _ws_router

__all__ = ["StreamHub", "StreamSettings", "StreamingServer", "close_streams", "hub_of", "router"]

router = APIRouter()
"""The SSE and WebSocket routes."""
router.include_router(_sse_router)
router.include_router(_ws_router)
