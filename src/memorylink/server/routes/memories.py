"""``/api/v1/memories``: every MemoryStore read and write, scoped to the caller.

Routes are plain ``def`` functions: FastAPI runs them in its thread pool, so the store's
blocking calls never stall the event loop. Scope rule (see ``resolve_user``): non-admins act
on their own user only and get 404 for other users' memory ids; admins act on the user they
name, or on every user. A write that names no user stores for the caller's own user (a
``--no-auth`` caller's is ``no_auth_user_id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from memorylink.errors import NotFoundError
from memorylink.models import BatchResult, ErrorInfo, ListOrder, Memory, MemoryVersion, Page, SearchResult
from memorylink.server._constraints import MEMORY_ID, PAGE_SIZE, SCOPE_ID, THRESHOLD, TOP_K
from memorylink.server._openapi import error_responses
from memorylink.server.principal import BatchWriter, Principal, Reader, Searcher, Writer, resolve_user
from memorylink.server.routes._common import json_response, parse_json_object, scoped_arguments, store_of
from memorylink.server.routes._examples import example_response
from memorylink.server.schemas import (
    AddMessagesRequest,
    BatchAddRequest,
    CreateMemoryRequest,
    DeleteManyRequest,
    DeleteManyResult,
    SearchRequest,
    Tag,
    UpdateMemoryRequest,
    VectorSearchRequest,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/memories", tags=["memories"])

MemoryId = Annotated[str, Path(description="the memory's id", examples=["0d2jq3m5k8t9v"], json_schema_extra=MEMORY_ID)]
UserId = Annotated[
    str | None, Query(description="only this user's memories (non-admins: their own only)", json_schema_extra=SCOPE_ID)
]
AgentId = Annotated[str | None, Query(description="only this agent's memories", json_schema_extra=SCOPE_ID)]
RunId = Annotated[str | None, Query(description="only this run's memories", json_schema_extra=SCOPE_ID)]
TopK = Annotated[int, Query(description="hits to return (1 to max_top_k)", json_schema_extra=TOP_K)]
Threshold = Annotated[
    float | None, Query(description="drop hits below this similarity (0 to 1)", json_schema_extra=THRESHOLD)
]

_READ = (401, 403, 422, 429, 503)
_WRITE = (401, 403, 413, 422, 429, 503)


@dataclass(frozen=True)
class ScopeQuery:
    """The ``user_id`` / ``agent_id`` / ``run_id`` query parameters of a route."""

    user_id: str | None
    agent_id: str | None
    run_id: str | None


def _scope_query(user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None) -> ScopeQuery:
    return ScopeQuery(user_id, agent_id, run_id)


InScope = Annotated[ScopeQuery, Depends(_scope_query)]


def _scope(principal: Principal, user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, Any]:
    return {"user_id": resolve_user(principal, user_id), "agent_id": agent_id, "run_id": run_id}


def _in(principal: Principal, scope: ScopeQuery) -> dict[str, Any]:
    return _scope(principal, scope.user_id, scope.agent_id, scope.run_id)


_FORBIDDEN_ITEM = ErrorInfo(
    code="forbidden", message="this credential may only act on its own user's memories", details={"field": "user_id"}
)


def _owned_item(principal: Principal, item: Any) -> Any:
    """A batch item as the caller may store it: with the user it names (if allowed), else the caller's.

    None for an item naming another user, which a non-admin may not write for.
    """
    if isinstance(item, str):
        return {"text": item, "user_id": principal.user_id}
    if isinstance(item, Mapping):
        named = item.get("user_id")
        if not principal.is_admin and named not in (None, "", principal.user_id):
            return None
        # An empty user_id is "not given", as the store reads it: the caller's own.
        return {**item, "user_id": resolve_user(principal, named or None) or principal.user_id}
    return item  # not an item at all: the store fails it alone, with its index


@router.post(
    "",
    status_code=201,
    response_model=Memory,
    summary="Add a memory",
    description="Store one memory (embedded and encrypted at rest) and return it. Without a user_id it is "
    "stored for the caller's own user; non-admins naming another user_id get a 403.",
    responses={201: example_response("Memory", "The stored memory"), **error_responses(*_WRITE)},
)
def create_memory(request: Request, body: CreateMemoryRequest, principal: Writer) -> Response:
    memory = store_of(request).add(body.text, **scoped_arguments(body, principal, exclude="text", write=True))
    return json_response(memory, 201)


@router.get(
    "",
    response_model=Page[Memory],
    summary="List memories",
    description="Memories in scope, newest first by default, one page at a time: pass `next_cursor` back as "
    "`cursor` for the next page. `filter` and `metadata` are JSON objects in the query string "
    '(`filter={"tags":{"any":["q4"]}}`); `tags` repeats; `date_from` / `date_to` bound created_at.',
    responses={200: example_response("Page[Memory]"), **error_responses(*_READ)},
)
def list_memories(
    request: Request,
    principal: Reader,
    user_id: UserId = None,
    agent_id: AgentId = None,
    run_id: RunId = None,
    filter: Annotated[str | None, Query(description="a filter-language object, as JSON")] = None,
    tags: Annotated[list[Tag] | None, Query(description="memories with any of these tags (repeat the parameter)")] = (
        None
    ),
    date_from: Annotated[str | None, Query(description="created at or after (ISO 8601)")] = None,
    date_to: Annotated[str | None, Query(description="created before (ISO 8601)")] = None,
    metadata: Annotated[str | None, Query(description="metadata keys that must equal these, as a JSON object")] = None,
    order: Annotated[ListOrder, Query(description="sort order")] = "created_desc",
    limit: Annotated[int, Query(description="items per page (1 to max_page_size)", json_schema_extra=PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    page = store_of(request).list(
        **_scope(principal, user_id, agent_id, run_id),
        filter=parse_json_object(filter, "filter"),
        tags=tags,
        date_range=(date_from, date_to) if date_from is not None or date_to is not None else None,
        metadata=parse_json_object(metadata, "metadata"),
        order=order,
        limit=limit,
        cursor=cursor,
    )
    return json_response(page)


@router.post(
    "/search",
    response_model=SearchResult,
    summary="Search memories by meaning",
    description="The memories in scope that best match `query`: by keywords and meaning fused (`mode: "
    "hybrid`, the default), by meaning alone (`vector`) or by keywords alone (`keyword`); narrowed by the "
    "filter language and the `tags` / `date_range` / `metadata` shortcuts, sorted by relevance "
    "(similarity blended with recency), similarity or date; `mmr` spreads near-duplicates apart.",
    responses={200: example_response("SearchResult"), **error_responses(*_WRITE)},
)
def search_memories(request: Request, body: SearchRequest, principal: Searcher) -> Response:
    return json_response(store_of(request).search(body.query, **scoped_arguments(body, principal, exclude="query")))


@router.post(
    "/search/vector",
    response_model=SearchResult,
    summary="Search memories by an embedding",
    description="Like search, with a query vector of the store's dimension instead of text.",
    responses={200: example_response("SearchResult"), **error_responses(*_WRITE)},
)
def search_memories_by_vector(request: Request, body: VectorSearchRequest, principal: Searcher) -> Response:
    arguments = scoped_arguments(body, principal, exclude="vector")
    return json_response(store_of(request).search_by_vector(body.vector, **arguments))


@router.post(
    "/batch",
    response_model=BatchResult,
    summary="Add many memories",
    description="Store up to max_batch_size memories in one call (one embedding pass). A bad item fails "
    "alone: the result lists every item in order, with its id or its error. With `dedupe`, an item "
    "(nearly) identical to a stored memory in its scope is not stored again (`deduplicated: true`).",
    responses={200: example_response("BatchResult"), **error_responses(*_WRITE)},
)
def add_memories(request: Request, body: BatchAddRequest, principal: BatchWriter) -> Response:
    items = [_owned_item(principal, item) for item in body.items]
    # An item naming another user fails alone, like any bad item: the store gets a stand-in
    # it refuses (so every other item keeps its index), whose error is then the 403's.
    result = store_of(request).add_many(items, dedupe=body.dedupe)
    forbidden = {index for index, item in enumerate(items) if item is None}
    if forbidden:
        result = result.model_copy(
            update={
                "items": [
                    item.model_copy(update={"error": _FORBIDDEN_ITEM}) if item.index in forbidden else item
                    for item in result.items
                ]
            }
        )
    return json_response(result)


@router.post(
    "/delete",
    response_model=DeleteManyResult,
    summary="Delete many memories",
    description="Delete the given ids, or every memory in scope matching `filter`; answers how many were "
    "deleted. Ids out of scope are skipped. With neither ids, filter nor scope nothing is deleted "
    "(send `filter: {}` to delete everything in scope on purpose).",
    responses={200: {"content": {"application/json": {"example": {"deleted": 3}}}}, **error_responses(*_WRITE)},
)
def delete_memories(request: Request, body: DeleteManyRequest, principal: BatchWriter) -> DeleteManyResult:
    arguments = scoped_arguments(body, principal)
    if all(getattr(body, name) is None for name in ("ids", "filter", "user_id", "agent_id", "run_id")):
        # Nothing named: the store deletes nothing, as a local delete_many() does. The caller's
        # own user_id, filled in above, would otherwise be a scope and delete all its memories.
        arguments["user_id"] = None
    return DeleteManyResult(deleted=store_of(request).delete_many(**arguments))


@router.post(
    "/messages",
    response_model=BatchResult,
    summary="Add a conversation",
    description="Store chat messages as memories of one run, in turn order (metadata gets `role` and "
    "`turn`). `run_id` defaults to a new run, returned with every memory.",
    responses={200: example_response("BatchResult"), **error_responses(*_WRITE)},
)
def add_messages(request: Request, body: AddMessagesRequest, principal: BatchWriter) -> Response:
    return json_response(store_of(request).add_messages(**scoped_arguments(body, principal, write=True)))


@router.get(
    "/{memory_id}",
    response_model=Memory,
    summary="Get a memory",
    description="One memory by id. A memory outside the caller's scope is answered 404, like one that does not exist.",
    responses={200: example_response("Memory"), **error_responses(404, *_READ)},
)
def get_memory(
    request: Request,
    memory_id: MemoryId,
    principal: Reader,
    scope: InScope,
) -> Response:
    memory = store_of(request).get(memory_id, **_in(principal, scope))
    if memory is None:
        raise NotFoundError(memory_id)
    return json_response(memory)


@router.patch(
    "/{memory_id}",
    response_model=Memory,
    summary="Update a memory",
    description="Replace the memory's text, tags and/or metadata (each replaced whole; omitted ones kept). "
    "The old version goes to its history; only a new text is re-embedded.",
    responses={200: example_response("Memory"), **error_responses(404, *_WRITE)},
)
def update_memory(
    request: Request,
    memory_id: MemoryId,
    body: UpdateMemoryRequest,
    principal: Writer,
    scope: InScope,
) -> Response:
    memory = store_of(request).update(
        memory_id,
        text=body.text,
        tags=body.tags,
        metadata=body.metadata,
        **_in(principal, scope),
    )
    return json_response(memory)


@router.delete(
    "/{memory_id}",
    status_code=204,
    summary="Delete a memory",
    description="Delete the memory and its history. 404 if there is none in scope.",
    responses={204: {"description": "Deleted"}, **error_responses(404, *_READ)},
)
def delete_memory(
    request: Request,
    memory_id: MemoryId,
    principal: Writer,
    scope: InScope,
) -> Response:
    if not store_of(request).delete(memory_id, **_in(principal, scope)):
        raise NotFoundError(memory_id)
    return Response(status_code=204)


@router.get(
    "/{memory_id}/history",
    response_model=list[MemoryVersion],
    summary="A memory's versions",
    description="Every version of the memory, oldest first, the current one last.",
    responses={200: example_response("list[MemoryVersion]"), **error_responses(404, *_READ)},
)
def memory_history(
    request: Request,
    memory_id: MemoryId,
    principal: Reader,
    scope: InScope,
) -> Response:
    return json_response(store_of(request).history(memory_id, **_in(principal, scope)))


@router.get(
    "/{memory_id}/similar",
    response_model=SearchResult,
    summary="Memories similar to one",
    description="The memories in scope nearest in meaning to this one (itself excluded), by similarity.",
    responses={200: example_response("SearchResult"), **error_responses(404, *_READ)},
)
def similar_memories(
    request: Request,
    memory_id: MemoryId,
    principal: Reader,
    scope: InScope,
    top_k: TopK = 5,
    threshold: Threshold = None,
    filter: Annotated[str | None, Query(description="a filter-language object, as JSON")] = None,
) -> Response:
    result = store_of(request).similar(
        memory_id,
        top_k=top_k,
        threshold=threshold,
        filter=parse_json_object(filter, "filter"),
        **_in(principal, scope),
    )
    return json_response(result)
