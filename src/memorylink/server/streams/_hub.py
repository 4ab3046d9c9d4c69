"""Per-app bookkeeping of the open event streams: the WebSocket count, the message limiter, shutdown."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from memorylink.server.streams._tail import OutboxWatch, Tail
from memorylink.server.streams.settings import StreamSettings

if TYPE_CHECKING:
    from memorylink import MemoryStore

__all__ = ["StreamHub", "close_streams", "hub_of"]

logger = logging.getLogger(__name__)


class StreamHub:
    """Counts WebSocket connections against the cap, limits messages, and ends every stream on shutdown.

    Lives in ``app.state.event_streams``; touched only from the server's event loop.
    """

    def __init__(self, store: MemoryStore, settings: StreamSettings) -> None:
        self.settings = settings
        self.watch = OutboxWatch(store, settings.poll_interval_s)
        self.closing = False
        self.sockets = 0
        self._tails: set[Tail] = set()
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

    def track(self, tail: Tail) -> None:
        """Close ``tail`` when the hub closes (it is closed at once if the hub already is)."""
        self._tails.add(tail)
        if self.closing:
            tail.close()

    def untrack(self, tail: Tail) -> None:
        self._tails.discard(tail)

    @property
    def open_feeds(self) -> int:
        """Streams reading the outbox now (SSE streams, and WebSocket connections that subscribed)."""
        return len(self._tails)

    def close(self) -> None:
        """End every stream: SSE responses finish, WebSocket feeds stop; new connections are refused."""
        self.closing = True
        if self._tails:
            logger.info("closing %d event streams for shutdown", len(self._tails))
        for tail in list(self._tails):
            tail.close()


def hub_of(app: Any) -> StreamHub:
    """The app's hub (created on first use, over ``app.state.store`` with ``app.state.settings.streams``)."""
    hub: StreamHub | None = getattr(app.state, "event_streams", None)
    if hub is None:
        hub = StreamHub(app.state.store, app.state.settings.streams)
        app.state.event_streams = hub
    return hub


def close_streams(app: Any) -> None:
    """End the open event streams of ``app`` so a server can shut down without waiting for them.

    An open SSE response otherwise holds uvicorn's graceful shutdown until the client leaves;
    :class:`~memorylink.server.streams.StreamingServer` calls this when shutdown begins. An
    app that is not a memorylink server (no ``state.store``) is left alone.
    """
    state = getattr(app, "state", None)
    if getattr(state, "event_streams", None) is not None or hasattr(state, "store"):
        hub_of(app).close()
