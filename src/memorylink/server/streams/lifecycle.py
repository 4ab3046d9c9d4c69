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

__all__ = ["StreamingServer"]


class StreamingServer(uvicorn.Server):
    """``uvicorn.Server`` for an app built by ``create_app``: streams end when shutdown begins."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        close_streams(self.config.app)
        await super().shutdown(sockets)
