"""The one place that owns locks and thread hand-off.

hnswlib must never be written while it is being queried, so the store guards its
in-memory state (vector index, catalog) with a readers-writer lock: many searches
at once, one writer alone. SQLite's own locking covers other processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import anyio.to_thread

__all__ = ["ReadWriteLock", "run_sync_in_thread"]

P = ParamSpec("P")
R = TypeVar("R")


class ReadWriteLock:
    """A writer-preferring readers-writer lock. Not reentrant for writers."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._condition:
            while self._writer or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if self._readers == 0:
                    self._condition.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._condition:
                self._writer = False
                self._condition.notify_all()


def new_mutex() -> threading.RLock:
    """A reentrant mutex for short critical sections (SQLite connection use)."""
    return threading.RLock()


async def run_sync_in_thread(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run blocking ``func`` in a worker thread without blocking the event loop."""

    def call() -> R:
        return func(*args, **kwargs)

    return await anyio.to_thread.run_sync(call)
