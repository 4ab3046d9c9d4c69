"""The MCP tools: thin, typed wrappers over MemoryStore calls (the store validates everything).

Tool functions are synchronous: the SDK runs each call on a worker thread, and the store is
safe to share between threads.
"""

# No `from __future__ import annotations`: the SDK reads the tool signatures at run time, and
# some annotations use values local to the registering function (the configured limits).

from collections.abc import Mapping
from typing import Annotated, Any, cast

from mcp.server import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field, WithJsonSchema

from memorylink.errors import MemoryLinkError, NotFoundError
from memorylink.mcp._errors import tool_errors
from memorylink.mcp._models import DeleteResult
from memorylink.mcp._scope import ServerScope
from memorylink.models import (
    BatchItemResult,
    BatchResult,
    ErrorInfo,
    ListOrder,
    Memory,
    NewMemory,
    Page,
    SearchMode,
    SearchResult,
    SortBy,
    check_batch_size,
)
from memorylink.store import MemoryStore

__all__ = ["register_tools"]

# -- argument types (the descriptions are what an agent reads) -----------------------------

MemoryId = Annotated[str, Field(description="A memory id (13 characters, as returned by add_memory or a search).")]
Text = Annotated[str, Field(description="The memory text: one self-contained fact, preference or note.")]
Tags = Annotated[
    list[str] | None, Field(description="Short labels for grouping and filtering, e.g. ['project-x', 'preference'].")
]
Metadata = Annotated[
    dict[str, Any] | None,
    Field(description="A JSON object of extra facts (keys without '.'), filterable as metadata.<key>."),
]
FilterArg = Annotated[
    dict[str, Any] | None,
    Field(
        description=(
            "A memorylink filter (JSON object). Fields: tags ({any|all|none: [...]}), created_at / updated_at "
            "({gte|gt|lte|lt: ISO date}), metadata.<key>, agent_id, run_id (a bare value means eq; operators "
            "eq ne in nin gt gte lt lte contains exists); combinators and / or / not; sibling keys are AND-ed. "
            'Example: {"tags": {"any": ["meeting"]}, "metadata.priority": {"in": ["high", "urgent"]}}.'
        )
    ),
]
TagsFilter = Annotated[list[str] | None, Field(description="Shortcut: keep memories that have any of these tags.")]
DateRange = Annotated[
    tuple[str | None, str | None] | None,
    Field(description="Shortcut: [start, end] ISO dates or datetimes; created_at >= start and < end; null = open."),
]
UserId = Annotated[
    str | None,
    Field(description="Act for this user. Only an admin server accepts a user other than its own."),
]
AgentId = Annotated[
    str | None,
    Field(description="Restrict to (or, when adding, record) this agent. Fixed if the server has an agent_id."),
]
RunId = Annotated[str | None, Field(description="Restrict to (or, when adding, record) this run / session id.")]
Dedupe = Annotated[
    bool,
    Field(description="Return a memory of the same scope with the same or a near-identical text; store nothing."),
]

# The items of add_memories are validated one by one by the store, so a bad item fails
# alone; the advertised schema is still the NewMemory shape (or a bare string).
_ITEM_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "description": "Just the text."},
        NewMemory.model_json_schema(),
    ]
}
Items = Annotated[
    list[Any],
    Field(description="The memories to store: each a string, or an object {text, tags?, metadata?, agent_id?, ...}."),
    WithJsonSchema({"type": "array", "items": _ITEM_SCHEMA}),
]


def register_tools(server: MCPServer, store: MemoryStore, scope: ServerScope) -> None:
    """Add the memory tools to ``server``; every call is confined to ``scope``."""
    limits = store.settings.limits
    where = scope.describe()
    default_page = min(20, limits.max_page_size)

    def add_memory(
        text: Text,
        tags: Tags = None,
        metadata: Metadata = None,
        agent_id: AgentId = None,
        run_id: RunId = None,
        user_id: UserId = None,
        dedupe: Dedupe = False,
    ) -> Memory:
        with tool_errors("add_memory"):
            return store.add(
                text, tags=tags or (), metadata=metadata, dedupe=dedupe, **scope.write(user_id, agent_id, run_id)
            )

    def add_memories(
        items: Items,
        agent_id: Annotated[str | None, Field(description="Default agent_id for items that give none.")] = None,
        run_id: Annotated[str | None, Field(description="Default run_id for items that give none.")] = None,
        user_id: Annotated[str | None, Field(description="Default user_id for items (admin servers only).")] = None,
        dedupe: Dedupe = False,
    ) -> BatchResult:
        with tool_errors("add_memories"):
            check_batch_size(len(items), limits)
            # Items outside the server's scope fail here, alone; the rest go to add_many in one
            # batch, and its per-item results are mapped back to the caller's positions.
            defaults = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
            results: list[BatchItemResult] = []
            forwarded: list[tuple[int, object]] = []
            for position, raw in enumerate(items):
                try:
                    forwarded.append((position, scope.item(raw, defaults)))
                except MemoryLinkError as error:  # a scope violation fails this item alone
                    results.append(BatchItemResult(index=position, error=ErrorInfo(**error.to_dict())))
            if forwarded:
                stored = store.add_many(
                    cast(list[NewMemory | Mapping[str, Any] | str], [i for _, i in forwarded]), dedupe=dedupe
                )
                for outcome in stored.items:
                    results.append(outcome.model_copy(update={"index": forwarded[outcome.index][0]}))
            results.sort(key=lambda result: result.index)
            failed = sum(1 for result in results if result.error is not None)
            return BatchResult(succeeded=len(results) - failed, failed=failed, items=results)

    def search_memories(
        query: Annotated[
            str, Field(description="What to look for, in natural language; matched by words and by meaning.")
        ],
        top_k: Annotated[int, Field(description=f"How many hits at most (1 to {limits.max_top_k}).")] = 10,
        threshold: Annotated[
            float | None, Field(description="Drop hits whose similarity (0 to 1) is below this, e.g. 0.3.")
        ] = None,
        filter: FilterArg = None,
        tags: TagsFilter = None,
        date_range: DateRange = None,
        sort_by: Annotated[
            SortBy,
            Field(
                description="relevance: similarity blended with recency; similarity: by similarity only; "
                "date: newest first among the most similar."
            ),
        ] = "relevance",
        mode: Annotated[
            SearchMode,
            Field(
                description="hybrid: words and meaning together (best in general); vector: meaning only; "
                "keyword: exact words only (names, numbers, codes)."
            ),
        ] = "hybrid",
        mmr: Annotated[bool, Field(description="Diversify the hits so near-duplicates do not fill the top.")] = False,
        agent_id: AgentId = None,
        run_id: RunId = None,
        user_id: UserId = None,
    ) -> SearchResult:
        with tool_errors("search_memories"):
            return store.search(
                query,
                top_k=top_k,
                threshold=threshold,
                filter=filter,
                tags=tags,
                date_range=date_range,
                sort_by=sort_by,
                mode=mode,
                mmr=mmr,
                **scope.read(user_id, agent_id, run_id),
            )

    def get_memory(id: MemoryId, user_id: UserId = None) -> Memory:
        with tool_errors("get_memory"):
            memory = store.get(id, **scope.read(user_id))
            if memory is None:
                raise NotFoundError(id)
            return memory

    def update_memory(
        id: MemoryId,
        text: Annotated[str | None, Field(description="The new text (re-embedded); omit to keep it.")] = None,
        tags: Annotated[list[str] | None, Field(description="The new tags, replacing all; omit to keep.")] = None,
        metadata: Annotated[
            dict[str, Any] | None, Field(description="The new metadata, replacing all; omit to keep.")
        ] = None,
        user_id: UserId = None,
    ) -> Memory:
        with tool_errors("update_memory"):
            return store.update(id, text=text, tags=tags, metadata=metadata, **scope.read(user_id))

    def delete_memory(id: MemoryId, user_id: UserId = None) -> DeleteResult:
        with tool_errors("delete_memory"):
            if not store.delete(id, **scope.read(user_id)):
                raise NotFoundError(id)
            return DeleteResult(id=id)

    def list_memories(
        filter: FilterArg = None,
        order: Annotated[ListOrder, Field(description="Sort order of the page.")] = "created_desc",
        limit: Annotated[int, Field(description=f"Page size (1 to {limits.max_page_size}).")] = default_page,
        cursor: Annotated[
            str | None, Field(description="next_cursor from the previous page, with the same filter and order.")
        ] = None,
        tags: TagsFilter = None,
        agent_id: AgentId = None,
        run_id: RunId = None,
        user_id: UserId = None,
    ) -> Page[Memory]:
        with tool_errors("list_memories"):
            return store.list(
                filter=filter,
                tags=tags,
                order=order,
                limit=limit,
                cursor=cursor,
                **scope.read(user_id, agent_id, run_id),
            )

    def tool(fn: Any, description: str, *, read_only: bool, destructive: bool = False, idempotent: bool) -> None:
        server.add_tool(
            fn,
            description=f"{description} Scope: {where}.",
            annotations=ToolAnnotations(
                read_only_hint=read_only,
                destructive_hint=destructive,
                idempotent_hint=idempotent,
                open_world_hint=False,
            ),
            structured_output=True,
        )

    tool(
        add_memory,
        "Store one memory (a short text with optional tags and metadata) so it can be found later by meaning. "
        "Returns the stored memory with its id.",
        read_only=False,
        idempotent=False,
    )
    tool(
        add_memories,
        "Store many memories in one call (one embedding pass). A bad item fails alone: the result lists each "
        "item's index with its new id or its error, and the others are stored.",
        read_only=False,
        idempotent=False,
    )
    tool(
        search_memories,
        "Find stored memories by meaning (semantic search), optionally filtered by tags, dates or metadata. "
        "Returns hits best first, each with its similarity (0 to 1) and score.",
        read_only=True,
        idempotent=True,
    )
    tool(get_memory, "Get one memory by id.", read_only=True, idempotent=True)
    tool(
        update_memory,
        "Change a memory's text, tags and/or metadata (each given field is replaced whole; the old version is "
        "kept in its history). Returns the updated memory.",
        read_only=False,
        idempotent=True,
    )
    tool(
        delete_memory, "Delete a memory and its history, for good.", read_only=False, destructive=True, idempotent=True
    )
    tool(
        list_memories,
        "List memories page by page (newest first by default), optionally filtered; no query needed. "
        "Pass next_cursor back as cursor for the next page.",
        read_only=True,
        idempotent=True,
    )
