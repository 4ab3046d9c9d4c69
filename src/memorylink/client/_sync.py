"""RemoteStore: MemoryStore's methods, answered by a memorylink server over HTTP."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import httpx

from memorylink.client._base import (
    Call,
    Calls,
    ClientState,
    WebhookCalls,
    check_open,
    client_headers,
    mirror,
    normalise_base_url,
)
from memorylink.client._errors import connection_error, retry_after
from memorylink.client._events import RemoteEvents
from memorylink.client._export import check_plaintext, export_over
from memorylink.client._ingest import ingest_over, whoami_call
from memorylink.client._retry import Retries
from memorylink.ingest.chunking import DEFAULT_CHUNK_SIZE
from memorylink.ingest.engine import DEFAULT_MAX_FILE_BYTES

if TYPE_CHECKING:
    from memorylink.ingest.engine import PathsArg
    from memorylink.ingest.models import IngestReport

__all__ = ["RemoteStore", "RemoteWebhooks"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def _remote(build: Callable[Concatenate[Calls, P], Call[R]]) -> Callable[Concatenate[RemoteStore, P], R]:
    def method(self: RemoteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._send(build(self._calls, *args, **kwargs))

    return mirror(method, build, "RemoteStore")


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


class RemoteStore:
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
        self.base_url = normalise_base_url(base_url)
        self.retries = Retries.coerce(retries)
        self._calls = Calls()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=client_headers(api_key, token, headers),
            timeout=timeout,
            transport=transport,
        )
        self._state: ClientState = "open"
        self.webhooks = RemoteWebhooks(self)
        """Webhook endpoints on the server: ``store.webhooks.add(url, events=["memory.*"])`` and friends."""
        self.events = RemoteEvents(self._http)
        """The server's event stream: ``store.events.feed(after=..., follow=True)`` (SSE) and ``.websocket()``."""

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._state == "closed"

    def _send(self, call: Call[R]) -> R:
        check_open(self._state)
        request = self._http.build_request(
            call.method,
            call.path,
            params=call.params,
            content=call.content(),
            headers={"Content-Type": "application/json"} if call.body is not None else None,
        )
        sleep = self.retries.sleep or time.sleep
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                wait = self.retries.after_error(error, call.idempotent, attempt)
                if wait is None:
                    raise connection_error(self.base_url, error) from error
                logger.info(
                    "%s %s: %s, try %d again in %.2fs", call.method, call.path, type(error).__name__, attempt + 1, wait
                )
                sleep(wait)
                continue
            if not response.is_success:
                wait = self.retries.after_status(response.status_code, call.idempotent, attempt, retry_after(response))
                if wait is not None:
                    logger.info(
                        "%s %s: HTTP %d, try %d again in %.2fs",
                        call.method,
                        call.path,
                        response.status_code,
                        attempt + 1,
                        wait,
                    )
                    sleep(wait)
                    continue
            return call.parse(response)

    def export(
        self,
        destination: str | os.PathLike[str] | IO[str],
        *,
        plaintext: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Write the memories in scope as a plaintext JSON Lines export, as ``MemoryStore.export(plaintext=True)``.

        Pages through ``list`` (oldest first); ``MemoryStore.import_`` reads the file. Only
        ``plaintext=True`` is possible here: an encrypted export needs the store key, which
        never leaves the server (a ValidationError naming ``plaintext`` says so).
        """
        check_plaintext(plaintext)
        scope = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        return export_over(self.list, self.stats, destination, scope)

    def ingest(
        self,
        paths: PathsArg,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        respect_gitignore: bool = True,
        include_hidden: bool = False,
        prune: bool = True,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Store files and directories as chunk memories on the server, as :meth:`MemoryStore.ingest` does.

        The files are read here and cut here; their chunks go to the server in batches, and
        re-ingesting replaces only what changed (the engine compares with the stored chunks
        through ``list``). Without ``user_id`` the chunks belong to the credential's user.
        Chunks are cut to the default ``limits.max_text_length``; see docs/client.md.
        """
        user = user_id if user_id is not None else self._send(whoami_call()).user_id
        return ingest_over(
            self,
            paths,
            user_id=user,
            agent_id=agent_id,
            run_id=run_id,
            tags=tags,
            metadata=metadata,
            include=include,
            exclude=exclude,
            respect_gitignore=respect_gitignore,
            include_hidden=include_hidden,
            prune=prune,
            chunk_size=chunk_size,
            max_file_bytes=max_file_bytes,
            on_progress=on_progress,
        )

    def close(self) -> None:
        """Close the connection pool. Idempotent; calls afterwards raise StoreClosedError."""
        if self._state == "closed":
            return
        self._state = "closed"
        self._http.close()

    def __repr__(self) -> str:
        return f"RemoteStore({self.base_url!r}, {'closed' if self.closed else 'open'})"

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
