"""MCP resources (memories as JSON) and prompts (memories formatted as context for an agent)."""

# No `from __future__ import annotations`: the SDK reads the tool signatures at run time, and
# some annotations use values local to the registering function (the configured limits).

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from memorylink.errors import NotFoundError
from memorylink.mcp._errors import prompt_errors, resource_errors
from memorylink.mcp._scope import ServerScope
from memorylink.models import Memory, SearchHit
from memorylink.store import MemoryStore

__all__ = ["RECENT_LIMIT", "RECENT_URI", "register_context", "MEMORY_URI_TEMPLATE"]

RECENT_URI = "memorylink://memories/recent"
MEMORY_URI_TEMPLATE = "memorylink://memories/{id}"
RECENT_LIMIT = 20
"""How many memories ``memorylink://memories/recent`` and the ``recent`` prompt show at most."""


def register_context(server: MCPServer, store: MemoryStore, scope: ServerScope) -> None:
    """Add the resources and prompts to ``server``; every read is confined to ``scope``."""
    where = scope.describe()

    @server.resource(
        RECENT_URI,
        name="recent_memories",
        title="Recent memories",
        description=f"The {RECENT_LIMIT} most recently created memories (scope: {where}), as a JSON page "
        "{items: [memory, ...], next_cursor}.",
        mime_type="application/json",
    )
    def recent_memories() -> str:
        with resource_errors(RECENT_URI):
            page = store.list(order="created_desc", limit=RECENT_LIMIT, **scope.read())
        return page.model_dump_json(indent=2)

    @server.resource(
        MEMORY_URI_TEMPLATE,
        name="memory",
        title="One memory",
        description=f"One memory by id, as JSON (scope: {where}).",
        mime_type="application/json",
    )
    def memory(id: str) -> str:
        uri = MEMORY_URI_TEMPLATE.format(id=id)
        with resource_errors(uri):
            found = store.get(id, **scope.read())
            if found is None:
                raise NotFoundError(id)
        return found.model_dump_json(indent=2)

    @server.prompt(
        name="recall",
        title="Recall what is known about a topic",
        description=f"Search the stored memories (scope: {where}) for a topic and hand the hits to the model "
        "as context, most relevant first.",
    )
    def recall(
        topic: Annotated[str, Field(description="What to recall, in natural language.")],
        top_k: Annotated[int, Field(description="How many memories at most (default 5).")] = 5,
    ) -> str:
        with prompt_errors("recall"):
            result = store.search(topic, top_k=top_k, **scope.read())
        if not result.hits:
            return (
                f"I have no stored memories about {topic!r}. If the user tells you something worth keeping "
                "about it, store it with the add_memory tool."
            )
        lines = [_hit_line(number, hit) for number, hit in enumerate(result.hits, start=1)]
        return (
            f"Here is what I remember about {topic!r} (most relevant first; similarity in brackets):\n\n"
            + "\n".join(lines)
            + "\n\nUse these memories as context. They may be incomplete or out of date; prefer what the user "
            "says now, and update or delete a memory (update_memory / delete_memory, by id) when it is wrong."
        )

    @server.prompt(
        name="recent",
        title="What happened recently",
        description=f"The most recently created memories (scope: {where}) as context, newest first.",
    )
    def recent(
        limit: Annotated[
            int, Field(description=f"How many memories at most (default 10, at most {RECENT_LIMIT}).")
        ] = 10,
    ) -> str:
        with prompt_errors("recent"):
            page = store.list(order="created_desc", limit=min(limit, RECENT_LIMIT), **scope.read())
        if not page.items:
            return "There are no stored memories yet."
        lines = [f"{number}. {_memory_line(memory)}" for number, memory in enumerate(page.items, start=1)]
        return "My most recent memories, newest first:\n\n" + "\n".join(lines)


def _memory_line(memory: Memory) -> str:
    tags = f" (tags: {', '.join(memory.tags)})" if memory.tags else ""
    return f"[{memory.created_at:%Y-%m-%d}] {memory.text}{tags} (id {memory.id})"


def _hit_line(number: int, hit: SearchHit) -> str:
    return f"{number}. {_memory_line(hit.memory)} [{hit.similarity:.2f}]"
