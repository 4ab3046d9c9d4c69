"""The client side of ``/api/v1/ws``: subscriptions, heartbeat answers, and resume on reconnect."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple

import anyio
import httpx

from memorylink.client._event_common import CREDENTIAL_HEADERS, FATAL_CLOSE, WS_PATH, Reconnect, error_from_body
from memorylink.errors import MemoryLinkError, RemoteError, ValidationError
from memorylink.events import Event

__all__ = ["AsyncEventSocket", "EventSocket", "SocketCore", "SocketEvent", "credentials_of", "ws_url"]

logger = logging.getLogger(__name__)

_RESUME_ID = "memorylink:resume"
"""The id a reconnect's ``resume`` carries, so the server's error for it (a pruned position) is told apart."""


class _SocketClosedError(ValidationError):
    """The socket was closed by its owner: iteration ends quietly, a request raises this."""

    def __init__(self) -> None:
        super().__init__("the event socket is closed", field="socket")


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


class SocketCore:
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
        self.replay_cursor: str | None = None  # where the new connection delivers from, while replaying
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
                self.replay_cursor = str(message["event"]["id"])
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
            self.replay_cursor = message.get("last_event_id")
            return message
        if kind == "error" and self.replaying and message.get("id") == _RESUME_ID:
            # The position to resume from is gone (pruned): say so, as the SSE feed does, rather
            # than drop every event while waiting for a replay that will not come. Iterating on
            # continues from where the new connection's subscriptions started.
            self.replaying = False
            self.cursor = self.replay_cursor
            raise self.error(message)
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
        return error_from_body(body, statuses.get(str(code), status))

    def refused(self, code: int | None) -> MemoryLinkError | None:
        """The error a close code means, when reconnecting cannot help (the credential is refused)."""
        if code not in FATAL_CLOSE:
            return None
        if self.last_error is not None:
            return self.error(self.last_error, FATAL_CLOSE[code])
        body = {"error": {"code": "unauthenticated" if code == 4401 else "forbidden", "message": "refused"}}
        return error_from_body(body, FATAL_CLOSE[code])

    def answers(self, answer: dict[str, Any] | None, reply: str, message_id: str | None) -> bool:
        """Whether ``answer`` is the ``reply`` to the request ``message_id``; raises the error it answered with."""
        if answer is None:
            return False
        if answer["type"] == "error" and answer.get("id") == message_id:
            raise self.error(answer)
        return bool(answer["type"] == reply and answer.get("id", message_id) == message_id)

    def ready(self, text: str | bytes) -> bool:
        """Whether a message read while (re)connecting is the server's ``ready``; keeps an error met before it."""
        message = json.loads(text)
        if message.get("type") == "error":
            self.last_error = message
        return bool(message.get("type") == "ready")

    def restore(self) -> list[str]:
        """After ``ready``: the messages that subscribe again and resume after the cursor, to send in order."""
        self.failures = 0
        was_positioned, cursor = self.positioned, self.cursor
        messages = [json.dumps(entry.message(sid)) for sid, entry in self.subscriptions.items()]
        if was_positioned and self.subscriptions:
            self.replaying, self.replay_cursor = True, None
            messages.append(json.dumps({"type": "resume", "after": cursor, "id": _RESUME_ID}))
        return messages

    def dropped(self, closed: BaseException | None) -> float:
        """The wait before reconnecting after ``closed``.

        Raises:
            MemoryLinkError: the credential was refused (the socket closes), or a message was
                over the server's size limit (ValidationError; the next use reconnects).
        """
        received = getattr(closed, "rcvd", None)
        refused = self.refused(received.code if received is not None else None)
        if refused is not None:
            self.closed = True
            raise refused
        if received is not None and received.code == 1009:
            # The request in flight was too large: sending it again would be refused again.
            raise ValidationError(
                f"the server refused a message over its ws_max_message_bytes ({received.reason})",
                field="ws_max_message_bytes",
            )
        logger.info("event socket dropped (%s); reconnecting", received.code if received else "no close frame")
        return self.failed(None)

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


def ws_url(http: httpx.Client | httpx.AsyncClient) -> str:
    base = str(http.base_url).rstrip("/")
    return (
        "wss://" + base[len("https://") :] if base.startswith("https://") else "ws://" + base[len("http://") :]
    ) + WS_PATH


def credentials_of(http: httpx.Client | httpx.AsyncClient) -> dict[str, str]:
    return {name: http.headers[name] for name in CREDENTIAL_HEADERS if name in http.headers}


class _SocketBase:
    """What EventSocket and AsyncEventSocket share: the core, the connection slot, the positions."""

    def __init__(self, core: SocketCore, *, open_timeout_s: float = 10.0) -> None:
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


class EventSocket(_SocketBase):
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

    def __init__(self, core: SocketCore, *, open_timeout_s: float = 10.0) -> None:
        super().__init__(core, open_timeout_s=open_timeout_s)
        self._wake = threading.Event()

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
            try:
                self._receive_one()
            except _SocketClosedError:
                return  # close() while reconnecting

    def _request(self, message: dict[str, Any], reply: str, message_id: str | None) -> None:
        self._send(message)
        sent_on = self._connection
        while True:
            answer = self._receive_one()
            if self._core.closed:  # close() while waiting for the answer
                raise _SocketClosedError
            if self._connection is not sent_on:  # reconnected meanwhile: the request was lost with it
                self._send(message)
                sent_on = self._connection
                continue
            if self._core.answers(answer, reply, message_id):
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
        self._connection = None
        self._wake.wait(self._core.dropped(closed))  # returns early when close() is called

    def _ensure(self) -> Any:
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
        from websockets.sync.client import connect

        core = self._core
        while self._connection is None:
            if core.closed:
                raise _SocketClosedError
            try:
                connection = connect(core.url, additional_headers=core.headers, open_timeout=self._open_timeout_s)
                connection.__enter__()  # held open across calls; close() ends it
            # ConnectionClosed: the connection went away during the handshake (a server or proxy
            # closing it as the request is written) -- one more failed attempt.
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as error:
                if isinstance(error, InvalidStatus) and error.response.status_code in (401, 403):
                    raise error_from_body({}, error.response.status_code) from error
                if self._wake.wait(core.failed(error)):
                    raise _SocketClosedError from None
                continue
            if core.closed:  # close() while the handshake was under way
                connection.close()
                raise _SocketClosedError
            self._connection = connection
            self._restore(connection)
        return self._connection

    def _restore(self, connection: Any) -> None:
        """After (re)connecting: wait for ``ready``, subscribe again, resume after the cursor."""
        from websockets.exceptions import ConnectionClosed

        core = self._core
        try:
            ready = False
            while not ready:
                ready = core.ready(connection.recv(timeout=self._open_timeout_s))
            for message in core.restore():
                connection.send(message)
        except (ConnectionClosed, TimeoutError) as closed:
            self._connection = None
            self._dropped(closed)


class AsyncEventSocket(_SocketBase):
    """The async twin of :class:`EventSocket`: ``async for``, ``await subscribe(...)``, ``aclose()``."""

    def __init__(self, core: SocketCore, *, open_timeout_s: float = 10.0) -> None:
        super().__init__(core, open_timeout_s=open_timeout_s)
        self._wake: anyio.Event | None = None  # made on first wait: an anyio.Event needs a running loop

    async def _wait(self, delay_s: float) -> None:
        """Sleep ``delay_s``, or less: :meth:`aclose` ends the wait."""
        if self._wake is None:
            self._wake = anyio.Event()
        if not self._core.closed:
            with anyio.move_on_after(delay_s):
                await self._wake.wait()

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
        """Close the connection; iteration ends (a wait to reconnect included)."""
        self._core.closed = True
        if self._wake is not None:
            self._wake.set()
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
            try:
                await self._receive_one()
            except _SocketClosedError:
                raise StopAsyncIteration from None  # aclose() while reconnecting
        return core.buffer.popleft()

    async def _request(self, message: dict[str, Any], reply: str, message_id: str | None) -> None:
        await self._send(message)
        sent_on = self._connection
        while True:
            answer = await self._receive_one()
            if self._core.closed:  # aclose() while waiting for the answer
                raise _SocketClosedError
            if self._connection is not sent_on:  # reconnected meanwhile: the request was lost with it
                await self._send(message)
                sent_on = self._connection
                continue
            if self._core.answers(answer, reply, message_id):
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
        self._connection = None
        await self._wait(self._core.dropped(closed))

    async def _ensure(self) -> Any:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        core = self._core
        while self._connection is None:
            if core.closed:
                raise _SocketClosedError
            try:
                connection = await connect(core.url, additional_headers=core.headers, open_timeout=self._open_timeout_s)
            # ConnectionClosed: the connection went away during the handshake (a server or proxy
            # closing it as the request is written) -- one more failed attempt.
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as error:
                if isinstance(error, InvalidStatus) and error.response.status_code in (401, 403):
                    raise error_from_body({}, error.response.status_code) from error
                await self._wait(core.failed(error))
                continue
            if core.closed:  # aclose() while the handshake was under way
                await connection.close()
                raise _SocketClosedError
            self._connection = connection
            await self._restore(connection)
        return self._connection

    async def _restore(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        core = self._core
        try:
            with anyio.fail_after(self._open_timeout_s):
                ready = False
                while not ready:
                    ready = core.ready(await connection.recv())
            for message in core.restore():
                await connection.send(message)
        except (ConnectionClosed, TimeoutError) as closed:
            self._connection = None
            await self._dropped(closed)
