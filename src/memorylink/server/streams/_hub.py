"""Per-app bookkeeping of the open event streams: the WebSocket count, the message limiter, shutdown."""

from __future__ import annotations

import logging
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from memorylink.events import EventFeed
from memorylink.server.streams.settings import StreamSettings

__all__ = ["StreamHub", "close_streams", "hub_of"]

logger = logging.getLogger(__name__)


class StreamHub:
    """Counts WebSocket connections against the cap, limits messages, and ends every stream on shutdown.

    Lives in ``app.state.event_streams``; touched only from the server's event loop.
    """

    def __init__(self, settings: StreamSettings) -> None:
        self.settings = settings
        self.closing = False
        self.sockets = 0
        self._feeds: set[EventFeed] = set()
        self.message_rate: RateLimitItem = parse(settings.ws_message_rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def try_open_socket(self) -> bool:
        """Count one more WebSocket, unless the cap is reached or the server is shutting down."""
        if self.closing or self.sockets >= self.settings.ws_max_connections:
            return False
        self.sockets += 1
        return True

    def socket_closed(self) -> None:
        self.sockets -= 1

    def track(self, feed: EventFeed) -> None:
        """Close ``feed`` when the hub closes (it is closed at once if the hub already is)."""
        self._feeds.add(feed)
        if self.closing:
            feed.close()

    def untrack(self, feed: EventFeed) -> None:
        self._feeds.discard(feed)

    @property
    def open_feeds(self) -> int:
        """Feeds of streams being served now (SSE streams and WebSocket connections that subscribed)."""
        return len(self._feeds)

    def close(self) -> None:
        """End every stream: SSE responses finish, WebSocket feeds stop; new connections are refused."""
        self.closing = True
        for feed in list(self._feeds):
            feed.close()
        if self._feeds:
            logger.info("closing %d event streams for shutdown", len(self._feeds))


def hub_of(app: Any) -> StreamHub:
    """The app's hub (created on first use, from ``app.state.settings.streams``)."""
    hub: StreamHub | None = getattr(app.state, "event_streams", None)
    if hub is None:
        hub = StreamHub(app.state.settings.streams)
        app.state.event_streams = hub
    return hub


def close_streams(app: Any) -> None:
    """End the open event streams of ``app`` so a server can shut down without waiting for them.

    An open SSE response otherwise holds uvicorn's graceful shutdown until the client leaves;
    :class:`~memorylink.server.streams.StreamingServer` calls this when shutdown begins.
    """
    hub_of(app).close()
