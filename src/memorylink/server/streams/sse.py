"""``GET /api/v1/events``: the store's event feed as Server-Sent Events, resumable with ``Last-Event-ID``.

Each event is one SSE message: ``id:`` the event id, ``event:`` its type, ``data:`` the
event as JSON. The first message carries ``retry:`` and, for a stream that starts at the
newest event, that event's ``id:`` (no data), so a client that reconnects before anything
arrived resumes without a gap. A library error met mid-stream (the store closed) is sent
as ``event: error`` with the error body as data, and the stream ends.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from memorylink.errors import MemoryLinkError, NotFoundError
from memorylink.server._openapi import error_responses
from memorylink.server.errors import ApiError, error_body, request_id_of
from memorylink.server.principal import Guard, Principal, requires
from memorylink.server.streams._common import MAX_EVENT_ID, require_outbox, store_and_settings, stream_error_body
from memorylink.server.streams._hub import hub_of
from memorylink.server.streams._positions import positions_of
from memorylink.server.streams._selection import Selection, select
from memorylink.server.streams._tail import Tail
from memorylink.server.streams.settings import StreamSettings

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["events"])

_EXAMPLE = (
    "retry: 2000\n\n"
    "id: evt_0d2jq3m5k8t9v\nevent: memory.created\n"
    'data: {"id":"evt_0d2jq3m5k8t9v","type":"memory.created","timestamp":"2026-01-31T12:00:00Z",'
    '"user_id":"alice","agent_id":null,"run_id":null,"data":{"id":"0d2jq3m5k8t9v"},'
    '"request_id":"9f1c2e7a5b3d4c8e","source":"memorylink/0.1.0"}\n\n'
)


@router.get(
    "/api/v1/events",
    summary="Stream events (Server-Sent Events)",
    description=(
        "The store's events as `text/event-stream`, in commit order: `id:` is the event id, `event:` its "
        "type and `data:` the event JSON. Reconnect with `Last-Event-ID` (or `?after=`) to resume after "
        "the last event seen, with no gap and no repeat. Without either, `start=latest` (the default) "
        "streams only new events and `start=oldest` everything still kept. Non-admins get only their own "
        "user's events; admins every event, or one user's with `user_id`. An unknown or pruned "
        "`Last-Event-ID` is a 404 `not_found`: start afresh. Keep-alive comments come every "
        "`sse_ping_interval_s`."
    ),
    response_model=None,
    responses={
        200: {
            "description": "The event stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}, "example": _EXAMPLE}},
        },
        **error_responses(401, 403, 404, 422, 429, 503),
    },
)
async def stream_events(
    request: Request,
    principal: Annotated[Principal, Depends(requires("read", "reads"))],
    after: Annotated[
        str | None,
        Query(max_length=MAX_EVENT_ID, description="resume after this event id (or position token, `pos_...`)"),
    ] = None,
    start: Annotated[
        Literal["latest", "oldest"],
        Query(description="with no event id: only new events (`latest`) or all kept (`oldest`)"),
    ] = "latest",
    follow: Annotated[bool, Query(description="keep the stream open for new events (false: end at the newest)")] = True,
    types: Annotated[
        list[str] | None,
        Query(description="event names or `prefix.*` patterns, repeated or comma separated; all by default"),
    ] = None,
    user_id: Annotated[str | None, Query(description="only this user's events (admins; others: their own)")] = None,
    agent_id: Annotated[str | None, Query(description="only this agent's events")] = None,
    run_id: Annotated[str | None, Query(description="only this run's events")] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=MAX_EVENT_ID,
            description="resume after this event id or position token (wins over `after`)",
        ),
    ] = None,
) -> EventSourceResponse:
    store, settings = store_and_settings(request.app)
    require_outbox(store)
    hub = hub_of(request.app)
    if hub.closing:
        raise ApiError(503, "shutting_down", "the server is shutting down; reconnect to another instance or later")
    selection = select(principal, types, user_id=user_id, agent_id=agent_id, run_id=run_id)
    resume = last_event_id or after
    positions = await positions_of(request.app)
    try:
        tail = await Tail.open(store, hub.watch, positions.open(resume), start)
    except NotFoundError:
        raise ApiError(
            404,
            "not_found",
            f"event {resume!r} is not in the outbox (unknown, or older than the retention); "
            "start a new stream without it",
            {"id": resume, "kind": "event", "field": "Last-Event-ID" if last_event_id else "after"},
        ) from None
    hub.track(tail)
    opening = positions.shown(tail.cursor, admin=principal.is_admin)
    frames = _frames(tail, selection, follow, settings, request, opening)

    async def finish() -> None:
        # Runs when the response ends for any reason, the client leaving included: the generator
        # may be parked at a yield, where cancellation never reaches its finally block.
        await frames.aclose()
        tail.close()
        hub.untrack(tail)

    logger.debug("event stream opened for %s (open streams: %d)", principal.user_id, hub.open_feeds)
    return _EventStream(
        frames,
        finish,
        request_id_of(request),
        ping=settings.sse_ping_interval_s,
        send_timeout=settings.send_timeout_s,
    )


class _EventStream(EventSourceResponse):
    """An ``EventSourceResponse`` whose clean-up runs however it ends.

    sse-starlette runs a response's background task only when the stream ends without an
    error; a send that times out (a client that stopped reading) raises out of it instead,
    which would leave the stream's feed counted open for good.
    """

    def __init__(
        self,
        frames: AsyncGenerator[ServerSentEvent, None],
        finish: Callable[[], Awaitable[None]],
        request_id: str,
        **kw: Any,
    ) -> None:
        super().__init__(frames, **kw)
        self._finish = finish
        self._request_id = request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            # The client's doing, not a server fault: the connection is dropped.
            logger.info(
                "event stream %s closed: the client did not take a message within send_timeout_s", self._request_id
            )
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish()


async def _frames(
    tail: Tail, selection: Selection, follow: bool, settings: StreamSettings, request: Request, opening: str | None
) -> AsyncGenerator[ServerSentEvent, None]:
    request_id = request_id_of(request)
    guard: Guard = request.app.state.guard
    yield ServerSentEvent(id=opening, retry=settings.sse_retry_ms)  # the position, sealed for non-admins
    check_at = time.monotonic() + settings.reauth_interval_s
    pages = tail.pages(follow=follow, idle_s=settings.reauth_interval_s)
    try:
        async for page in pages:
            if time.monotonic() >= check_at:
                # A long-lived stream must not outlive its credential (revoked key, expired token).
                await guard(request, "read", None)
                check_at = time.monotonic() + settings.reauth_interval_s
            for event in page:
                if selection.matches(event):
                    yield ServerSentEvent(id=event.id, event=event.type, data=event.model_dump_json())
    except ApiError as error:
        logger.info("event stream %s ended: the credential no longer holds (%s)", request_id, error.code)
        body = error_body(error.code, error.message, error.details, request_id)
        yield ServerSentEvent(event="error", data=json.dumps(body))
    except MemoryLinkError as error:
        logger.warning("event stream %s ended by %s", request_id, error.code)
        yield ServerSentEvent(event="error", data=json.dumps(stream_error_body(error, request_id)))
    except Exception:
        # Not a library error: log it here (the response has started, the middleware cannot answer).
        logger.exception("event stream %s failed unexpectedly", request_id)
        body = error_body("internal_error", "the server could not continue the stream", {}, request_id)
        yield ServerSentEvent(event="error", data=json.dumps(body))
    finally:
        await pages.aclose()
