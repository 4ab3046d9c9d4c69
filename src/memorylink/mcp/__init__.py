"""memorylink as an MCP server (``pip install "memorylink[mcp]"``).

Build a server over an open store and run it::

    from memorylink.mcp import create_server, run_server

    server = create_server(store, user_id="alice")
    run_server(server)                                   # stdio, for Claude Desktop, Cursor, VS Code
    run_server(server, transport="http", port=8765)      # streamable HTTP on 127.0.0.1

Tools, resources, prompts and scoping are described in ``docs/mcp.md``. This package is
not imported by ``import memorylink``; importing it without the SDK raises
:class:`~memorylink.errors.MissingDependencyError`.
"""

from __future__ import annotations

from memorylink.errors import MissingDependencyError

try:
    from mcp.server import MCPServer  # noqa: F401  (mcp 2.x names its server class MCPServer)
except ImportError as exc:  # the SDK is missing, or it is 1.x (no MCPServer)
    raise MissingDependencyError("mcp (2.x)", "mcp") from exc

from memorylink.mcp._models import DeleteResult
from memorylink.mcp._server import create_server
from memorylink.mcp._transport import run_server

__all__ = ["DeleteResult", "create_server", "run_server"]
