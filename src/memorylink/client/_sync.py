"""RemoteStore: MemoryStore's methods, answered by a memorylink server over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import httpx

from memorylink.client._base import Call, Calls, WebhookCalls, check_open, client_headers, mirror
from memorylink.client._events import RemoteEvents
from memorylink.client._ingest import whoami_call
from memorylink.client._jobs import Jobs
from memorylink.client._retry import Retries
from memorylink.client._store_base import RemoteStoreBase

if TYPE_CHECKING:
    from memorylink.client._export import ExportJob
    from memorylink.client._ingest import IngestJob
    from memorylink.ingest.models import IngestReport

__all__ = ["RemoteStore", "RemoteWebhooks"]

P = ParamSpec("P")
R = TypeVar("R")
J = TypeVar("J")


def _remote(build: Callable[Concatenate[Calls, P], Call[R]]) -> Callable[Concatenate[RemoteStore, P], R]:
    def method(self: RemoteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._send(build(self._calls, *args, **kwargs))

    return mirror(method, build, "RemoteStore")


def _job(
    build: Callable[Concatenate[Jobs, P], J], run: Callable[[RemoteStore, J], R]
) -> Callable[Concatenate[RemoteStore, P], R]:
    def method(self: RemoteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return run(self, build(self._jobs, *args, **kwargs))

    return mirror(method, build, "RemoteStore", returns=run.__annotations__["return"])


def _remote_webhooks(
    build: Callable[Concatenate[WebhookCalls, P], Call[R]],
) -> Callable[Concatenate[RemoteWebhooks, P], R]:
    def method(self: RemoteWebhooks, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._store._send(build(self._calls, *args, **kwargs))

    return mirror(method, build, "RemoteWebhooks")


class RemoteWebhooks:
    """``store.webhooks`` of a :class:`RemoteStore`: the WebhookManager's methods over ``/api/v1/webhooks``.

    A user's credential sees and manages only its own user's endpoints; an admin's, all.
    """

    def __init__(self, store: RemoteStore) -> None:
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


class RemoteStore(RemoteStoreBase[httpx.Client]):
    """A memorylink server, used like a :class:`~memorylink.MemoryStore`: same methods, arguments and models.

    ::

        with RemoteStore("http://127.0.0.1:8000", api_key="mlk_...") as store:
            store.add("Alice prefers window seats", tags=["travel"])
            hits = store.search("where does Alice sit?").hits

    Errors are the library's own, rebuilt from the server's error body (``ValidationError``
    with its ``field``, ``LimitExceededError`` with its ``limit`` ...), plus
    ``AuthenticationError`` / ``PermissionDeniedError`` (401 / 403) and ``RateLimitError``
    (429, ``retry_after``); each carries the server's ``request_id``. One pooled HTTP
    connection pool serves every call; close the store (or use it as a context manager) to
    release it.

    Args:
        base_url: The server's root, e.g. ``"http://127.0.0.1:8000"``.
        api_key: An API key, sent as ``X-API-Key``.
        token: A JWT from ``POST /api/v1/auth/token``, sent as ``Authorization: Bearer``.
        timeout: Seconds (or an ``httpx.Timeout``) for each request.
        retries: How many times a call is tried again on 429 / 503 / connection errors
            (only when that is harmless; see :class:`~memorylink.client.Retries`), or a policy.
        transport: An httpx transport, e.g. ``httpx.MockTransport`` in tests.
        headers: Extra headers for every request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retries: int | Retries = 2,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(base_url, retries)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=client_headers(api_key, token, headers),
            timeout=timeout,
            transport=transport,
        )
        self.webhooks = RemoteWebhooks(self)
        """Webhook endpoints on the server: ``store.webhooks.add(url, events=["memory.*"])`` and friends."""
        self.events = RemoteEvents(self._http)
        """The server's event stream: ``store.events.feed(after=..., follow=True)`` (SSE) and ``.websocket()``."""

    def _send(self, call: Call[R]) -> R:
        check_open(self._state)
        request = self._request(call)
        sleep = self.retries.sleep or time.sleep
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                sleep(self._wait_after_error(call, error, attempt))
                continue
            wait = self._wait_after(call, response, attempt)
            if wait is None:
                return call.parse(response)
            sleep(wait)

    def _export(self, job: ExportJob) -> int:
        return job.run(self.list, self.stats)

    def _ingest(self, job: IngestJob) -> IngestReport:
        user = job.user_id if job.user_id is not None else self._send(whoami_call()).user_id
        return job.run(self, user)

    def close(self) -> None:
        """Close the connection pool. Idempotent; calls afterwards raise StoreClosedError."""
        if self._closing():
            self._http.close()

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

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
