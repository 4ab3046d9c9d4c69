"""The server's event streams from the client side: SSE feeds and WebSockets that reconnect and resume.

``store.events.feed(after=None, follow=False, ...)`` reads ``GET /api/v1/events`` (Server-Sent
Events) like :meth:`memorylink.events.EventEmitter.feed` reads the local outbox: the same
:class:`~memorylink.events.Event` models in commit order, ``last_event_id`` to resume from,
``close()``. A dropped connection is reopened with exponential backoff and jitter, sending
``Last-Event-ID``, so no event is lost or repeated. ``store.events.websocket()`` opens
``/api/v1/ws``: subscriptions with filters, heartbeat answers, and the same resume on
reconnect. The protocol logic (parsing, positions, delays) is shared by the sync and async
classes; only the waiting differs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NamedTuple

import anyio
import httpx

from memorylink.client._errors import connection_error, error_from_response, retry_after
from memorylink.errors import MemoryLinkError, RemoteError, ValidationError
from memorylink.events import Event

__all__ = [
    "AsyncEventSocket",
    "AsyncRemoteEventFeed",
    "AsyncRemoteEvents",
    "EventSocket",
    "Reconnect",
    "RemoteEventFeed",
    "RemoteEvents",
    "SocketEvent",
]

logger = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/events"
WS_PATH = "/api/v1/ws"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_CREDENTIAL_HEADERS = ("x-api-key", "authorization")
# Close codes after which reconnecting cannot help: the credential is refused.
_FATAL_CLOSE = {4401: 401, 4403: 403}


@dataclass(frozen=True)
class Reconnect:
    """How a stream reconnects after its connection dropped.

    The first wait is the server's advice (an SSE ``retry:`` field) or ``initial_delay_s``;
    each further failure in a row multiplies it by ``multiplier`` up to ``max_delay_s``,
    scaled by a random factor in [0.5, 1] so clients do not return in step. A connection
    that opens resets the count.

    Attributes:
        initial_delay_s: The first wait.
        max_delay_s: The longest wait.
        multiplier: Growth per failure in a row.
        max_attempts: Failed connection attempts in a row before the stream raises
            (``None``: keep trying while the stream is open).
    """

    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    multiplier: float = 2.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        for name in ("initial_delay_s", "max_delay_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValidationError(f"reconnect.{name} must be a number >= 0", field=f"reconnect.{name}")
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, int | float) or self.multiplier < 1:
            raise ValidationError("reconnect.multiplier must be a number >= 1", field="reconnect.multiplier")
        if self.max_attempts is not None and (isinstance(self.max_attempts, bool) or self.max_attempts < 1):
            raise ValidationError("reconnect.max_attempts must be None or >= 1", field="reconnect.max_attempts")

    def delay(self, failures: int, advised_s: float | None = None) -> float:
        """The wait before reconnect number ``failures`` (1-based) in a row."""
        first = self.initial_delay_s if advised_s is None else min(advised_s, self.max_delay_s)
        base = min(self.max_delay_s, first * self.multiplier ** (failures - 1))
        return base * (0.5 + random.random() / 2)

    def gives_up(self, failures: int) -> bool:
        return self.max_attempts is not None and failures > self.max_attempts


# -- Server-Sent Events: sans-I/O ----------------------------------------------------------


@dataclass
class _Message:
    event: str
    data: str
    id: str | None


@dataclass
class _SSEParser:
    """The SSE line protocol (WHATWG HTML, "event stream interpretation"), one line at a time."""

    last_event_id: str | None = None
    """The id of the last complete message (an id seen in a message cut short does not count)."""
    retry_ms: int | None = None
    boundaries: int = 0
    """Messages completed (blank lines) on the current connection."""
    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _id: str | None = None
    _id_given: bool = False
    _first: bool = True

    def reset(self) -> None:
        """A new connection: drop what a cut connection left half-read."""
        self._data, self._event, self._id_given, self._first, self.boundaries = [], "", False, True, 0

    def line(self, text: str) -> _Message | None:
        """Feed one line (without its end); returns a message when a blank line completes one."""
        if self._first:
            text = text.removeprefix("\ufeff")
            self._first = False
        if text == "":
            self.boundaries += 1
            if self._id_given:
                self.last_event_id, self._id_given = self._id, False
            data, event = self._data, self._event
            self._data, self._event = [], ""
            if not data:
                return None
            return _Message(event or "message", "\n".join(data), self.last_event_id)
        if text.startswith(":"):
            return None
        name, colon, value = text.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id, self._id_given = value or None, True
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


def _error_from_body(body: Any, status: int) -> MemoryLinkError:
    """A library error from an error body met inside a stream (no HTTP response of its own)."""
    response = httpx.Response(status, json=body if isinstance(body, dict) else {})
    return error_from_response(response)


class _FeedCore:
    """What the sync and async SSE feeds share: the request, the position, the delays."""

    def __init__(
        self,
        after: str | None,
        *,
        follow: bool,
        start: Literal["oldest", "latest"],
        types: Iterable[str] | None,
        user_id: str | None,
        agent_id: str | None,
        run_id: str | None,
        reconnect: Reconnect,
        idle_timeout_s: float,
    ) -> None:
        if isinstance(types, str):
            raise ValidationError("types must be a list of event names, not a string", field="types")
        if start not in ("oldest", "latest"):
            raise ValidationError("start must be 'oldest' or 'latest'", field="start")
        if after is not None and start == "latest":
            raise ValidationError("give after or start='latest', not both", field="start")
        self.follow = follow
        self.start = start
        self.types = list(types) if types is not None else None
        self.scope = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        self.reconnect = reconnect
        self.timeout = httpx.Timeout(30.0, read=idle_timeout_s)
        self.parser = _SSEParser(last_event_id=after)
        self.positioned = after is not None  # whether last_event_id is where to resume (None: the oldest)
        self.failures = 0
        self.closed = False

    def params(self) -> httpx.QueryParams:
        params: list[tuple[str, str | int | float | bool | None]] = [("follow", "true" if self.follow else "false")]
        if not self.positioned:
            params.append(("start", self.start))
        elif self.parser.last_event_id is None:
            params.append(("start", "oldest"))  # the stream began on an empty outbox: everything is new
        params += [("types", t) for t in self.types or ()]
        params += [(name, value) for name, value in self.scope.items() if value is not None]
        return httpx.QueryParams(params)

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if self.parser.last_event_id is not None:
            headers["Last-Event-ID"] = self.parser.last_event_id
        return headers

    def opened(self, response: httpx.Response) -> float | None:
        """Judge an answer: None when it is the stream, else the wait before trying again.

        Raises:
            MemoryLinkError: the answer is an error no retry can mend (401, 404 for a pruned id ...).
        """
        if response.status_code == 200:
            self.failures = 0
            self.parser.reset()
            return None
        error = error_from_response(response)
        if response.status_code not in _RETRY_STATUSES:
            raise error
        return self.failed(error, retry_after(response))

    def failed(self, error: BaseException | None, wait_s: float | None = None) -> float:
        """The wait after a failed or dropped connection. Raises once the attempts are spent."""
        self.failures += 1
        if self.reconnect.gives_up(self.failures):
            if isinstance(error, MemoryLinkError):
                raise error
            raise RemoteError(
                f"the event stream could not reconnect after {self.failures - 1} attempts",
                code="connection_error",
                status=None,
                details={"transport_error": type(error).__name__ if error else None},
            )
        if wait_s is not None:
            return wait_s
        advised = self.parser.retry_ms / 1000 if self.parser.retry_ms is not None else None
        return self.reconnect.delay(self.failures, advised)

    def line(self, text: str) -> Event | None:
        """One line of the stream; the event it completes, if any."""
        message = self.parser.line(text)
        if self.parser.boundaries and not self.positioned:
            # The server's first message fixes where the stream starts: its ``id:`` (the
            # newest event, for a stream that starts there), or none: the oldest.
            self.positioned = True
        return None if message is None else self._event(message)

    def _event(self, message: _Message) -> Event | None:
        if message.event == "error":
            try:
                body = json.loads(message.data)
            except ValueError:
                body = {}
            raise _error_from_body(body, 500)
        if message.data == "":
            return None
        return Event.model_validate_json(message.data)


class RemoteEventFeed:
    """The server's events after ``after`` over SSE; iterate with ``for``. Reconnects and resumes.

    Mirrors :class:`memorylink.events.EventFeed`: ``last_event_id`` is the id of the last
    event handed out, ``close()`` ends a following iteration from any thread.

    Raises (while iterating):
        NotFoundError: ``after`` is no longer on the server (unknown, or pruned).
        AuthenticationError / PermissionDeniedError: the credential is refused.
        RemoteError: the server stayed unreachable for ``reconnect.max_attempts`` tries.
    """

    def __init__(self, http: httpx.Client, core: _FeedCore) -> None:
        self._http = http
        self._core = core
        self._wake = threading.Event()
        self._response: httpx.Response | None = None

    @property
    def last_event_id(self) -> str | None:
        """The id to resume after (the last event handed out, or the stream's starting point)."""
        return self._core.parser.last_event_id

    def close(self) -> None:
        """End the iteration (from any thread); it stops at once, between events or while waiting."""
        self._core.closed = True
        self._wake.set()
        response = self._response
        if response is not None:
            _shut(response)

    def __enter__(self) -> RemoteEventFeed:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Event]:
        core = self._core
        while not core.closed:
            wait: float | None
            try:
                with self._http.stream(
                    "GET", EVENTS_PATH, params=core.params(), headers=core.headers(), timeout=core.timeout
                ) as response:
                    if response.status_code != 200:
                        response.read()
                    wait = core.opened(response)
                    if wait is None:
                        self._response = response
                        yield from self._read(response)
                        self._response = None
                        if not core.follow or core.closed:
                            return
                        wait = core.failed(None)  # the server ended the stream (a restart): come back
            except httpx.TransportError as error:
                self._response = None
                if core.closed:
                    return
                logger.info("event stream dropped (%s); reconnecting", type(error).__name__)
                try:
                    wait = core.failed(error)
                except RemoteError as spent:
                    raise connection_error(str(self._http.base_url), error) from spent
            if self._wake.wait(wait):
                return

    def _read(self, response: httpx.Response) -> Iterator[Event]:
        core = self._core
        for line in response.iter_lines():
            event = core.line(line)
            if event is not None:
                yield event
            if core.closed:
                return


class AsyncRemoteEventFeed:
    """The async twin of :class:`RemoteEventFeed`: ``async for``, and ``aclose()`` (from any task)."""

    def __init__(self, http: httpx.AsyncClient, core: _FeedCore) -> None:
        self._http = http
        self._core = core
        self._stream: contextlib.AbstractAsyncContextManager[httpx.Response] | None = None
        self._lines: AsyncIterator[str] | None = None
        self._scope: anyio.CancelScope | None = None

    @property
    def last_event_id(self) -> str | None:
        """The id to resume after (the last event handed out, or the stream's starting point)."""
        return self._core.parser.last_event_id

    async def aclose(self) -> None:
        """End the iteration: a pending ``__anext__`` returns, the connection is released."""
        self._core.closed = True
        if self._scope is not None:
            self._scope.cancel()
        await self._disconnect()

    async def __aenter__(self) -> AsyncRemoteEventFeed:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncRemoteEventFeed:
        return self

    async def __anext__(self) -> Event:
        # Each step runs in its own cancel scope (never one across a yield), so aclose() from
        # another task wakes exactly this wait.
        event: Event | None = None
        with anyio.CancelScope() as scope:
            self._scope = scope
            try:
                event = await self._next()
            finally:
                self._scope = None
        if scope.cancelled_caught or event is None:
            await self._disconnect()
            raise StopAsyncIteration
        return event

    async def _next(self) -> Event | None:
        core = self._core
        while not core.closed:
            if self._lines is None:
                wait = await self._connect()
                if wait is not None:
                    await anyio.sleep(wait)
                    continue
            assert self._lines is not None
            try:
                async for line in self._lines:
                    if (event := core.line(line)) is not None:
                        return event
            except httpx.TransportError as error:
                await self._disconnect()
                if core.closed:
                    return None
                logger.info("event stream dropped (%s); reconnecting", type(error).__name__)
                try:
                    await anyio.sleep(core.failed(error))
                except RemoteError as spent:
                    raise connection_error(str(self._http.base_url), error) from spent
                continue
            await self._disconnect()
            if not core.follow:
                return None
            await anyio.sleep(core.failed(None))
        return None

    async def _connect(self) -> float | None:
        core = self._core
        stream = self._http.stream(
            "GET", EVENTS_PATH, params=core.params(), headers=core.headers(), timeout=core.timeout
        )
        try:
            response = await stream.__aenter__()
        except httpx.TransportError as error:
            try:
                return core.failed(error)
            except RemoteError as spent:
                raise connection_error(str(self._http.base_url), error) from spent
        try:
            if response.status_code != 200:
                await response.aread()
            wait = core.opened(response)
        except BaseException:
            await stream.__aexit__(None, None, None)
            raise
        if wait is not None:
            await stream.__aexit__(None, None, None)
            return wait
        self._stream = stream
        self._lines = response.aiter_lines()
        return None

    async def _disconnect(self) -> None:
        stream, lines = self._stream, self._lines
        self._stream, self._lines = None, None
        if lines is not None:
            with contextlib.suppress(Exception):
                await lines.aclose()  # type: ignore[attr-defined]
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.__aexit__(None, None, None)


def _shut(response: httpx.Response) -> None:
    """Shut the socket under a streaming response so a thread blocked reading it wakes now."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# -- WebSocket --------------------------------------------------------------------------------


class SocketEvent(NamedTuple):
    """An event delivered to one of a WebSocket's subscriptions."""

    subscription: str
    event: Event


@dataclass
class _Subscription:
    types: list[str] | None
    scope: dict[str, str | None]

    def message(self, sid: str) -> dict[str, Any]:
        return {"type": "subscribe", "id": sid, "types": self.types, "filter": self.scope}


class _SocketCore:
    """What the sync and async sockets share: subscriptions, the position, message handling."""

    def __init__(self, url: str, headers: Mapping[str, str], reconnect: Reconnect) -> None:
        self.url = url
        self.headers = dict(headers)
        self.reconnect = reconnect
        self.subscriptions: dict[str, _Subscription] = {}
        self.cursor: str | None = None
        self.positioned = False
        self.buffer: deque[SocketEvent] = deque()
        self.failures = 0
        self.closed = False
        self.last_error: dict[str, Any] | None = None
        self.replaying = False  # after a reconnect's resume: events before "resumed" are superseded
        self.heartbeats = 0  # server pings answered

    def subscription(
        self, sid: str, types: Iterable[str] | None, user_id: str | None, agent_id: str | None, run_id: str | None
    ) -> _Subscription:
        if not isinstance(sid, str) or not sid:
            raise ValidationError("a subscription id is a non-empty string", field="id")
        if isinstance(types, str):
            raise ValidationError("types must be a list of event names, not a string", field="types")
        return _Subscription(
            list(types) if types is not None else None, {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        )

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Absorb one server message; returns it when it is a reply someone waits for.

        Events go to the buffer (unless a reconnect's replay supersedes them); positions
        move with every event and every ``subscribed`` / ``resumed`` reply.
        """
        kind = message.get("type")
        if kind == "event":
            if self.replaying:
                return None
            event = Event.model_validate(message["event"])
            self.cursor, self.positioned = event.id, True
            self.buffer.append(SocketEvent(str(message.get("subscription")), event))
            return None
        if kind == "resumed" or (kind == "subscribed" and not self.replaying):
            # Everything before the reply's position was sent before the reply: resume from it.
            self.replaying = False
            self.cursor, self.positioned = message.get("last_event_id"), True
            return message
        if kind == "subscribed":
            return message
        if kind == "error":
            if message.get("id") is None:
                self.last_error = message
            return message
        if kind in ("unsubscribed", "pong", "ready"):
            return message
        return None

    def error(self, message: dict[str, Any], status: int = 400) -> MemoryLinkError:
        body = {"error": message.get("error")}
        code = (message.get("error") or {}).get("code")
        statuses = {"unauthenticated": 401, "forbidden": 403, "rate_limited": 429, "not_found": 404}
        return _error_from_body(body, statuses.get(str(code), status))

    def refused(self, code: int | None) -> MemoryLinkError | None:
        """The error a close code means, when reconnecting cannot help (the credential is refused)."""
        if code not in _FATAL_CLOSE:
            return None
        if self.last_error is not None:
            return self.error(self.last_error, _FATAL_CLOSE[code])
        body = {"error": {"code": "unauthenticated" if code == 4401 else "forbidden", "message": "refused"}}
        return _error_from_body(body, _FATAL_CLOSE[code])

    def failed(self, error: BaseException | None) -> float:
        self.failures += 1
        if self.reconnect.gives_up(self.failures):
            raise RemoteError(
                f"the event socket could not reconnect after {self.failures - 1} attempts",
                code="connection_error",
                status=None,
                details={"transport_error": type(error).__name__ if error else None},
            )
        return self.reconnect.delay(self.failures)


def _ws_url(http: httpx.Client | httpx.AsyncClient) -> str:
    base = str(http.base_url).rstrip("/")
    return (
        "wss://" + base[len("https://") :] if base.startswith("https://") else "ws://" + base[len("http://") :]
    ) + WS_PATH


def _credentials(http: httpx.Client | httpx.AsyncClient) -> dict[str, str]:
    return {name: http.headers[name] for name in _CREDENTIAL_HEADERS if name in http.headers}


class EventSocket:
    """``/api/v1/ws`` as an iterator of :class:`SocketEvent`; reconnects and resumes by itself.

    ::

        with store.events.websocket() as socket:
            socket.subscribe("mine", types=["memory.*"], agent_id="planner")
            for subscription, event in socket:
                ...

    ``subscribe`` / ``unsubscribe`` wait for the server's answer and raise its error
    (``PermissionDeniedError`` for another user's filter). Server heartbeats are answered
    while iterating; a loop body slower than the server's heartbeat timeout gets the
    connection closed, which this class survives by reconnecting and resuming.
    """

    def __init__(self, core: _SocketCore, *, open_timeout_s: float = 10.0) -> None:
        self._core = core
        self._open_timeout_s = open_timeout_s
        self._connection: Any = None
        self._wake = threading.Event()

    @property
    def last_event_id(self) -> str | None:
        """The position to resume after (the last event received or acknowledged)."""
        return self._core.cursor

    @property
    def heartbeats(self) -> int:
        """Server heartbeat pings answered so far (they are answered while receiving)."""
        return self._core.heartbeats

    def subscribe(
        self,
        subscription_id: str,
        *,
        types: Iterable[str] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """Receive events of ``types`` (None: all) in this scope as ``subscription_id`` (again: replace it)."""
        entry = self._core.subscription(subscription_id, types, user_id, agent_id, run_id)
        self._request(entry.message(subscription_id), "subscribed", subscription_id)
        self._core.subscriptions[subscription_id] = entry

    def unsubscribe(self, subscription_id: str) -> None:
        """Stop ``subscription_id``. Raises NotFoundError for an unknown id."""
        self._request({"type": "unsubscribe", "id": subscription_id}, "unsubscribed", subscription_id)
        self._core.subscriptions.pop(subscription_id, None)

    def ping(self) -> None:
        """Round-trip a ping to the server (raises if the connection cannot be restored)."""
        self._request({"type": "ping"}, "pong", None)

    def close(self) -> None:
        """Close the connection; iteration ends."""
        self._core.closed = True
        self._wake.set()
        if self._connection is not None:
            self._connection.close()

    def __enter__(self) -> EventSocket:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[SocketEvent]:
        core = self._core
        while not core.closed:
            if core.buffer:
                yield core.buffer.popleft()
                continue
            self._receive_one()

    def _request(self, message: dict[str, Any], reply: str, message_id: str | None) -> None:
        self._send(message)
        sent_on = self._connection
        while True:
            answer = self._receive_one()
            if self._connection is not sent_on:  # reconnected meanwhile: the request was lost with it
                self._send(message)
                sent_on = self._connection
                continue
            if answer is None:
                continue
            if answer["type"] == "error" and answer.get("id") == message_id:
                raise self._core.error(answer)
            if answer["type"] == reply and answer.get("id", message_id) == message_id:
                return

    def _send(self, message: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        connection = self._ensure()
        try:
            connection.send(json.dumps(message))
        except ConnectionClosed as closed:
            self._dropped(closed)
            self._send(message)

    def _receive_one(self) -> dict[str, Any] | None:
        from websockets.exceptions import ConnectionClosed

        if self._core.closed:
            return None
        connection = self._ensure()
        try:
            text = connection.recv()
        except ConnectionClosed as closed:
            if self._core.closed:
                return None
            self._dropped(closed)
            return None
        message = json.loads(text)
        if not isinstance(message, dict):
            return None
        if message.get("type") == "ping":
            with contextlib.suppress(ConnectionClosed):
                connection.send('{"type":"pong"}')
                self._core.heartbeats += 1
            return None
        return self._core.handle(message)

    def _dropped(self, closed: BaseException | None) -> None:
        received = getattr(closed, "rcvd", None)
        refused = self._core.refused(received.code if received is not None else None)
        self._connection = None
        if refused is not None:
            self._core.closed = True
            raise refused
        logger.info("event socket dropped (%s); reconnecting", received.code if received else "no close frame")
        self._wake.wait(self._core.failed(None))  # returns early when close() is called

    def _ensure(self) -> Any:
        from websockets.exceptions import InvalidHandshake, InvalidStatus
        from websockets.sync.client import connect

        core = self._core
        while self._connection is None:
            if core.closed:
                raise ValidationError("the event socket is closed", field="socket")
            try:
                connection = connect(core.url, additional_headers=core.headers, open_timeout=self._open_timeout_s)
                connection.__enter__()  # held open across calls; close() ends it
            except (OSError, TimeoutError, InvalidHandshake) as error:
                if isinstance(error, InvalidStatus) and error.response.status_code in (401, 403):
                    raise _error_from_body({}, error.response.status_code) from error
                if self._wake.wait(core.failed(error)):
                    raise ValidationError("the event socket is closed", field="socket") from None
                continue
            self._connection = connection
            self._restore(connection)
        return self._connection

    def _restore(self, connection: Any) -> None:
        """After (re)connecting: wait for ``ready``, subscribe again, resume after the cursor."""
        from websockets.exceptions import ConnectionClosed

        core = self._core
        try:
            while (message := json.loads(connection.recv(timeout=self._open_timeout_s))).get("type") != "ready":
                if message.get("type") == "error":
                    core.last_error = message
            core.failures = 0
            was_positioned, cursor = core.positioned, core.cursor
            for sid, entry in core.subscriptions.items():
                connection.send(json.dumps(entry.message(sid)))
            if was_positioned and core.subscriptions:
                core.replaying = True
                connection.send(json.dumps({"type": "resume", "after": cursor}))
        except (ConnectionClosed, TimeoutError) as closed:
            self._connection = None
            self._dropped(closed)


class AsyncEventSocket:
    """The async twin of :class:`EventSocket`: ``async for``, ``await subscribe(...)``, ``aclose()``."""

    def __init__(self, core: _SocketCore, *, open_timeout_s: float = 10.0) -> None:
        self._core = core
        self._open_timeout_s = open_timeout_s
        self._connection: Any = None

    @property
    def last_event_id(self) -> str | None:
        """The position to resume after (the last event received or acknowledged)."""
        return self._core.cursor

    @property
    def heartbeats(self) -> int:
        """Server heartbeat pings answered so far (they are answered while receiving)."""
        return self._core.heartbeats

    async def subscribe(
        self,
        subscription_id: str,
        *,
        types: Iterable[str] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """Receive events of ``types`` (None: all) in this scope as ``subscription_id`` (again: replace it)."""
        entry = self._core.subscription(subscription_id, types, user_id, agent_id, run_id)
        await self._request(entry.message(subscription_id), "subscribed", subscription_id)
        self._core.subscriptions[subscription_id] = entry

    async def unsubscribe(self, subscription_id: str) -> None:
        """Stop ``subscription_id``. Raises NotFoundError for an unknown id."""
        await self._request({"type": "unsubscribe", "id": subscription_id}, "unsubscribed", subscription_id)
        self._core.subscriptions.pop(subscription_id, None)

    async def ping(self) -> None:
        """Round-trip a ping to the server."""
        await self._request({"type": "ping"}, "pong", None)

    async def aclose(self) -> None:
        """Close the connection; iteration ends."""
        self._core.closed = True
        if self._connection is not None:
            await self._connection.close()

    async def __aenter__(self) -> AsyncEventSocket:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncEventSocket:
        return self

    async def __anext__(self) -> SocketEvent:
        core = self._core
        while not core.buffer:
            if core.closed:
                raise StopAsyncIteration
            await self._receive_one()
        return core.buffer.popleft()

    async def _request(self, message: dict[str, Any], reply: str, message_id: str | None) -> None:
        await self._send(message)
        sent_on = self._connection
        while True:
            answer = await self._receive_one()
            if self._connection is not sent_on:  # reconnected meanwhile: the request was lost with it
                await self._send(message)
                sent_on = self._connection
                continue
            if answer is None:
                continue
            if answer["type"] == "error" and answer.get("id") == message_id:
                raise self._core.error(answer)
            if answer["type"] == reply and answer.get("id", message_id) == message_id:
                return

    async def _send(self, message: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        connection = await self._ensure()
        try:
            await connection.send(json.dumps(message))
        except ConnectionClosed as closed:
            await self._dropped(closed)
            await self._send(message)

    async def _receive_one(self) -> dict[str, Any] | None:
        from websockets.exceptions import ConnectionClosed

        if self._core.closed:
            return None
        connection = await self._ensure()
        try:
            text = await connection.recv()
        except ConnectionClosed as closed:
            if self._core.closed:
                return None
            await self._dropped(closed)
            return None
        message = json.loads(text)
        if not isinstance(message, dict):
            return None
        if message.get("type") == "ping":
            with contextlib.suppress(ConnectionClosed):
                await connection.send('{"type":"pong"}')
                self._core.heartbeats += 1
            return None
        return self._core.handle(message)

    async def _dropped(self, closed: BaseException | None) -> None:
        received = getattr(closed, "rcvd", None)
        refused = self._core.refused(received.code if received is not None else None)
        self._connection = None
        if refused is not None:
            self._core.closed = True
            raise refused
        logger.info("event socket dropped (%s); reconnecting", received.code if received else "no close frame")
        await anyio.sleep(self._core.failed(None))

    async def _ensure(self) -> Any:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        core = self._core
        while self._connection is None:
            if core.closed:
                raise ValidationError("the event socket is closed", field="socket")
            try:
                connection = await connect(core.url, additional_headers=core.headers, open_timeout=self._open_timeout_s)
            except (OSError, TimeoutError, InvalidHandshake) as error:
                if isinstance(error, InvalidStatus) and error.response.status_code in (401, 403):
                    raise _error_from_body({}, error.response.status_code) from error
                await anyio.sleep(core.failed(error))
                continue
            self._connection = connection
            await self._restore(connection)
        return self._connection

    async def _restore(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        core = self._core
        try:
            with anyio.fail_after(self._open_timeout_s):
                while (message := json.loads(await connection.recv())).get("type") != "ready":
                    if message.get("type") == "error":
                        core.last_error = message
            core.failures = 0
            was_positioned, cursor = core.positioned, core.cursor
            for sid, entry in core.subscriptions.items():
                await connection.send(json.dumps(entry.message(sid)))
            if was_positioned and core.subscriptions:
                core.replaying = True
                await connection.send(json.dumps({"type": "resume", "after": cursor}))
        except (ConnectionClosed, TimeoutError) as closed:
            self._connection = None
            await self._dropped(closed)


# -- what the remote stores mount as ``store.events`` ----------------------------------------


class RemoteEvents:
    """``RemoteStore.events``: the server's event streams (SSE :meth:`feed`, WebSocket :meth:`websocket`).

    Args:
        http: The store's client (its base URL and credential headers are used).
        reconnect: How streams reconnect after a drop.
        idle_timeout_s: An SSE stream silent for this long (no event, no keep-alive) is
            taken for dropped and reopened; keep it above the server's ``sse_ping_interval_s``.
    """

    def __init__(self, http: httpx.Client, *, reconnect: Reconnect | None = None, idle_timeout_s: float = 60.0) -> None:
        self._http = http
        self.reconnect = reconnect or Reconnect()
        self.idle_timeout_s = idle_timeout_s

    def feed(
        self,
        after: str | None = None,
        *,
        follow: bool = False,
        start: Literal["oldest", "latest"] = "oldest",
        types: Iterable[str] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> RemoteEventFeed:
        """Events after the event id ``after`` (None: from ``start``), oldest first, like ``MemoryStore.events.feed``.

        With ``follow`` the iteration waits for new events until ``feed.close()``. ``types``
        takes names and ``prefix.*`` patterns; the scope fields narrow the stream (a user's
        credential always gets only its own user's events).
        """
        core = _FeedCore(
            after,
            follow=follow,
            start=start,
            types=types,
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            reconnect=self.reconnect,
            idle_timeout_s=self.idle_timeout_s,
        )
        return RemoteEventFeed(self._http, core)

    def websocket(self, *, open_timeout_s: float = 10.0) -> EventSocket:
        """A steerable stream over ``/api/v1/ws`` (connects on first use; see :class:`EventSocket`)."""
        core = _SocketCore(_ws_url(self._http), _credentials(self._http), self.reconnect)
        return EventSocket(core, open_timeout_s=open_timeout_s)


class AsyncRemoteEvents:
    """``AsyncRemoteStore.events``: the async twin of :class:`RemoteEvents`."""

    def __init__(
        self, http: httpx.AsyncClient, *, reconnect: Reconnect | None = None, idle_timeout_s: float = 60.0
    ) -> None:
        self._http = http
        self.reconnect = reconnect or Reconnect()
        self.idle_timeout_s = idle_timeout_s

    def feed(
        self,
        after: str | None = None,
        *,
        follow: bool = False,
        start: Literal["oldest", "latest"] = "oldest",
        types: Iterable[str] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> AsyncRemoteEventFeed:
        """Events after the event id ``after`` (None: from ``start``), oldest first; iterate with ``async for``."""
        core = _FeedCore(
            after,
            follow=follow,
            start=start,
            types=types,
            user_id=user_id,
            agent_id=agent_id,
            run_id=run_id,
            reconnect=self.reconnect,
            idle_timeout_s=self.idle_timeout_s,
        )
        return AsyncRemoteEventFeed(self._http, core)

    def websocket(self, *, open_timeout_s: float = 10.0) -> AsyncEventSocket:
        """A steerable stream over ``/api/v1/ws`` (connects on first use; see :class:`AsyncEventSocket`)."""
        core = _SocketCore(_ws_url(self._http), _credentials(self._http), self.reconnect)
        return AsyncEventSocket(core, open_timeout_s=open_timeout_s)
