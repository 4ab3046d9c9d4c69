"""``run_server``: serve an MCP server over stdio or streamable HTTP (with an optional bearer token)."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from typing import Literal

from mcp.server import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

from memorylink.errors import ValidationError

__all__ = ["BearerTokenMiddleware", "is_loopback", "run_server"]

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
"""Where the streamable-HTTP endpoint is served."""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


class BearerTokenMiddleware:
    """An ASGI middleware: HTTP requests without ``Authorization: Bearer <token>`` get 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            # Compared in constant time, so the token cannot be guessed byte by byte.
            if not hmac.compare_digest(given, self._expected):
                body = json.dumps(
                    {"error": "unauthorized", "message": "send the server's token as 'Authorization: Bearer <token>'"}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="memorylink"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, *, host: str = "127.0.0.1", bearer_token: str | None = None) -> ASGIApp:
    """The streamable-HTTP ASGI app (endpoint ``/mcp``), behind the bearer-token check if a token is set.

    Raises:
        ValidationError: ``host`` is not a loopback address and no token is set, or the token is empty.
    """
    if bearer_token is not None and not bearer_token.strip():
        raise ValidationError("bearer_token must not be empty", field="bearer_token")
    if bearer_token is None and not is_loopback(host):
        raise ValidationError(
            f"serving MCP over HTTP on {host!r}, which is reachable from other machines, needs a bearer token "
            "(bearer_token=..., CLI --token); without one, bind a loopback address such as 127.0.0.1",
            field="bearer_token",
        )
    app: ASGIApp = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    if bearer_token is not None:
        app = BearerTokenMiddleware(app, bearer_token)
    return app


def run_server(
    server: MCPServer,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    bearer_token: str | None = None,
) -> None:
    """Serve ``server`` until the client disconnects (stdio) or the process is interrupted (HTTP).

    Args:
        server: From :func:`~memorylink.mcp.create_server`.
        transport: ``"stdio"`` (stdin/stdout, what desktop clients launch) or ``"http"``
            (streamable HTTP at ``http://host:port/mcp``).
        host: HTTP only: the address to bind.
        port: HTTP only: the port to bind.
        bearer_token: HTTP only: require ``Authorization: Bearer <token>`` on every request.
            Required when ``host`` is not a loopback address.

    Raises:
        ValidationError: An unknown transport, or HTTP on a non-loopback host without a token.
    """
    if transport == "stdio":
        server.run("stdio")
        return
    if transport != "http":
        raise ValidationError(f"transport must be 'stdio' or 'http', not {transport!r}", field="transport")
    app = http_app(server, host=host, bearer_token=bearer_token)
    import uvicorn

    logger.info("serving MCP over streamable HTTP at http://%s:%s%s", host, port, MCP_PATH)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info")).run()
