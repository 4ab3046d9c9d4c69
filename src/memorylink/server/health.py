"""``/health`` (liveness) and ``/health/ready`` (can the store serve requests?), both without credentials.

Readiness does not call ``store.check()``: that decrypts every record (seconds on a large
store). It asks ``stats()`` (storage answers; index entries equal stored memories), embeds
one short probe text (the embedder loads and returns the recorded dimension) and reads the
webhook outbox backlog. Any failing component makes it 503 with the components listed.

Readiness answers without credentials, so only a caller with admin credentials gets the
counts (memories, index entries, deliveries owed) in the details: the store's size is
everyone's data, and ``/metrics`` keeps the same figures for admins.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from memorylink.errors import MemoryLinkError
from memorylink.server._openapi import error_responses
from memorylink.server.errors import ApiError, error_response
from memorylink.server.routes._common import json_response, store_of

__all__ = ["Component", "Liveness", "Readiness", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

_PROBE_TEXT = "memorylink readiness probe"


class Liveness(BaseModel):
    """The process is up and answering."""

    status: Literal["ok"] = "ok"


class Component(BaseModel):
    """One part of the store, as the readiness probe found it."""

    ok: bool
    detail: str


class Readiness(BaseModel):
    """Every component the server needs to answer requests."""

    status: Literal["ok"] = "ok"
    components: dict[str, Component] = Field(description="storage, index, embedder, outbox")


async def _is_admin(request: Request) -> bool:
    """Whether the request carries admin credentials (no credentials or bad ones: False, never a 401)."""
    try:
        principal = await request.app.state.guard(request, "admin", None)
    except ApiError:
        return False
    return bool(principal.is_admin)


def _components(request: Request, *, counts: bool) -> dict[str, Component]:
    store = store_of(request)
    found: dict[str, Component] = {}
    try:
        stats = store.stats()
    except MemoryLinkError as error:
        reason = f"{error.code}: {error.message}"
        return {name: Component(ok=False, detail=reason) for name in ("storage", "index", "embedder", "outbox")}
    index_ok = stats.index_entries == stats.memories
    if counts:
        storage = f"{stats.memories} memories, schema {stats.schema_version}"
        index = f"{stats.index_entries} entries for {stats.memories} memories"
        outbox = f"{stats.outbox_backlog} deliveries owed"
    else:
        storage = f"answers, schema {stats.schema_version}"
        index = "holds every memory" if index_ok else "does not hold every memory"
        outbox = "answers (admins see the backlog)"
    found["storage"] = Component(ok=True, detail=storage)
    found["index"] = Component(ok=index_ok, detail=index)
    try:
        vector = store.embedder.embed([_PROBE_TEXT])
        shape = tuple(getattr(vector, "shape", ()))
        embedder_ok = shape == (1, stats.dimension)
        detail = f"{stats.embedder} ({stats.dimension} dimensions)" + ("" if embedder_ok else f", answered {shape}")
    except Exception as error:  # any embedder fault means searches and writes cannot be served
        logger.warning("readiness: the embedder failed: %s", type(error).__name__)
        embedder_ok, detail = False, f"{stats.embedder} failed: {type(error).__name__}"
    found["embedder"] = Component(ok=embedder_ok, detail=detail)
    # A backlog is not a fault (a receiver may be down); it is reported, and alerted on via /metrics.
    found["outbox"] = Component(ok=True, detail=outbox)
    return found


@router.get(
    "/health",
    response_model=Liveness,
    summary="Liveness",
    description="Answers 200 while the process serves HTTP. No credentials needed.",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def health() -> Liveness:
    return Liveness()


@router.get(
    "/health/ready",
    response_model=Readiness,
    summary="Readiness",
    description="200 when storage, index, embedder and outbox can serve requests; 503 with the error body "
    "(`code: not_ready`, `details.components`) when any cannot, e.g. after the store was closed. "
    "No credentials needed; the details carry counts (memories, index entries, deliveries owed) only "
    "for admin credentials.",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "status": "ok",
                        "components": {
                            "storage": {"ok": True, "detail": "1200 memories, schema 3"},
                            "index": {"ok": True, "detail": "1200 entries for 1200 memories"},
                            "embedder": {"ok": True, "detail": "all-MiniLM-L6-v2 (384 dimensions)"},
                            "outbox": {"ok": True, "detail": "0 deliveries owed"},
                        },
                    }
                }
            }
        },
        **error_responses(503),
    },
)
async def ready(request: Request) -> Response:
    counts = await _is_admin(request)
    components = await run_in_threadpool(_components, request, counts=counts)
    failing = sorted(name for name, component in components.items() if not component.ok)
    if failing:
        details = {"failing": failing, "components": {k: v.model_dump() for k, v in components.items()}}
        return error_response(request, 503, "not_ready", f"not ready: {', '.join(failing)}", details)
    return json_response(Readiness(components=components))
