"""The server's heap controls: glibc's malloc_trim called now and then, and a cap on malloc arenas."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import threading
import time

import pytest

from memorylink.server.heap import MallocTrimmer, limit_malloc_arenas, malloc_trim_function

WAIT_S = 10.0


def test_it_trims_every_interval_until_stopped() -> None:
    called = threading.Semaphore(0)

    def trim() -> int:
        called.release()
        return 1

    with MallocTrimmer(0.01, trim=trim) as trimmer:
        assert trimmer.active
        for _ in range(3):
            assert called.acquire(timeout=WAIT_S)
    assert not trimmer.active
    stopped_at = trimmer.trims
    assert stopped_at >= 3
    time.sleep(0.05)
    assert trimmer.trims == stopped_at  # no trim after stop()


def test_interval_zero_is_off() -> None:
    def trim() -> int:
        raise AssertionError("must not be called")

    with MallocTrimmer(0, trim=trim) as trimmer:
        assert not trimmer.active


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval_s must be >= 0"):
        MallocTrimmer(-1)


def test_a_failing_trim_is_logged_and_ends_the_thread(caplog: pytest.LogCaptureFixture) -> None:
    def trim() -> int:
        raise OSError("no heap")

    with MallocTrimmer(0.01, trim=trim) as trimmer:
        deadline = time.monotonic() + WAIT_S
        while trimmer.active and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not trimmer.active
    assert "malloc_trim failed" in caplog.text


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc has malloc_trim")
def test_glibc_trim_gives_freed_heap_pages_back() -> None:
    trim = malloc_trim_function()
    assert trim is not None
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    # Many small blocks (below the mmap threshold, so in the heap), freed: free space glibc keeps.
    blocks = [libc.malloc(4096) for _ in range(20_000)]
    keep = libc.malloc(64)  # above them, so the heap's top cannot just shrink
    for block in blocks:
        libc.free(block)
    assert trim() == 1  # some memory was released to the OS
    libc.free(keep)


def test_a_malloc_arena_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="count must be >= 1"):
        limit_malloc_arenas(0)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc has mallopt(M_ARENA_MAX)")
@pytest.mark.parametrize(("environment", "expected"), [({}, "True"), ({"MALLOC_ARENA_MAX": "4"}, "False")])
def test_the_arena_limit_is_set_unless_the_environment_chose_one(environment: dict[str, str], expected: str) -> None:
    # In a child: the limit is for the whole process, and this one has threads already.
    code = "from memorylink.server.heap import limit_malloc_arenas; print(limit_malloc_arenas(2))"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | environment
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
