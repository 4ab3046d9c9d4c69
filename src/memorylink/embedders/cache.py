"""A small, bounded, thread-safe least-recently-used cache (e.g. query text -> vector)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar, overload

from memorylink.errors import ValidationError

__all__ = ["LruCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")


class LruCache(Generic[K, V]):
    """A bounded mapping that evicts the least recently used entry when full.

    ``get`` and ``put`` both count as a use. All methods are safe to call from several
    threads (one internal lock, held only for dictionary operations).

    Args:
        maxsize: Most entries kept (>= 0). ``0`` disables the cache: ``put`` stores
            nothing and every ``get`` is a miss.

    Raises:
        ValidationError: If ``maxsize`` is negative or not an integer.

    Example:
        >>> cache: LruCache[str, int] = LruCache(maxsize=2)
        >>> cache.put("a", 1)
        >>> cache.get("a")
        1
    """

    def __init__(self, maxsize: int = 1024) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 0:
            raise ValidationError(f"maxsize must be an integer >= 0, got {maxsize!r}", field="maxsize")
        self._maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def __repr__(self) -> str:
        return f"LruCache(maxsize={self._maxsize}, size={len(self)}, hits={self._hits}, misses={self._misses})"

    @property
    def maxsize(self) -> int:
        """Most entries the cache keeps (``0`` means disabled)."""
        return self._maxsize

    @property
    def hits(self) -> int:
        """Number of :meth:`get` calls that found their key."""
        return self._hits

    @property
    def misses(self) -> int:
        """Number of :meth:`get` calls that did not find their key."""
        return self._misses

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key: K, default: D | None = None) -> V | D | None:
        """Return the value for ``key`` and mark it most recently used.

        Args:
            key: The key to look up.
            default: What to return when ``key`` is absent.

        Returns:
            The cached value, or ``default``.
        """
        with self._lock:
            try:
                value = self._data[key]
            except KeyError:
                self._misses += 1
                return default
            self._data.move_to_end(key)
            self._hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key`` (most recently used), evicting the oldest entry if full.

        Args:
            key: The key.
            value: The value; it is stored as is (not copied).
        """
        if self._maxsize == 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry and reset the hit and miss counters."""
        with self._lock:
            self._data.clear()
            self._hits = 0
            self._misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is cached; does not count as a use, a hit or a miss."""
        with self._lock:
            return key in self._data
