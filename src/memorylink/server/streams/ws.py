"""``/api/v1/ws``: a WebSocket over the event feed that the client steers with JSON messages.

Client messages: ``auth`` (only as the first message, when no credential headers were
sent), ``subscribe`` (``id``, ``types``, ``filter`` of ``user_id`` / ``agent_id`` /
``run_id``; the same ``id`` again replaces it), ``unsubscribe``, ``ping``, ``pong`` (the
answer to the server's heartbeat) and ``resume`` (``after``: restart delivery after that
event id; ``null``: from the oldest kept). Server messages: ``ready``, ``subscribed``,
``unsubscribed``, ``resumed``, ``event``, ``ping``, ``pong`` and ``error`` (the error body
plus the ``id`` of the message it answers). ``subscribed`` and ``resumed`` carry
``last_event_id``: delivery continues after it, and every event before it on this
connection was already sent, so a client resumes from the last id it holds.

Close codes: 1008 a client too slow to take a message, 1009 a message over
``ws_max_message_bytes``, 1011 no message within ``ws_heartbeat_timeout_s`` of a ping (or
a store fault), 1012 the server restarts, 1013 the connection cap is reached or the server
is unavailable, 4401 no valid credentials, 4403 too small a scope, 4429 rate limited.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from memorylink import MemoryStore
from memorylink.errors import MemoryLinkError, NotFoundError
from memorylink.server.errors import ApiError, error_body
from memorylink.server.principal import Guard, Principal
from memorylink.server.streams._common import MAX_EVENT_ID, require_outbox, store_and_settings, stream_error_body
from memorylink.server.streams._hub import StreamHub, hub_of
from memorylink.server.streams._positions import Positions, positions_of
from memorylink.server.streams._selection import Selection, select
from memorylink.server.streams._tail import Tail
from memorylink.server.streams.settings import StreamSettings

__all__ = ["CLOSE_CODES", "router"]

logger = logging.getLogger(__name__)

router = APIRouter()

CLOSE_CODES = {401: 4401, 403: 4403, 429: 4429, 503: 1013}
"""The close code a connection refused with an HTTP-like status gets (others: 1011)."""

_CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")
_FILTER_KEYS = frozenset({"user_id", "agent_id", "run_id"})
_MAX_SUBSCRIPTION_ID = 64


class _ConnectionClosedError(Exception):
    """The connection is over (the client left, or the server closed it); end the session quietly."""


@router.websocket("/api/v1/ws", name="event_socket")
async def event_socket(websocket: WebSocket) -> None:
    """Serve one WebSocket connection (see the module docstring for the protocol)."""
    store, settings = store_and_settings(websocket.app)
    hub = hub_of(websocket.app)
    request_id = str(websocket.scope.get("state", {}).get("request_id") or uuid.uuid4().hex)
    try:
        await websocket.accept()
    except (WebSocketDisconnect, OSError):
        return
    if not hub.try_open_socket():
        reason = "the server is shutting down" if hub.closing else "the server's WebSocket connection cap is reached"
        code = "shutting_down" if hub.closing else "too_many_connections"
        details = {} if hub.closing else {"limit": "ws_max_connections", "maximum": settings.ws_max_connections}
        await _refuse(websocket, ApiError(503, code, reason + "; retry later", details), request_id)
        return
    try:
        try:
            require_outbox(store)
            principal, credential = await _authenticate(websocket, settings)
        except ApiError as error:
            await _refuse(websocket, error, request_id)
            return
        positions = await positions_of(websocket.app)
        session = _Session(websocket, store, settings, hub, principal, request_id, credential, positions)
        logger.debug("event socket %s opened for %s", request_id, principal.user_id)
        await session.run()
    except (_ConnectionClosedError, WebSocketDisconnect, OSError):
        logger.debug("event socket %s: the client went away", request_id)
    finally:
        hub.socket_closed()
        logger.debug("event socket %s closed", request_id)


async def _refuse(websocket: WebSocket, error: ApiError, request_id: str) -> None:
    body = error_body(error.code, error.message, error.details, request_id)
    try:
        await websocket.send_text(json.dumps({"type": "error", "id": None, **body}))
        await websocket.close(CLOSE_CODES.get(error.status, 1011), _reason(error.message))
    except (WebSocketDisconnect, OSError, RuntimeError):
        return


def _reason(text: str) -> str:
    # A close reason is at most 123 bytes of UTF-8.
    return text.encode()[:120].decode(errors="ignore")


def _as_request(websocket: WebSocket, credentials: dict[str, str] | None = None) -> Request:
    """The handshake as an HTTP request, so the app's Guard (which takes a Request) can judge it."""
    headers = list(websocket.scope["headers"])
    if credentials:
        headers = [(k, v) for k, v in headers if k not in _CREDENTIAL_HEADERS]
        headers += [(name.encode(), value.encode("latin-1")) for name, value in credentials.items()]
    return Request({**websocket.scope, "type": "http", "method": "GET", "headers": headers})


async def _authenticate(websocket: WebSocket, settings: StreamSettings) -> tuple[Principal, Request]:
    """The caller, from credential headers or else a first ``auth`` message, and the request that proved it.

    Browsers cannot set headers on a WebSocket; the first message keeps the key out of URLs
    (and so out of access logs), which is why no query-string credential is taken.
    """
    guard: Guard = websocket.app.state.guard
    has_headers = any(name in _CREDENTIAL_HEADERS for name, _ in websocket.scope["headers"])
    if has_headers:
        request = _as_request(websocket)
        return await guard(request, "read", "reads"), request
    try:
        request = _as_request(websocket)
        return await guard(request, "read", "reads"), request  # a --no-auth server needs no credential
    except ApiError as error:
        if error.status != 401:
            raise
    hint = (
        "send an API key as X-API-Key, a bearer token as Authorization, or a first message "
        '{"type": "auth", "api_key": "..."} / {"type": "auth", "token": "..."}'
    )
    text: str | None = None
    with anyio.move_on_after(settings.ws_auth_timeout_s):
        text = await _receive_text(websocket, settings)
    if text is None:
        raise ApiError(401, "unauthenticated", f"no credentials within ws_auth_timeout_s; {hint}")
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    if not isinstance(message, dict) or message.get("type") != "auth":
        raise ApiError(401, "unauthenticated", f"the first message must authenticate; {hint}")
    api_key, token = message.get("api_key"), message.get("token")
    if isinstance(api_key, str) and api_key and token is None:
        credentials = {"x-api-key": api_key}
    elif isinstance(token, str) and token and api_key is None:
        credentials = {"authorization": f"Bearer {token}"}
    else:
        raise ApiError(401, "unauthenticated", f"an auth message needs one of api_key or token; {hint}")
    try:
        request = _as_request(websocket, credentials)
        return await guard(request, "read", "reads"), request
    except UnicodeEncodeError:
        raise ApiError(401, "unauthenticated", "the credential is not a valid header value") from None


async def _receive_text(websocket: WebSocket, settings: StreamSettings) -> str:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise _ConnectionClosedError
    text = message.get("text")
    if text is None:
        raw = message.get("bytes") or b""
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text = ""
    # A character is up to 4 bytes of UTF-8: only a text that may be over the limit is encoded.
    if len(text) * 4 > settings.ws_max_message_bytes and len(text.encode()) > settings.ws_max_message_bytes:
        await websocket.close(1009, f"a message is limited to ws_max_message_bytes ({settings.ws_max_message_bytes})")
        raise _ConnectionClosedError
    return str(text)


class _MessageError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


class _Session:
    """One authenticated connection: its subscriptions, its feed and its heartbeat."""

    def __init__(
        self,
        websocket: WebSocket,
        store: MemoryStore,
        settings: StreamSettings,
        hub: StreamHub,
        principal: Principal,
        request_id: str,
        credential: Request | None,
        positions: Positions,
    ) -> None:
        self.websocket = websocket
        self.positions = positions
        self.credential = credential  # the handshake (or auth message) as a request, to check again
        self.store = store
        self.settings = settings
        self.hub = hub
        self.principal = principal
        self.request_id = request_id
        self.subscriptions: dict[str, Selection] = {}
        self.lock = anyio.Lock()  # one message at a time, and an event's messages with the cursor move
        self.heard = anyio.Event()
        self.cursor: str | None = None  # the last event this connection delivered (or skipped)
        self.generation = 0  # bumped when a resume replaces the tail; a stale pump stops
        self.pending: Tail | None = None  # a resume position waiting for the first subscription
        self.tail: Tail | None = None  # the position being delivered from, once something subscribed
        self.rate_key = uuid.uuid4().hex
        self.task_group: anyio.abc.TaskGroup | None = None

    async def run(self) -> None:
        await self.send(
            {
                "type": "ready",
                "user_id": self.principal.user_id,
                "admin": self.principal.is_admin,
                "heartbeat_interval_s": self.settings.ws_heartbeat_interval_s,
                "heartbeat_timeout_s": self.settings.ws_heartbeat_timeout_s,
            }
        )
        try:
            async with anyio.create_task_group() as task_group:
                self.task_group = task_group
                task_group.start_soon(self._quietly, self._heartbeat)
                if self.credential is not None:
                    task_group.start_soon(self._quietly, self._reauthenticate)
                try:
                    await self._receive_loop()
                except _ConnectionClosedError:
                    logger.debug("event socket %s closed (by the client or a server task)", self.request_id)
                finally:
                    task_group.cancel_scope.cancel()
        finally:
            self.generation += 1
            for tail in (self.pending, self.tail):
                if tail is not None:
                    tail.close()
            await self.hub.limiter.clear(self.hub.message_rate, self.rate_key)

    async def _quietly(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run a task of the session; a closed connection ends the whole session, not with an error."""
        try:
            await work()
        except _ConnectionClosedError:
            if self.task_group is not None:
                self.task_group.cancel_scope.cancel()

    # -- sending ---------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            await self._send_locked(json.dumps(message))

    async def _send_locked(self, text: str) -> None:
        try:
            with anyio.fail_after(self.settings.send_timeout_s):
                await self.websocket.send_text(text)
        except TimeoutError:
            await self._close(1008, "the client did not take a message within send_timeout_s")
            raise _ConnectionClosedError from None
        except (WebSocketDisconnect, OSError, RuntimeError):
            raise _ConnectionClosedError from None

    async def _error(self, message_id: object, error: _MessageError | ApiError) -> None:
        body = error_body(error.code, error.message, error.details, self.request_id)
        await self.send({"type": "error", "id": message_id if isinstance(message_id, str) else None, **body})

    async def _close(self, code: int, reason: str) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
                await self.websocket.close(code, _reason(reason))
        if self.task_group is not None:
            self.task_group.cancel_scope.cancel()

    # -- heartbeat -------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await anyio.sleep(self.settings.ws_heartbeat_interval_s)
            self.heard = anyio.Event()
            await self.send({"type": "ping"})
            with anyio.move_on_after(self.settings.ws_heartbeat_timeout_s):
                await self.heard.wait()
            if not self.heard.is_set():
                logger.info("event socket %s: no answer to a heartbeat; closing", self.request_id)
                await self._close(1011, "heartbeat timeout: nothing received within ws_heartbeat_timeout_s of a ping")
                return

    async def _reauthenticate(self) -> None:
        """Check the credential again every ``reauth_interval_s``: a revoked key ends the connection."""
        assert self.credential is not None
        guard: Guard = self.websocket.app.state.guard
        while True:
            await anyio.sleep(self.settings.reauth_interval_s)
            try:
                await guard(self.credential, "read", None)
            except ApiError as error:
                logger.info("event socket %s: the credential no longer holds (%s)", self.request_id, error.code)
                await self._error(None, error)
                await self._close(CLOSE_CODES.get(error.status, 1011), error.message)
                return

    # -- receiving -------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            text = await _receive_text(self.websocket, self.settings)
            self.heard.set()
            try:
                message = json.loads(text)
            except ValueError:
                message = None
            valid = isinstance(message, dict) and isinstance(message.get("type"), str)
            if valid and message["type"] == "pong":
                continue
            # Every other message is answered, a malformed one included, so every one spends the rate.
            message_id = message.get("id") if valid else None
            if not await self.hub.limiter.hit(self.hub.message_rate, self.rate_key):
                await self._rate_limited(message_id)
                continue
            if not valid:
                await self._error(
                    None, _MessageError(422, "validation_error", 'a message is a JSON object with a "type"')
                )
                continue
            try:
                await self._handle(message["type"], message)
            except (_MessageError, ApiError) as error:
                await self._error(message_id, error)
            except MemoryLinkError as error:
                # A store fault met opening a feed (the store closed): the message fails, the
                # connection stays (the feed already running reports its own faults).
                logger.warning(
                    "event socket %s: a %s message failed with %s", self.request_id, message["type"], error.code
                )
                body = stream_error_body(error, self.request_id)
                await self.send({"type": "error", "id": message_id if isinstance(message_id, str) else None, **body})

    async def _rate_limited(self, message_id: object) -> None:
        stats = await self.hub.limiter.get_window_stats(self.hub.message_rate, self.rate_key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        error = _MessageError(
            429,
            "rate_limited",
            f"more than {self.settings.ws_message_rate} messages on this connection; this one was dropped",
            {"limit": "ws_message_rate", "rate": self.settings.ws_message_rate, "retry_after": retry_after},
        )
        await self._error(message_id, error)

    async def _handle(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "unsubscribe":
            sid = _subscription_id(message)
            async with self.lock:
                if self.subscriptions.pop(sid, None) is None:
                    raise _MessageError(404, "not_found", f"no subscription {sid!r}", {"id": sid})
                await self._send_locked(json.dumps({"type": "unsubscribed", "id": sid}))
        elif kind == "resume":
            await self._resume(message)
        elif kind == "auth":
            raise _MessageError(422, "validation_error", "this connection is already authenticated", {"field": "type"})
        else:
            raise _MessageError(
                422,
                "validation_error",
                f"unknown message type {kind!r}; expected subscribe, unsubscribe, resume, ping or pong",
                {"field": "type"},
            )

    async def _subscribe(self, message: dict[str, Any]) -> None:
        sid = _subscription_id(message)
        types = message.get("types")
        if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
            raise _MessageError(
                422, "validation_error", "types must be a list of event names or patterns", {"field": "types"}
            )
        scope = message.get("filter") or {}
        if not isinstance(scope, dict) or not set(scope) <= _FILTER_KEYS:
            raise _MessageError(
                422, "validation_error", "filter takes only user_id, agent_id and run_id", {"field": "filter"}
            )
        selection = select(self.principal, types, **scope)
        if sid not in self.subscriptions and len(self.subscriptions) >= self.settings.ws_max_subscriptions:
            raise _MessageError(
                422,
                "limit_exceeded",
                f"a connection holds at most ws_max_subscriptions ({self.settings.ws_max_subscriptions}) subscriptions",
                {
                    "limit": "ws_max_subscriptions",
                    "maximum": self.settings.ws_max_subscriptions,
                    "actual": len(self.subscriptions) + 1,
                },
            )
        if self.tail is None:
            tail = self.pending or await Tail.open(self.store, self.hub.watch, None, "latest")
            self.pending = None
            await self._pump_from(tail)
        async with self.lock:
            self.subscriptions[sid] = selection
            reply = {"type": "subscribed", "id": sid, **selection.describe(), "last_event_id": self._shown(self.cursor)}
            await self._send_locked(json.dumps(reply))

    async def _resume(self, message: dict[str, Any]) -> None:
        after = message.get("after")
        if after is not None and (not isinstance(after, str) or not 0 < len(after) <= MAX_EVENT_ID):
            raise _MessageError(422, "validation_error", "after must be an event id or null", {"field": "after"})
        try:
            tail = await Tail.open(self.store, self.hub.watch, self.positions.open(after))
        except NotFoundError:
            raise _MessageError(
                404,
                "not_found",
                f"event {after!r} is not in the outbox (unknown, or older than the retention); subscribe afresh",
                {"id": after, "kind": "event", "field": "after"},
            ) from None
        if self.tail is None:
            if self.pending is not None:
                self.pending.close()
            self.pending = tail
            await self.send({"type": "resumed", "after": after, "last_event_id": self._shown(tail.cursor)})
            return
        await self._pump_from(tail, reply={"type": "resumed", "after": after})

    def _shown(self, event_id: str | None) -> str | None:
        """A position as this caller may see it (the event may be another user's: sealed for non-admins)."""
        return self.positions.shown(event_id, admin=self.principal.is_admin)

    # -- delivery --------------------------------------------------------------------

    async def _pump_from(self, tail: Tail, reply: dict[str, Any] | None = None) -> None:
        """Deliver from ``tail`` on, replacing the tail this connection had (then send ``reply``)."""
        assert self.task_group is not None
        async with self.lock:
            self.generation += 1
            if self.tail is not None:
                self.tail.close()
            self.tail = tail
            self.cursor = tail.cursor
            self.hub.track(tail)
            self.task_group.start_soon(self._quietly, functools.partial(self._pump, tail, self.generation))
            if reply is not None:
                await self._send_locked(json.dumps({**reply, "last_event_id": self._shown(tail.cursor)}))

    async def _pump(self, tail: Tail, generation: int) -> None:
        pages = tail.pages(follow=True)
        try:
            async for page in pages:
                for event in page:
                    async with self.lock:
                        if generation != self.generation:
                            return
                        payload = event.model_dump_json()
                        for sid, selection in self.subscriptions.items():
                            if selection.matches(event):
                                await self._send_locked(
                                    f'{{"type":"event","subscription":{json.dumps(sid)},"event":{payload}}}'
                                )
                        self.cursor = event.id
        except MemoryLinkError as error:
            logger.warning("event socket %s: the feed failed with %s", self.request_id, error.code)
            body = stream_error_body(error, self.request_id)
            try:
                await self.send({"type": "error", "id": None, **body})
            finally:
                await self._close(1011, "the event feed failed")
        except _ConnectionClosedError:
            raise  # the client left: nothing to report
        except Exception:
            # Not the client's doing and not a library error: log it, tell the client, close.
            logger.exception("event socket %s: the feed failed unexpectedly", self.request_id)
            body = error_body("internal_error", "the server could not continue the stream", {}, self.request_id)
            try:
                await self.send({"type": "error", "id": None, **body})
            finally:
                await self._close(1011, "the event feed failed")
        finally:
            await pages.aclose()
            tail.close()
            self.hub.untrack(tail)


def _subscription_id(message: dict[str, Any]) -> str:
    sid = message.get("id")
    if not isinstance(sid, str) or not 0 < len(sid) <= _MAX_SUBSCRIPTION_ID:
        raise _MessageError(
            422, "validation_error", f"id must be a string of 1 to {_MAX_SUBSCRIPTION_ID} characters", {"field": "id"}
        )
    return sid
