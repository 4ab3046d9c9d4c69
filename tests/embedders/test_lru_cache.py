"""LruCache: bounded, thread-safe least-recently-used cache."""

from __future__ import annotations

import threading

import pytest

from memorylink.embedders import LruCache
from memorylink.errors import ValidationError


def test_get_put_len_and_counters() -> None:
    cache: LruCache[str, int] = LruCache(maxsize=3)
    assert cache.get("a") is None
    assert cache.get("a", -1) == -1
    cache.put("a", 1)
    assert cache.get("a") == 1
    assert len(cache) == 1
    assert "a" in cache
    assert (cache.hits, cache.misses) == (1, 2)


def test_evicts_least_recently_used() -> None:
    cache: LruCache[str, int] = LruCache(maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent; "b" is next to go
    cache.put("c", 3)
    assert "b" not in cache
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    cache.put("a", 10)  # updating refreshes too
    cache.put("d", 4)
    assert "c" not in cache
    assert cache.get("a") == 10
    assert len(cache) == 2


def test_contains_does_not_refresh() -> None:
    cache: LruCache[str, int] = LruCache(maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert "a" in cache
    cache.put("c", 3)
    assert "a" not in cache
    assert (cache.hits, cache.misses) == (0, 0)


def test_maxsize_zero_disables() -> None:
    cache: LruCache[str, int] = LruCache(maxsize=0)
    cache.put("a", 1)
    assert len(cache) == 0
    assert cache.get("a") is None
    assert cache.misses == 1


def test_clear_resets_entries_and_counters() -> None:
    cache: LruCache[int, str] = LruCache(maxsize=4)
    cache.put(1, "x")
    cache.get(1)
    cache.get(2)
    cache.clear()
    assert len(cache) == 0
    assert (cache.hits, cache.misses) == (0, 0)
    assert cache.maxsize == 4


@pytest.mark.parametrize("maxsize", [-1, 1.5, True])
def test_rejects_bad_maxsize(maxsize: object) -> None:
    with pytest.raises(ValidationError, match="maxsize"):
        LruCache(maxsize=maxsize)  # type: ignore[arg-type]


def test_thread_safety_smoke() -> None:
    cache: LruCache[int, int] = LruCache(maxsize=64)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(seed: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(5_000):
                key = (i * 7 + seed) % 200
                value = cache.get(key)
                if value is not None and value != key * 2:
                    errors.append(AssertionError(f"bad value for {key}: {value}"))
                cache.put(key, key * 2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(cache) <= 64
    assert cache.hits + cache.misses == 8 * 5_000
