"""The server's event streams from the client side: SSE feeds and WebSockets that reconnect and resume.

``store.events.feed(after=None, follow=False, ...)`` reads ``GET /api/v1/events`` (Server-Sent
Events) like :meth:`memorylink.events.EventEmitter.feed` reads the local outbox: the same
:class:`~memorylink.events.Event` models in commit order, ``last_event_id`` to resume from,
``close()``. A dropped connection is reopened with exponential backoff and jitter, sending
``Last-Event-ID``, so no event is lost or repeated. ``store.events.websocket()`` opens
``/api/v1/ws``: subscriptions with filters, heartbeat answers, and the same resume on
reconnect. The SSE feeds live in ``_sse.py`` and the sockets in ``_ws.py``; in each, the
protocol logic (parsing, positions, delays) is shared by the sync and async classes, and
only the waiting differs.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Generic, Literal, TypeVar

import httpx

from memorylink.client._event_common import Reconnect
from memorylink.client._sse import AsyncRemoteEventFeed, FeedCore, RemoteEventFeed
from memorylink.client._ws import AsyncEventSocket, EventSocket, SocketCore, SocketEvent, credentials_of, ws_url

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

H = TypeVar("H", httpx.Client, httpx.AsyncClient)
FeedT = TypeVar("FeedT", RemoteEventFeed, AsyncRemoteEventFeed)
SocketT = TypeVar("SocketT", EventSocket, AsyncEventSocket)


class _Streams(abc.ABC, Generic[H, FeedT, SocketT]):
    """What RemoteEvents and AsyncRemoteEvents share: the arguments of each stream; only the reader differs."""

    def __init__(self, http: H, *, reconnect: Reconnect | None = None, idle_timeout_s: float = 60.0) -> None:
        self._http: H = http
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
    ) -> FeedT:
        """Events after the event id ``after`` (None: from ``start``), oldest first, like ``MemoryStore.events.feed``.

        Iterate with ``for`` (``async for`` on ``AsyncRemoteStore.events``). With ``follow`` the
        iteration waits for new events until the feed is closed. ``types`` takes names and
        ``prefix.*`` patterns; the scope fields narrow the stream (a user's credential always
        gets only its own user's events).
        """
        core = FeedCore(
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
        return self._feed(core)

    def websocket(self, *, open_timeout_s: float = 10.0) -> SocketT:
        """A steerable stream over ``/api/v1/ws`` (connects on first use; see :class:`EventSocket`)."""
        core = SocketCore(ws_url(self._http), credentials_of(self._http), self.reconnect)
        return self._socket(core, open_timeout_s)

    @abc.abstractmethod
    def _feed(self, core: FeedCore) -> FeedT:
        """The SSE reader of this client kind."""

    @abc.abstractmethod
    def _socket(self, core: SocketCore, open_timeout_s: float) -> SocketT:
        """The WebSocket reader of this client kind."""


class RemoteEvents(_Streams[httpx.Client, RemoteEventFeed, EventSocket]):
    """``RemoteStore.events``: the server's event streams (SSE :meth:`feed`, WebSocket :meth:`websocket`).

    Args:
        http: The store's client (its base URL and credential headers are used).
        reconnect: How streams reconnect after a drop.
        idle_timeout_s: An SSE stream silent for this long (no event, no keep-alive) is
            taken for dropped and reopened; keep it above the server's ``sse_ping_interval_s``.
    """

    def _feed(self, core: FeedCore) -> RemoteEventFeed:
        return RemoteEventFeed(self._http, core)

    def _socket(self, core: SocketCore, open_timeout_s: float) -> EventSocket:
        return EventSocket(core, open_timeout_s=open_timeout_s)


class AsyncRemoteEvents(_Streams[httpx.AsyncClient, AsyncRemoteEventFeed, AsyncEventSocket]):
    """``AsyncRemoteStore.events``: the async twin of :class:`RemoteEvents` (``async for``, ``aclose()``)."""

    def _feed(self, core: FeedCore) -> AsyncRemoteEventFeed:
        return AsyncRemoteEventFeed(self._http, core)

    def _socket(self, core: SocketCore, open_timeout_s: float) -> AsyncEventSocket:
        return AsyncEventSocket(core, open_timeout_s=open_timeout_s)
