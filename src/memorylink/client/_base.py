"""The sans-I/O half of the remote client, shared by RemoteStore and AsyncRemoteStore.

:class:`Calls` has one method per store method, with the store's exact signature; each
returns a :class:`Call`: the HTTP request that method stands for (REST contract,
``docs/client.md``), whether sending it twice is harmless, and how to read the answer
back into the library's models. The sync and async classes only send calls
(``_sync.py`` / ``_async.py``), so both speak the same protocol by construction.
"""

from __future__ import annotations

import builtins
import inspect
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import pydantic

from memorylink._version import __version__
from memorylink.client._errors import error_from_response, read_error_body
from memorylink.errors import RemoteError, StoreClosedError, ValidationError
from memorylink.events.retry import RetryPolicy
from memorylink.events.sender import SendResult
from memorylink.events.webhook_manager import _UNSET  # the same "not given" marker, so signatures are one
from memorylink.events.webhooks import Delivery, NewWebhook, WebhookEndpoint
from memorylink.filters import Filter
from memorylink.models import (
    BatchResult,
    ListOrder,
    Memory,
    MemoryVersion,
    Message,
    NewMemory,
    Page,
    SearchMode,
    SearchResult,
    SortBy,
    StoreStats,
    check_unicode,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from memorylink._writes import ProgressCallback

__all__ = [
    "API",
    "NOT_REMOTE",
    "NOT_REMOTE_WEBHOOKS",
    "Call",
    "Calls",
    "WebhookCalls",
    "client_headers",
    "model_reader",
    "mirror",
    "normalise_base_url",
]

API = "/api/v1"

NOT_REMOTE: dict[str, str] = {
    "open": "a client opens no files: RemoteStore(base_url, api_key=...) is its constructor",
    "describe": "reads a store directory on the local disk; the server's store is on the server host",
    "rotate_key": "the store key never leaves the server host: run `memorylink rotate-key` there",
    "checkpoint": "writes the index snapshot on the server host, which does it at close and on its own schedule",
    "check": "decrypts every record on the server host; GET /health/ready is the remote readiness check",
    "import_": "an import keeps ids and timestamps, which the REST API does not let a caller set; use add_many",
    "emit": "publishes the server's own events (auth.login, api_key.used); callers cannot inject events",
}
"""MemoryStore methods RemoteStore does not have, and why (a test keeps this list exact)."""

NOT_REMOTE_WEBHOOKS: dict[str, str] = {
    "config": "returns every secret and bearer token of an endpoint; the server never sends them back",
    "wants": "an in-process cache check of the store's delivery worker, keyed by the storage's data version",
}
"""WebhookManager methods ``RemoteStore.webhooks`` does not have, and why."""

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Call(Generic[R]):
    """One HTTP request a store method stands for, and how to read its answer.

    Attributes:
        method: The HTTP method.
        path: The path under the base URL (ids already quoted).
        parse: Reads any answer that is not retried: the result, or raises the rebuilt error.
        params: Query parameters, in order (a name may repeat).
        body: The JSON body, or None.
        idempotent: Sending it twice leaves the store as sending it once (see ``_retry.py``).
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], R]
    params: tuple[tuple[str, str], ...] = ()
    body: Any = None
    idempotent: bool = True

    def content(self) -> bytes | None:
        """The encoded body."""
        if self.body is None:
            return None
        text = json.dumps(self.body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        try:
            return text.encode()
        except UnicodeEncodeError:
            # A lone surrogate: JSON spells it as an escape, and the server refuses it as the
            # store does, naming the same field.
            return json.dumps(self.body, separators=(",", ":"), allow_nan=False).encode()


# -- arguments to JSON ------------------------------------------------------------------


def jsonable(value: Any, field: str) -> Any:
    """``value`` as plain JSON (dates as ISO strings, filters as dicts), or a ValidationError naming ``field``."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{field} holds {value}, which JSON cannot carry", field=field)
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Filter):
        return value.to_dict()
    if isinstance(value, pydantic.BaseModel):
        return jsonable(value.model_dump(mode="json"), field)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{field} has a key that is not a string: {key!r}", field=field)
            out[key] = jsonable(item, f"{field}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [jsonable(item, f"{field}[{index}]") for index, item in enumerate(value)]
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return jsonable(tolist(), field)
    raise ValidationError(f"{field} holds a {type(value).__name__}, which cannot be sent as JSON", field=field)


def _scope(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, Any]:
    return {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}


def _body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the given arguments; None means "not given" and is left out."""
    return {name: jsonable(value, name) for name, value in fields.items() if value is not None}


def _params(**fields: Any) -> tuple[tuple[str, str], ...]:
    """Query parameters; lists repeat the name, mappings and filters travel as JSON text."""
    out: builtins.list[tuple[str, str]] = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            out.extend((name, _url_safe(str(jsonable(item, f"{name}[{i}]")), name)) for i, item in enumerate(value))
        elif isinstance(value, Mapping | Filter):
            out.append((name, json.dumps(jsonable(value, name), separators=(",", ":"), allow_nan=False)))
        elif isinstance(value, bool):
            out.append((name, "true" if value else "false"))
        else:
            out.append((name, _url_safe(str(jsonable(value, name)), name)))
    return tuple(out)


def _url_safe(value: str, field: str) -> str:
    """A query parameter's text; a ValidationError, as the store raises, when UTF-8 cannot carry it."""
    check_unicode(value, field)
    return value


def _strings(values: Iterable[str] | None) -> builtins.list[str] | None:
    return None if values is None else builtins.list(values)


def _date_range(
    date_range: tuple[datetime | str | None, datetime | str | None] | None,
) -> builtins.list[Any] | None:
    if date_range is None:
        return None
    if not isinstance(date_range, tuple | list) or len(date_range) != 2:
        raise ValidationError("date_range must be a (start, end) pair", field="date_range")
    return [jsonable(end, "date_range") for end in date_range]


def _id(value: str) -> str:
    if not isinstance(value, str):
        raise ValidationError("id must be a string", field="id")
    return quote(value, safe="")


# -- answers to models -------------------------------------------------------------------


def _check(response: httpx.Response) -> None:
    if not response.is_success:
        raise error_from_response(response)


def model_reader(adapter: pydantic.TypeAdapter[R]) -> Callable[[httpx.Response], R]:
    """A ``Call.parse`` that raises the rebuilt error of a non-2xx answer, else validates the body with ``adapter``."""

    def parse(response: httpx.Response) -> R:
        _check(response)
        try:
            return adapter.validate_json(response.content)
        except pydantic.ValidationError:
            # Not this server's answer (a proxy's or captive portal's page, a wrong base_url).
            raise RemoteError(
                f"the server answered HTTP {response.status_code} with a body that is not a memorylink answer",
                code="bad_response",
                status=response.status_code,
            ) from None

    return parse


def _is_missing(response: httpx.Response) -> bool:
    """A 404 the server answered for a missing record (naming its id), not for a missing route."""
    body = read_error_body(response) if response.status_code == 404 else None
    return body is not None and body["code"] == "not_found" and "id" in body["details"]


def _memory_or_none(response: httpx.Response) -> Memory | None:
    if _is_missing(response):
        return None
    return _MEMORY(response)


def _deleted(response: httpx.Response) -> bool:
    if _is_missing(response):
        return False
    _check(response)
    return True


def _deleted_count(response: httpx.Response) -> int:
    _check(response)
    data = response.json()
    if not isinstance(data, dict) or not isinstance(data.get("deleted"), int):
        raise ValidationError("the server's delete answer has no 'deleted' count", field="deleted")
    count: int = data["deleted"]
    return count


def _with_progress(
    parse: Callable[[httpx.Response], BatchResult], on_progress: ProgressCallback | None, total: int
) -> Callable[[httpx.Response], BatchResult]:
    if on_progress is None:
        return parse

    def parsed(response: httpx.Response) -> BatchResult:
        result = parse(response)
        on_progress(total, total)  # one request: done once it answered
        return result

    return parsed


_MEMORY = model_reader(pydantic.TypeAdapter(Memory))
_PAGE = model_reader(pydantic.TypeAdapter(Page[Memory]))
_VERSIONS = model_reader(pydantic.TypeAdapter(builtins.list[MemoryVersion]))
_SEARCH = model_reader(pydantic.TypeAdapter(SearchResult))
_BATCH = model_reader(pydantic.TypeAdapter(BatchResult))
_STATS = model_reader(pydantic.TypeAdapter(StoreStats))
_NEW_WEBHOOK = model_reader(pydantic.TypeAdapter(NewWebhook))
_WEBHOOK = model_reader(pydantic.TypeAdapter(WebhookEndpoint))
_WEBHOOKS = model_reader(pydantic.TypeAdapter(builtins.list[WebhookEndpoint]))
_DELIVERY = model_reader(pydantic.TypeAdapter(Delivery))
_DELIVERIES = model_reader(pydantic.TypeAdapter(builtins.list[Delivery]))
_SEND_RESULT = model_reader(pydantic.TypeAdapter(SendResult))


def _batch_item(item: Any, index: int) -> Any:
    if isinstance(item, NewMemory):
        return item.model_dump(mode="json")
    return jsonable(item, f"items[{index}]")


# -- the calls ---------------------------------------------------------------------------


class Calls:
    """Builds the request of every remote store method; no I/O (the REST contract in one place)."""

    def add(
        self,
        text: str,
        *,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        dedupe: bool = False,
    ) -> Call[Memory]:
        """Store one memory and return it (``POST /api/v1/memories``); see :meth:`MemoryStore.add`.

        Without ``user_id`` the server decides: a credential stores under its own user.
        With ``dedupe=True`` a near-identical memory of the same scope is returned instead.
        """
        body = _body(
            text=text, tags=_strings(tags), metadata=metadata, dedupe=dedupe, **_scope(user_id, agent_id, run_id)
        )
        return Call("POST", f"{API}/memories", _MEMORY, body=body, idempotent=False)

    def add_many(
        self,
        items: Iterable[NewMemory | Mapping[str, Any] | str],
        *,
        on_progress: ProgressCallback | None = None,
        dedupe: bool = False,
    ) -> Call[BatchResult]:
        """Store many memories in one request (``POST /api/v1/memories/batch``); a bad item fails alone.

        ``on_progress(total, total)`` is called once, when the server has answered.
        """
        batch = [_batch_item(item, index) for index, item in enumerate(items)]
        parse = _with_progress(_BATCH, on_progress, len(batch))
        body = {"items": batch, "dedupe": dedupe}
        return Call("POST", f"{API}/memories/batch", parse, body=body, idempotent=False)

    def add_messages(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> Call[BatchResult]:
        """Store a conversation as memories of one run (``POST /api/v1/memories/messages``)."""
        turns = [jsonable(message, f"messages[{index}]") for index, message in enumerate(messages)]
        body = {
            "messages": turns,
            **_body(tags=_strings(tags), metadata=metadata, **_scope(user_id, agent_id, run_id)),
        }
        return Call("POST", f"{API}/memories/messages", _BATCH, body=body, idempotent=False)

    def get(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Call[Memory | None]:
        """The memory with this id (in scope), or None (``GET /api/v1/memories/{id}``)."""
        params = _params(**_scope(user_id, agent_id, run_id))
        return Call("GET", f"{API}/memories/{_id(memory_id)}", _memory_or_none, params=params)

    def update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Call[Memory]:
        """Change a memory's text, tags and/or metadata (``PATCH /api/v1/memories/{id}``); keeps history."""
        body = _body(text=text, tags=_strings(tags), metadata=metadata)
        params = _params(**_scope(user_id, agent_id, run_id))
        return Call("PATCH", f"{API}/memories/{_id(memory_id)}", _MEMORY, params=params, body=body)

    def delete(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Call[bool]:
        """Delete a memory and its history; False if there was none in scope (``DELETE /api/v1/memories/{id}``).

        A delete retried after a lost answer reports False: the first try deleted it.
        """
        params = _params(**_scope(user_id, agent_id, run_id))
        return Call("DELETE", f"{API}/memories/{_id(memory_id)}", _deleted, params=params)

    def delete_many(
        self,
        ids: Iterable[str] | None = None,
        *,
        filter: Mapping[str, Any] | Filter | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Call[int]:
        """Delete the given ids, or every memory matching ``filter`` in scope (``POST /api/v1/memories/delete``).

        Returns the count deleted. As locally, with neither ids nor filter nor a scope
        nothing is deleted; pass ``filter={}`` to delete everything in scope on purpose.
        """
        body = _body(ids=_strings(ids), filter=filter, **_scope(user_id, agent_id, run_id))
        return Call("POST", f"{API}/memories/delete", _deleted_count, body=body)

    def history(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Call[list[MemoryVersion]]:
        """Every version of a memory, oldest first (``GET /api/v1/memories/{id}/history``)."""
        params = _params(**_scope(user_id, agent_id, run_id))
        return Call("GET", f"{API}/memories/{_id(memory_id)}/history", _VERSIONS, params=params)

    def list(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filter: Mapping[str, Any] | Filter | None = None,
        tags: Sequence[str] | None = None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        order: ListOrder = "created_desc",
        limit: int = 50,
        cursor: str | None = None,
    ) -> Call[Page[Memory]]:
        """A page of memories in scope (``GET /api/v1/memories``); pass ``next_cursor`` back for more."""
        start, end = _date_range(date_range) or (None, None)
        params = _params(
            **_scope(user_id, agent_id, run_id),
            filter=filter,
            tags=_strings(tags),
            date_from=start,
            date_to=end,
            metadata=metadata,
            order=order,
            limit=limit,
            cursor=cursor,
        )
        return Call("GET", f"{API}/memories", _PAGE, params=params)

    def search(
        self,
        query: str,
        *,
        top_k: int = 10,
        threshold: float | None = None,
        filter: Mapping[str, Any] | Filter | None = None,
        tags: Sequence[str] | None = None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        sort_by: SortBy = "relevance",
        include_similar: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        mode: SearchMode = "hybrid",
        mmr: bool = False,
    ) -> Call[SearchResult]:
        """Find memories by meaning (``POST /api/v1/memories/search``); see :meth:`MemoryStore.search`."""
        body = _body(
            query=query,
            mode=mode,
            mmr=mmr,
            top_k=top_k,
            threshold=threshold,
            filter=filter,
            tags=_strings(tags),
            date_range=_date_range(date_range),
            metadata=metadata,
            sort_by=sort_by,
            include_similar=include_similar,
            **_scope(user_id, agent_id, run_id),
        )
        return Call("POST", f"{API}/memories/search", _SEARCH, body=body)

    def search_by_vector(
        self,
        vector: Sequence[float] | npt.NDArray[np.floating[Any]],
        *,
        top_k: int = 10,
        threshold: float | None = None,
        filter: Mapping[str, Any] | Filter | None = None,
        tags: Sequence[str] | None = None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        sort_by: SortBy = "relevance",
        include_similar: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        mmr: bool = False,
    ) -> Call[SearchResult]:
        """:meth:`search` with a query vector of the server store's embedder (``POST .../search/vector``)."""
        values = jsonable(vector, "vector")
        if not isinstance(values, builtins.list):
            raise ValidationError("vector must be a sequence of numbers", field="vector")
        body = _body(
            vector=values,
            mmr=mmr,
            top_k=top_k,
            threshold=threshold,
            filter=filter,
            tags=_strings(tags),
            date_range=_date_range(date_range),
            metadata=metadata,
            sort_by=sort_by,
            include_similar=include_similar,
            **_scope(user_id, agent_id, run_id),
        )
        return Call("POST", f"{API}/memories/search/vector", _SEARCH, body=body)

    def similar(
        self,
        memory_id: str,
        *,
        top_k: int = 5,
        threshold: float | None = None,
        filter: Mapping[str, Any] | Filter | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Call[SearchResult]:
        """Memories most similar to an existing one, itself excluded (``GET /api/v1/memories/{id}/similar``)."""
        params = _params(top_k=top_k, threshold=threshold, filter=filter, **_scope(user_id, agent_id, run_id))
        return Call("GET", f"{API}/memories/{_id(memory_id)}/similar", _SEARCH, params=params)

    def stats(self) -> Call[StoreStats]:
        """Counts, sizes and identity of the server's store (``GET /api/v1/stats``; an admin credential)."""
        return Call("GET", f"{API}/stats", _STATS)


class WebhookCalls:
    """Builds the request of every remote ``store.webhooks`` method (``/api/v1/webhooks``)."""

    def add(
        self,
        url: str,
        *,
        events: Iterable[str] | str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        secret: str | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | Mapping[str, Any] | None = None,
        bearer_token: str | None = None,
        include_text: bool = False,
        description: str | None = None,
        enabled: bool = True,
    ) -> Call[NewWebhook]:
        """Register an endpoint; the answer carries its signing secret, once (``POST /api/v1/webhooks``)."""
        body = _body(
            url=url,
            events=events if isinstance(events, str) or events is None else builtins.list(events),
            secret=secret,
            timeout_s=timeout_s,
            retry=retry,
            bearer_token=bearer_token,
            include_text=include_text,
            description=description,
            enabled=enabled,
            **_scope(user_id, agent_id, run_id),
        )
        return Call("POST", f"{API}/webhooks", _NEW_WEBHOOK, body=body, idempotent=False)

    def list(self) -> Call[builtins.list[WebhookEndpoint]]:
        """Every endpoint this credential may see, oldest first (``GET /api/v1/webhooks``)."""
        return Call("GET", f"{API}/webhooks", _WEBHOOKS)

    def get(self, webhook_id: str) -> Call[WebhookEndpoint]:
        """One endpoint (``GET /api/v1/webhooks/{id}``). Raises NotFoundError."""
        return Call("GET", f"{API}/webhooks/{_id(webhook_id)}", _WEBHOOK)

    def update(
        self,
        webhook_id: str,
        *,
        url: str = _UNSET,
        events: Iterable[str] | str | None = _UNSET,
        user_id: str | None = _UNSET,
        agent_id: str | None = _UNSET,
        run_id: str | None = _UNSET,
        timeout_s: float = _UNSET,
        retry: RetryPolicy | Mapping[str, Any] | None = _UNSET,
        bearer_token: str | None = _UNSET,
        include_text: bool = _UNSET,
        description: str | None = _UNSET,
    ) -> Call[WebhookEndpoint]:
        """Change the given settings; ``None`` clears an optional one (``PATCH /api/v1/webhooks/{id}``)."""
        given: dict[str, Any] = {
            "url": url,
            "events": events,
            "user_id": user_id,
            "agent_id": agent_id,
            "run_id": run_id,
            "timeout_s": timeout_s,
            "retry": retry,
            "bearer_token": bearer_token,
            "include_text": include_text,
            "description": description,
        }
        body: dict[str, Any] = {}
        for name, value in given.items():
            if value is _UNSET:
                continue
            if name == "events" and value is not None and not isinstance(value, str):
                value = builtins.list(value)
            body[name] = jsonable(value, name)  # None travels: it clears the setting
        return Call("PATCH", f"{API}/webhooks/{_id(webhook_id)}", _WEBHOOK, body=body)

    def remove(self, webhook_id: str) -> Call[bool]:
        """Delete an endpoint and its delivery records; False if there was none (``DELETE /api/v1/webhooks/{id}``)."""
        return Call("DELETE", f"{API}/webhooks/{_id(webhook_id)}", _deleted)

    def enable(self, webhook_id: str) -> Call[WebhookEndpoint]:
        """Resume delivery (``PATCH /api/v1/webhooks/{id}`` with ``enabled: true``)."""
        return Call("PATCH", f"{API}/webhooks/{_id(webhook_id)}", _WEBHOOK, body={"enabled": True})

    def disable(self, webhook_id: str) -> Call[WebhookEndpoint]:
        """Pause delivery; events keep queueing (``PATCH /api/v1/webhooks/{id}`` with ``enabled: false``)."""
        return Call("PATCH", f"{API}/webhooks/{_id(webhook_id)}", _WEBHOOK, body={"enabled": False})

    def rotate_secret(
        self, webhook_id: str, *, secret: str | None = None, keep_old_for_s: float = 86_400.0
    ) -> Call[NewWebhook]:
        """Start signing with a new secret, the old one still signing for ``keep_old_for_s`` seconds.

        ``POST /api/v1/webhooks/{id}/rotate-secret``; the answer carries the new secret, once.
        """
        body = _body(secret=secret, keep_old_for_s=keep_old_for_s)
        return Call(
            "POST", f"{API}/webhooks/{_id(webhook_id)}/rotate-secret", _NEW_WEBHOOK, body=body, idempotent=False
        )

    def deliveries(
        self, webhook_id: str, *, state: str | None = None, limit: int = 100
    ) -> Call[builtins.list[Delivery]]:
        """Delivery records of an endpoint, newest event first (``GET /api/v1/webhooks/{id}/deliveries``)."""
        params = _params(state=state, limit=limit)
        return Call("GET", f"{API}/webhooks/{_id(webhook_id)}/deliveries", _DELIVERIES, params=params)

    def redeliver(self, webhook_id: str, event_id: str) -> Call[Delivery]:
        """Queue an event for this endpoint again (``POST .../deliveries/{event_id}/redeliver``)."""
        path = f"{API}/webhooks/{_id(webhook_id)}/deliveries/{_id(event_id)}/redeliver"
        return Call("POST", path, _DELIVERY)

    def test(self, webhook_id: str) -> Call[SendResult]:
        """Have the server send one signed ``webhook.test`` event now (``POST /api/v1/webhooks/{id}/test``)."""
        return Call("POST", f"{API}/webhooks/{_id(webhook_id)}/test", _SEND_RESULT, idempotent=False)


# -- what the sync and async classes share -----------------------------------------------


def mirror(method: F, build: Callable[..., Any], owner: str, returns: str | None = None) -> F:
    """``method`` (which sends ``build``'s call) named, documented and signed like ``build``.

    The signature is the builder's with ``Call[X]`` returned as ``X``, or with ``returns``
    when given (a builder of a job, which the method runs): the store method's own, which
    the parity tests compare.
    """
    signature = inspect.signature(build)
    returned = signature.return_annotation
    if returns is None:
        if not (isinstance(returned, str) and returned.startswith("Call[") and returned.endswith("]")):
            raise TypeError(f"{build.__qualname__} must be annotated to return Call[...]")
        returns = returned[5:-1]
    method.__name__ = build.__name__
    method.__qualname__ = f"{owner}.{build.__name__}"
    method.__doc__ = build.__doc__
    method.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    return method


def normalise_base_url(base_url: str) -> str:
    """The server's root URL without a trailing slash; a ValidationError for anything but http(s)."""
    if not isinstance(base_url, str):
        raise ValidationError("base_url must be a string such as 'http://127.0.0.1:8000'", field="base_url")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            f"base_url must be an http(s) URL such as 'http://127.0.0.1:8000', not {base_url!r}", field="base_url"
        )
    return base_url.rstrip("/")


def client_headers(api_key: str | None, token: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    """Headers of every request: the credential (``X-API-Key`` or a bearer token) and the user agent."""
    if api_key is not None and token is not None:
        raise ValidationError("give api_key or token, not both", field="token")
    out = {"User-Agent": f"memorylink-client/{__version__}", "Accept": "application/json"}
    out.update(headers or {})
    if api_key is not None:
        out["X-API-Key"] = api_key
    if token is not None:
        out["Authorization"] = f"Bearer {token}"
    return out


ClientState = Literal["open", "closed"]


def check_open(state: ClientState) -> None:
    """Raise StoreClosedError once the client is closed, like a closed local store."""
    if state == "closed":
        raise StoreClosedError("the remote store client is closed")
