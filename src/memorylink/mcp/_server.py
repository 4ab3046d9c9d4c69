"""``create_server``: an MCP server over an open MemoryStore (no module-level server)."""

from __future__ import annotations

from mcp.server import MCPServer

from memorylink import __version__
from memorylink.mcp._context import register_context
from memorylink.mcp._scope import ServerScope
from memorylink.mcp._tools import register_tools
from memorylink.models import check_scope_id
from memorylink.store import MemoryStore

__all__ = ["create_server"]

_INSTRUCTIONS = """\
This server is a long-term memory. Store facts, preferences and decisions worth keeping \
with add_memory (or add_memories for several); find them again by meaning with \
search_memories, and browse with list_memories. Memories have ids: fix one with \
update_memory, remove one with delete_memory. The recall prompt turns a search into \
context. Scope: {scope}."""


def create_server(
    store: MemoryStore,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    admin: bool = False,
    name: str = "memorylink",
) -> MCPServer:
    """An MCP server exposing ``store``'s memories as tools, resources and prompts.

    The store stays the caller's: the server neither opens nor closes it.

    Args:
        store: An open store.
        user_id: The user every call acts for. Without it a non-admin server acts for the
            store's ``settings.default_user_id``.
        agent_id: Pin every call to this agent (reads and writes).
        admin: Accept a ``user_id`` tool argument for any user; without ``user_id`` an
            admin server reads across all users.
        name: The server name shown to clients.

    Raises:
        ValidationError: A bad ``user_id`` or ``agent_id``.
    """
    limits = store.settings.limits
    scope = ServerScope(
        user_id=check_scope_id("user_id", user_id, limits),
        agent_id=check_scope_id("agent_id", agent_id, limits),
        admin=admin,
        default_user_id=store.settings.default_user_id,
        limits=limits,
    )
    server: MCPServer = MCPServer(
        name,
        title="memorylink",
        description="Encrypted, local-first long-term memory: store short texts and find them again by meaning.",
        instructions=_INSTRUCTIONS.format(scope=scope.describe()),
        version=__version__,
    )
    register_tools(server, store, scope)
    register_context(server, store, scope)
    return server
