"""AsyncRemoteStore: AsyncMemoryStore's methods, answered by a memorylink server over HTTP."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import anyio
import httpx

from memorylink.client._base import Call, Calls, WebhookCalls, check_open, client_headers, mirror
from memorylink.client._events import AsyncRemoteEvents
from memorylink.client._ingest import whoami_call
from memorylink.client._jobs import Jobs
from memorylink.client._retry import Retries
from memorylink.client._store_base import RemoteStoreBase
from memorylink.models import BatchResult, Memory, Page, StoreStats

if TYPE_CHECKING:
    from memorylink.client._export import ExportJob
    from memorylink.client._ingest import IngestJob
    from memorylink.ingest.models import IngestReport

__all__ = ["AsyncRemoteStore", "AsyncRemoteWebhooks"]

P = ParamSpec("P")
R = TypeVar("R")
J = TypeVar("J")


def _remote(
    build: Callable[Concatenate[Calls, P], Call[R]],
) -> Callable[Concatenate[AsyncRemoteStore, P], Coroutine[Any, Any, R]]:
    async def method(self: AsyncRemoteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._send(build(self._calls, *args, **kwargs))

    return mirror(method, build, "AsyncRemoteStore")


def _job(
    build: Callable[Concatenate[Jobs, P], J], run: Callable[[AsyncRemoteStore, J], Awaitable[R]]
) -> Callable[Concatenate[AsyncRemoteStore, P], Coroutine[Any, Any, R]]:
    async def method(self: AsyncRemoteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await run(self, build(self._jobs, *args, **kwargs))

    return mirror(method, build, "AsyncRemoteStore", returns=run.__annotations__["return"])


def _remote_webhooks(
    build: Callable[Concatenate[WebhookCalls, P], Call[R]],
) -> Callable[Concatenate[AsyncRemoteWebhooks, P], Coroutine[Any, Any, R]]:
    async def method(self: AsyncRemoteWebhooks, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._store._send(build(self._calls, *args, **kwargs))

    return mirror(method, build, "AsyncRemoteWebhooks")


class AsyncRemoteWebhooks:
    """``store.webhooks`` of an :class:`AsyncRemoteStore`: the WebhookManager's methods, awaited.

    A user's credential sees and manages only its own user's endpoints; an admin's, all.
    """

    def __init__(self, store: AsyncRemoteStore) -> None:
        self._store = store
        self._calls = WebhookCalls()

    add = _remote_webhooks(WebhookCalls.add)
    list = _remote_webhooks(WebhookCalls.list)
    get = _remote_webhooks(WebhookCalls.get)
    update = _remote_webhooks(WebhookCalls.update)
    remove = _remote_webhooks(WebhookCalls.remove)
    enable = _remote_webhooks(WebhookCalls.enable)
    disable = _remote_webhooks(WebhookCalls.disable)
    rotate_secret = _remote_webhooks(WebhookCalls.rotate_secret)
    deliveries = _remote_webhooks(WebhookCalls.deliveries)
    redeliver = _remote_webhooks(WebhookCalls.redeliver)
    test = _remote_webhooks(WebhookCalls.test)


class AsyncRemoteStore(RemoteStoreBase[httpx.AsyncClient]):
    """A memorylink server, used like an :class:`~memorylink.AsyncMemoryStore`: ``await store.search(...)``.

    The async twin of :class:`~memorylink.client.RemoteStore`, with the same arguments, over
    one pooled ``httpx.AsyncClient``; close it with ``await store.close()`` or ``async with``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retries: int | Retries = 2,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(base_url, retries)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=client_headers(api_key, token, headers),
            timeout=timeout,
            transport=transport,
        )
        self.webhooks = AsyncRemoteWebhooks(self)
        """Webhook endpoints on the server: ``store.webhooks.add(url, events=["memory.*"])`` and friends."""
        self.events = AsyncRemoteEvents(self._http)
        """The server's event stream: ``store.events.feed(after=..., follow=True)`` (SSE) and ``.websocket()``."""

    async def _send(self, call: Call[R]) -> R:
        check_open(self._state)
        request = self._request(call)
        sleep = self.retries.sleep or anyio.sleep
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.send(request)
            except httpx.TransportError as error:
                await _wait(sleep, self._wait_after_error(call, error, attempt))
                continue
            wait = self._wait_after(call, response, attempt)
            if wait is None:
                return call.parse(response)
            await _wait(sleep, wait)

    async def _export(self, job: ExportJob) -> int:
        blocking = _Blocking(self)
        return await anyio.to_thread.run_sync(functools.partial(job.run, blocking.list, blocking.stats))

    async def _ingest(self, job: IngestJob) -> IngestReport:
        user = job.user_id if job.user_id is not None else (await self._send(whoami_call())).user_id
        return await anyio.to_thread.run_sync(functools.partial(job.run, _Blocking(self), user))

    async def close(self) -> None:
        """Close the connection pool. Idempotent; calls afterwards raise StoreClosedError."""
        if self._closing():
            await self._http.aclose()

    async def __aenter__(self) -> AsyncRemoteStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    add = _remote(Calls.add)
    add_many = _remote(Calls.add_many)
    add_messages = _remote(Calls.add_messages)
    get = _remote(Calls.get)
    update = _remote(Calls.update)
    delete = _remote(Calls.delete)
    delete_many = _remote(Calls.delete_many)
    history = _remote(Calls.history)
    list = _remote(Calls.list)
    search = _remote(Calls.search)
    search_by_vector = _remote(Calls.search_by_vector)
    similar = _remote(Calls.similar)
    stats = _remote(Calls.stats)
    export = _job(Jobs.export, _export)
    ingest = _job(Jobs.ingest, _ingest)


async def _wait(sleep: Callable[[float], Any], seconds: float) -> None:
    waited = sleep(seconds)
    if inspect.isawaitable(waited):  # anyio.sleep, or a test's recorder (sync or async)
        await waited


class _Blocking:
    """A blocking view of an AsyncRemoteStore for the ingest and export engines' worker thread.

    Each call runs on the event loop the store belongs to, with the store method's own arguments.
    """

    def __init__(self, store: AsyncRemoteStore) -> None:
        self._store = store

    def list(self, **options: Any) -> Page[Memory]:
        return anyio.from_thread.run(functools.partial(self._store.list, **options))

    def stats(self) -> StoreStats:
        return anyio.from_thread.run(self._store.stats)

    def add_many(self, items: Sequence[dict[str, Any]]) -> BatchResult:
        return anyio.from_thread.run(functools.partial(self._store.add_many, items))

    def delete_many(self, ids: Iterable[str] | None = None, **scope: Any) -> int:
        return anyio.from_thread.run(functools.partial(self._store.delete_many, ids, **scope))
