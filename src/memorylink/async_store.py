"""AsyncMemoryStore: the async twin of MemoryStore, with the same method names.

Every call runs the sync store's method in a worker thread (``anyio.to_thread``), so
embedding, encryption and SQLite never block the event loop.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from memorylink._concurrency import run_sync_in_thread
from memorylink._inspect import StoreInfo
from memorylink.app_data import AppData
from memorylink.config import Settings
from memorylink.embedders.base import Embedder
from memorylink.events.emitter import EventEmitter
from memorylink.events.webhook_manager import WebhookManager
from memorylink.store import MemoryStore

__all__ = ["AsyncAppData", "AsyncMemoryStore", "AsyncWebhookManager"]

P = ParamSpec("P")
R = TypeVar("R")


def _offload(
    method: Callable[Concatenate[MemoryStore, P], R],
) -> Callable[Concatenate[AsyncMemoryStore, P], Coroutine[Any, Any, R]]:
    async def offloaded(self: AsyncMemoryStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await run_sync_in_thread(method, self.sync, *args, **kwargs)

    functools.update_wrapper(offloaded, method)
    return offloaded


def _offload_webhooks(
    method: Callable[Concatenate[WebhookManager, P], R],
) -> Callable[Concatenate[AsyncWebhookManager, P], Coroutine[Any, Any, R]]:
    async def offloaded(self: AsyncWebhookManager, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await run_sync_in_thread(method, self.sync, *args, **kwargs)

    functools.update_wrapper(offloaded, method)
    return offloaded


class AsyncWebhookManager:
    """Async twin of :class:`~memorylink.events.webhook_manager.WebhookManager` (``store.webhooks``)."""

    def __init__(self, manager: WebhookManager) -> None:
        self.sync = manager

    add = _offload_webhooks(WebhookManager.add)
    list = _offload_webhooks(WebhookManager.list)
    get = _offload_webhooks(WebhookManager.get)
    update = _offload_webhooks(WebhookManager.update)
    remove = _offload_webhooks(WebhookManager.remove)
    enable = _offload_webhooks(WebhookManager.enable)
    disable = _offload_webhooks(WebhookManager.disable)
    rotate_secret = _offload_webhooks(WebhookManager.rotate_secret)
    config = _offload_webhooks(WebhookManager.config)
    deliveries = _offload_webhooks(WebhookManager.deliveries)
    redeliver = _offload_webhooks(WebhookManager.redeliver)
    test = _offload_webhooks(WebhookManager.test)
    wants = _offload_webhooks(WebhookManager.wants)


def _offload_app_data(
    method: Callable[Concatenate[AppData, P], R],
) -> Callable[Concatenate[AsyncAppData, P], Coroutine[Any, Any, R]]:
    async def offloaded(self: AsyncAppData, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await run_sync_in_thread(method, self.sync, *args, **kwargs)

    functools.update_wrapper(offloaded, method)
    return offloaded


class AsyncAppData:
    """Async twin of :class:`~memorylink.app_data.AppData` (``store.app_data``)."""

    def __init__(self, app_data: AppData) -> None:
        self.sync = app_data

    get = _offload_app_data(AppData.get)
    get_json = _offload_app_data(AppData.get_json)
    entry = _offload_app_data(AppData.entry)
    put = _offload_app_data(AppData.put)
    put_json = _offload_app_data(AppData.put_json)
    update_json = _offload_app_data(AppData.update_json)
    delete = _offload_app_data(AppData.delete)
    entries = _offload_app_data(AppData.entries)
    count = _offload_app_data(AppData.count)


class AsyncMemoryStore:
    """Async twin of :class:`MemoryStore`: ``await store.add(...)``, ``await store.search(...)``.

    Open with ``await AsyncMemoryStore.open(...)`` (same arguments as ``MemoryStore.open``),
    or wrap an open sync store: ``AsyncMemoryStore(store)``.
    """

    def __init__(self, store: MemoryStore) -> None:
        self.sync = store
        self.webhooks = AsyncWebhookManager(store.webhooks)
        self.app_data = AsyncAppData(store.app_data)

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        passphrase: str | None = None,
        key: bytes | str | None = None,
        embedder: Embedder | None = None,
        settings: Settings | None = None,
        events: EventEmitter | None = None,
        create: bool = True,
        reembed: bool = False,
    ) -> AsyncMemoryStore:
        """Open a store without blocking the event loop; see :meth:`MemoryStore.open`."""
        store = await run_sync_in_thread(
            MemoryStore.open,
            path,
            passphrase=passphrase,
            key=key,
            embedder=embedder,
            settings=settings,
            events=events,
            create=create,
            reembed=reembed,
        )
        return cls(store)

    @staticmethod
    async def describe(path: str | os.PathLike[str]) -> StoreInfo:
        """The plaintext identity of a store (no key needed); see :meth:`MemoryStore.describe`."""
        return await run_sync_in_thread(MemoryStore.describe, path)

    @property
    def events(self) -> EventEmitter:
        return self.sync.events

    @property
    def settings(self) -> Settings:
        return self.sync.settings

    @property
    def path(self) -> Path | None:
        return self.sync.path

    @property
    def closed(self) -> bool:
        return self.sync.closed

    @property
    def embedder(self) -> Embedder:
        return self.sync.embedder

    add = _offload(MemoryStore.add)
    add_many = _offload(MemoryStore.add_many)
    add_messages = _offload(MemoryStore.add_messages)
    get = _offload(MemoryStore.get)
    update = _offload(MemoryStore.update)
    delete = _offload(MemoryStore.delete)
    delete_many = _offload(MemoryStore.delete_many)
    history = _offload(MemoryStore.history)
    list = _offload(MemoryStore.list)
    search = _offload(MemoryStore.search)
    search_by_vector = _offload(MemoryStore.search_by_vector)
    similar = _offload(MemoryStore.similar)
    stats = _offload(MemoryStore.stats)
    checkpoint = _offload(MemoryStore.checkpoint)
    check = _offload(MemoryStore.check)
    export = _offload(MemoryStore.export)
    import_ = _offload(MemoryStore.import_)
    ingest = _offload(MemoryStore.ingest)
    rotate_key = _offload(MemoryStore.rotate_key)
    emit = _offload(MemoryStore.emit)
    close = _offload(MemoryStore.close)

    async def __aenter__(self) -> AsyncMemoryStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
