"""The one place that owns locks and thread hand-off.

hnswlib must never be written while it is being queried, so the store guards its
in-memory state (vector index, catalog) with a readers-writer lock: many searches
at once, one writer alone. SQLite's own locking covers other processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread

__all__ = ["ReadWriteLock", "run_sync_in_thread"]

P = ParamSpec("P")
R = TypeVar("R")


class ReadWriteLock:
    """A writer-preferring readers-writer lock. Not reentrant for writers.

    ``with lock.read():`` / ``with lock.write():``; the guards are plain objects rather
    than generator context managers because every search takes the read side several times.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._read_guard = _ReadGuard(self)
        self._write_guard = _WriteGuard(self)

    def read(self) -> _ReadGuard:
        return self._read_guard

    def write(self) -> _WriteGuard:
        return self._write_guard

    def _acquire_read(self) -> None:
        with self._condition:
            while self._writer or self._writers_waiting:
                self._condition.wait()
            self._readers += 1

    def _release_read(self) -> None:
        with self._condition:
            self._readers -= 1
            # Readers only ever wait for writers, so only a waiting writer needs waking.
            if self._readers == 0 and self._writers_waiting:
                self._condition.notify_all()

    def _acquire_write(self) -> None:
        with self._condition:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True

    def _release_write(self) -> None:
        with self._condition:
            self._writer = False
            self._condition.notify_all()


class _ReadGuard:
    __slots__ = ("_lock",)

    def __init__(self, lock: ReadWriteLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock._acquire_read()

    def __exit__(self, *exc: object) -> None:
        self._lock._release_read()


class _WriteGuard:
    __slots__ = ("_lock",)

    def __init__(self, lock: ReadWriteLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock._acquire_write()

    def __exit__(self, *exc: object) -> None:
        self._lock._release_write()


def new_mutex() -> threading.RLock:
    """A reentrant mutex for short critical sections (SQLite connection use)."""
    return threading.RLock()


async def run_sync_in_thread(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run blocking ``func`` in a worker thread without blocking the event loop."""

    def call() -> R:
        return func(*args, **kwargs)

    return await anyio.to_thread.run_sync(call)
