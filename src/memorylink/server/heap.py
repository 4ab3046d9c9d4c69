"""Keep a long-running server's C heap from creeping up: fewer glibc arenas, trimmed now and then.

A server's worker threads allocate and free from several glibc arenas (up to eight per core
by default); what they free stays resident as free space inside the arenas, so the
process's RSS creeps up while the memory it really uses stays flat
(``python benchmarks/bench_server_heap.py`` splits the two). Two glibc controls help, and
``memorylink serve`` uses both: :func:`limit_malloc_arenas` (``mallopt(M_ARENA_MAX)``, what
the ``MALLOC_ARENA_MAX`` environment variable sets) before the worker threads start, and a
:class:`MallocTrimmer` calling ``malloc_trim(0)``, which gives the free pages back and
takes well under a millisecond on a server's heap. Where the C library lacks them (musl,
macOS, Windows) both do nothing. Dask's workers release unmanaged memory the same way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import threading
from collections.abc import Callable
from types import TracebackType

__all__ = ["MallocTrimmer", "limit_malloc_arenas", "malloc_trim_function"]

logger = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache  # find_library runs ldconfig: once per process
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def limit_malloc_arenas(count: int) -> bool:
    """Let glibc's allocator use at most ``count`` arenas from now on (call before threads start).

    Returns whether the limit was set: not where the C library has no ``mallopt`` arena
    control, nor when the process was started with ``MALLOC_ARENA_MAX`` (that choice stands).
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, count))


def malloc_trim_function() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)`` as a callable (1 if memory was released), or None without one."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


class MallocTrimmer:
    """A daemon thread that calls ``malloc_trim(0)`` every ``interval_s`` while the trimmer is open.

    Use it as a context manager around a server's run; ``interval_s=0`` (or a C library
    without ``malloc_trim``) makes it a no-op.
    """

    def __init__(self, interval_s: float = 10.0, *, trim: Callable[[], int] | None = None) -> None:
        if interval_s < 0:
            raise ValueError(f"interval_s must be >= 0 (0: off), got {interval_s}")
        self.interval_s = interval_s
        self._trim = trim if trim is not None else (malloc_trim_function() if interval_s else None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.trims = 0
        """How many times it trimmed so far."""

    @property
    def active(self) -> bool:
        """Whether the thread runs (a positive interval, and a ``malloc_trim`` to call)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None or not self.interval_s:
            return
        if self._trim is None:
            logger.debug("no malloc_trim in this C library; the heap is not trimmed")
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="memorylink-malloc-trim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        assert self._trim is not None
        while not self._stop.wait(self.interval_s):
            try:
                released = self._trim()
            except Exception:  # a trim is an optimisation: never let it end the thread unlogged
                logger.exception("malloc_trim failed; the heap is no longer trimmed")
                return
            self.trims += 1
            logger.debug("malloc_trim: %s", "memory released" if released else "nothing to release")

    def __enter__(self) -> MallocTrimmer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
