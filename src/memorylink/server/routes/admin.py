"""``/api/v1/stats``: the store's counts and identity, for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from memorylink.models import StoreStats
from memorylink.server._openapi import error_responses
from memorylink.server.principal import AdminReader
from memorylink.server.routes._common import json_response, store_of
from memorylink.server.routes._examples import example_response

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["admin"])


@router.get(
    "/stats",
    response_model=StoreStats,
    summary="Store statistics",
    description="Counts (memories, users, history versions, index and journal entries), disk size and the "
    "store's identity (embedder, key id, schema). Admins only: the counts span every user.",
    responses={200: example_response("StoreStats"), **error_responses(401, 403, 429, 503)},
)
def stats(request: Request, principal: AdminReader) -> Response:
    return json_response(store_of(request).stats())
