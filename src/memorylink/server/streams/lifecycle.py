"""A uvicorn ``Server`` that ends the app's event streams as soon as it starts to shut down.

uvicorn's graceful shutdown waits for open responses to finish, and an SSE response never
finishes by itself. sse-starlette ends its streams on SIGINT / SIGTERM only where uvicorn
installed its signal handlers (the main thread); this covers every way a server stops,
``server.should_exit = True`` from another thread included.
"""

from __future__ import annotations

import socket

import uvicorn

from memorylink.server.streams._hub import close_streams
from memorylink.server.streams.settings import StreamSettings

__all__ = ["StreamingServer"]


class StreamingServer(uvicorn.Server):
    """``uvicorn.Server`` for an app built by ``create_app``: streams end when shutdown begins.

    It also lowers uvicorn's ``ws_max_size`` (16 MiB by default) to the app's
    ``ws_max_message_bytes``: uvicorn reads a whole WebSocket message into memory before the
    app sees it, so only the protocol layer can refuse an oversized one (close code 1009)
    without holding it.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        settings = getattr(getattr(getattr(config.app, "state", None), "settings", None), "streams", None)
        if isinstance(settings, StreamSettings) and config.ws_max_size > settings.ws_max_message_bytes:
            config.ws_max_size = settings.ws_max_message_bytes

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        close_streams(self.config.app)
        await super().shutdown(sockets)
