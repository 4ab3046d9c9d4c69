"""The REST server in a process of its own, for bench_server.py and bench_server_leak.py.

    python benchmarks/server_child.py --store DIR --embedder minilm-onnx|hashing

Opens the store at DIR (creating it if missing) with common.KEY and the named embedder, the
way ``memorylink serve`` does (no SQLite memory map, at most 2 malloc arenas, the C heap
trimmed every 10 s, webhook delivery on, the outbox always written, so the event feed
works), creates an admin API key with the auth package's ``Accounts``, serves
``create_app`` with uvicorn on a free 127.0.0.1 port and prints one JSON line
``{"url", "api_key", "pid"}``. It serves until SIGTERM or SIGINT, then closes the store.

Authentication is on (every request is checked against the key's stored SHA-256); rate limits
are off, since a benchmark spends any sane budget within a second.

``serving(...)`` starts it from a benchmark and stops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from common import KEY
from memorylink import EventSettings, MemoryStore, Settings
from memorylink.embedders.known import embedder_named
from memorylink.server import ServerSettings, create_app
from memorylink.server.auth import Accounts
from memorylink.server.heap import MallocTrimmer, limit_malloc_arenas
from memorylink.server.ratelimit import RateLimitSettings

START_TIMEOUT_S = 120.0  # loading the ONNX model and opening a large store included
STOP_TIMEOUT_S = 30.0


@dataclass
class ServerProcess:
    url: str
    api_key: str
    pid: int
    process: subprocess.Popen[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


def benchmark_app(store: MemoryStore) -> tuple[FastAPI, str]:
    """The benchmarks' app over ``store`` (auth on, rate limits off) and an admin API key for it."""
    accounts = Accounts(store.app_data, limits=store.settings.limits)
    admin = accounts.create_key(scopes=("read", "write", "admin"), user_id="bench-admin", name="benchmark")
    return create_app(store, ServerSettings(rate_limits=RateLimitSettings(enabled=False))), admin.key


def loopback_socket() -> socket.socket:
    """A socket bound to a free 127.0.0.1 port, for ``uvicorn.Server.run(sockets=[...])``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections: uvicorn given sockets= does not set it, and its two
    # writes per response then wait on delayed ACKs (~40 ms per request on loopback).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """A benchmark's options for the server's memory settings (defaults: ``memorylink serve``'s)."""
    parser.add_argument("--mmap-bytes", type=int, default=0, help="the server's sqlite_mmap_bytes (serve: 0)")
    parser.add_argument("--malloc-trim-s", type=float, default=10.0, help="the server's trim interval (serve: 10)")
    parser.add_argument("--malloc-arenas", type=int, default=2, help="the server's arena cap (serve: 2; 0: glibc's)")


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`add_server_options` as given, for ``serving(..., options)`` and the JSON."""
    return {"mmap_bytes": args.mmap_bytes, "malloc_trim_s": args.malloc_trim_s, "malloc_arenas": args.malloc_arenas}


@contextmanager
def serving(store: Path, embedder: str, options: Mapping[str, Any] | None = None) -> Iterator[ServerProcess]:
    """Run this script as a child over ``store``; yields once ``/health`` answers, then stops it.

    ``options``: :func:`server_options` (default: ``memorylink serve``'s memory settings).
    """
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in (options or {}).items()]
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--store", str(store), "--embedder", embedder, *flags],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        # The child prints its line as soon as its socket is bound (before any model loads).
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        line = process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the server process exited ({process.wait(STOP_TIMEOUT_S)}) before serving")
        info = json.loads(line)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{info['url']}/health", timeout=5.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server process did not start serving within the deadline")
            time.sleep(0.05)
        yield ServerProcess(info["url"], info["api_key"], int(info["pid"]), process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True, help="the store directory")
    parser.add_argument("--embedder", default="minilm-onnx", help="an embedder_named() choice")
    add_server_options(parser)
    args = parser.parse_args()
    if args.malloc_arenas:
        limit_malloc_arenas(args.malloc_arenas)  # as `memorylink serve` does, before any thread starts

    # As `memorylink serve` opens it: the outbox always written, no memory map.
    settings = Settings(events=EventSettings(deliver=True, outbox="always"), sqlite_mmap_bytes=args.mmap_bytes)
    with MemoryStore.open(args.store, key=KEY, embedder=embedder_named(args.embedder), settings=settings) as store:
        app, api_key = benchmark_app(store)
        sock = loopback_socket()
        port = sock.getsockname()[1]
        print(json.dumps({"url": f"http://127.0.0.1:{port}", "api_key": api_key, "pid": os.getpid()}), flush=True)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        with MallocTrimmer(args.malloc_trim_s):
            uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
