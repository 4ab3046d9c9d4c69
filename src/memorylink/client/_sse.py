"""The client side of ``GET /api/v1/events``: an SSE line parser and feeds that reconnect and resume."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

import anyio
import httpx

from memorylink.client._errors import connection_error, error_from_response, retry_after
from memorylink.client._event_common import EVENTS_PATH, RETRY_STATUSES, Reconnect, error_from_body
from memorylink.errors import MemoryLinkError, RemoteError, ValidationError
from memorylink.events import Event

__all__ = ["AsyncRemoteEventFeed", "FeedCore", "RemoteEventFeed", "SSEParser"]

logger = logging.getLogger(__name__)

MAX_ADVISED_S = 600.0
"""The longest ``retry:`` advice taken (a memorylink server advises at most ``sse_retry_ms`` = 600,000)."""


# -- Server-Sent Events: sans-I/O ----------------------------------------------------------


@dataclass
class _Message:
    event: str
    data: str
    id: str | None


@dataclass
class SSEParser:
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
        elif name == "retry" and value.isascii() and value.isdigit():  # str.isdigit also takes "²"
            self.retry_ms = int(value)
        return None


class FeedCore:
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
        self.parser = SSEParser(last_event_id=after)
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
        if response.status_code not in RETRY_STATUSES:
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
        advised = min(self.parser.retry_ms / 1000, MAX_ADVISED_S) if self.parser.retry_ms is not None else None
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
            raise error_from_body(body, 500)
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

    def __init__(self, http: httpx.Client, core: FeedCore) -> None:
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

    def __init__(self, http: httpx.AsyncClient, core: FeedCore) -> None:
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
            except Exception:
                # The error ends this stream (an error event, a refusal): give the connection
                # back to the pool now, not when the caller remembers aclose().
                with anyio.CancelScope(shield=True):
                    await self._disconnect()
                raise
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
