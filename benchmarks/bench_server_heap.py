"""Where a server's heap goes: the leak check's request mix against a server in this process.

``bench_server_leak.py`` sees the server from outside (its RSS). This benchmark runs the same
server (``create_app`` under uvicorn in a thread, the store opened as ``memorylink serve``
opens it: no SQLite memory map, at most 2 malloc arenas, the outbox always written) and the
same seeded mix of requests in one process, so that after every step it can split the
anonymous memory into what glibc's allocator has handed out (``mallinfo2().uordblks``), what it holds free inside
its arenas (``fordblks``), SQLite's own allocations (``sqlite3_memory_used``) and Python's
object count. Each step is measured twice: as it is, then right after ``malloc_trim(0)``,
which is what ``memorylink serve`` does every 10 s (``--malloc-trim-s``).

Linux with glibc only (``mallinfo2`` needs glibc 2.33). Nothing asserts a figure.

    python benchmarks/bench_server_heap.py [--quick]
"""

from __future__ import annotations

import _sqlite3
import argparse
import asyncio
import ctypes
import gc
import os
import threading
import time
from typing import Any

import uvicorn

from bench_server_leak import Load
from common import KEY, make_texts, parse_args, print_table, workdir, write_results
from memorylink import EventSettings, MemoryStore, Settings
from memorylink.embedders.known import embedder_named
from memorylink.server.heap import limit_malloc_arenas, malloc_trim_function
from server_child import ServerProcess, benchmark_app, loopback_socket

NAME = "server_heap"
SEED_MEMORIES = 200
START_TIMEOUT_S = 30.0


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    return libc


def _sqlite_memory_used() -> Any:
    function = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    function.restype = ctypes.c_int64
    return function


def status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class Sampler:
    def __init__(self) -> None:
        self.libc = _libc()
        self.sqlite_used = _sqlite_memory_used()

    def sample(self) -> dict[str, Any]:
        gc.collect()
        info = self.libc.mallinfo2()
        return {
            "rss_anon_bytes": status_kib("RssAnon") * 1024,
            "malloc_in_use_bytes": info.uordblks + info.hblkhd,
            "malloc_free_in_arenas_bytes": info.fordblks,
            "sqlite_bytes": int(self.sqlite_used()),
            "python_objects": len(gc.get_objects()),
        }


def measure(args: argparse.Namespace, checkpoints: list[int]) -> dict[str, Any]:
    trim = malloc_trim_function()
    if trim is None:
        raise SystemExit("this benchmark needs glibc (malloc_trim, mallinfo2)")
    sampler = Sampler()
    with workdir(args, NAME) as root:
        settings = Settings(events=EventSettings(deliver=True, outbox="always"), sqlite_mmap_bytes=0)
        with MemoryStore.open(root / "store", key=KEY, embedder=embedder_named("hashing"), settings=settings) as store:
            store.add_many([{"text": t, "user_id": "u1"} for t in make_texts(SEED_MEMORIES, seed=10)])
            app, api_key = benchmark_app(store)
            sock = loopback_socket()
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            deadline = time.monotonic() + START_TIMEOUT_S
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    raise RuntimeError("uvicorn did not start")
                time.sleep(0.01)
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            load = Load(ServerProcess(url, api_key, os.getpid(), None))  # type: ignore[arg-type]
            samples: list[dict[str, Any]] = []
            done = 0
            try:
                for checkpoint in checkpoints:
                    asyncio.run(load.run(done, checkpoint))
                    done = checkpoint
                    before = sampler.sample()
                    started = time.perf_counter()
                    trim()
                    trim_ms = (time.perf_counter() - started) * 1000
                    after = sampler.sample()
                    samples.append({"requests": checkpoint, "as_is": before, "trimmed": after, "trim_ms": trim_ms})
                    print(f"  {checkpoint:>7,} requests: {before} -> trimmed {after['rss_anon_bytes']}", flush=True)
            finally:
                server.should_exit = True
                thread.join(START_TIMEOUT_S)
    return {"seed_memories": SEED_MEMORIES, "samples": samples, "statuses": dict(sorted(load.statuses.items()))}


def mib(value: int) -> str:
    return f"{value / 2**20:.1f}"


def main() -> None:
    args = parse_args(__doc__ or NAME)
    limit_malloc_arenas(2)  # as `memorylink serve` does by default, before any thread starts
    first, last = (2_000, 20_000) if args.quick else (10_000, 100_000)
    print(f"server heap: {last:,} mixed requests against an in-process server (hashing embedder)")
    result = measure(args, list(range(first, last + 1, first)))
    rows = [
        [
            sample["requests"],
            mib(sample["as_is"]["rss_anon_bytes"]),
            mib(sample["as_is"]["malloc_in_use_bytes"]),
            mib(sample["as_is"]["malloc_free_in_arenas_bytes"]),
            mib(sample["as_is"]["sqlite_bytes"]),
            f"{sample['as_is']['python_objects']:,}",
            mib(sample["trimmed"]["rss_anon_bytes"]),
            f"{sample['trim_ms']:.2f}",
        ]
        for sample in result["samples"]
    ]
    print_table(
        "Anonymous memory of a server process, by owner (MiB)",
        ["requests", "RssAnon", "malloc in use", "free in arenas", "SQLite", "Python objects", "trimmed", "trim ms"],
        rows,
    )
    write_results(NAME, args, result)


if __name__ == "__main__":
    main()
