"""Event streams: how fast an event reaches N Server-Sent Events clients, and what open streams cost idle.

A server (``StreamingServer``, no auth) runs in this process over a store that records every
event, on the hashing embedder so the store's own cost stays small. N clients (threads)
follow ``GET /api/v1/events``; the main thread adds memories back to back and each
client notes when each event arrives. Reported per N: delivery latency (add returned ->
event parsed by the client) p50 / p99, deliveries per second, and the process CPU time
spent while the N streams sit idle for a few seconds (the cost of waiting: one shared
outbox watch, not a poll per stream). One more row: events written by a second store
instance on the same directory (another process, as far as the server can tell), which
the server notices on its ``poll_interval_s`` look.

    python benchmarks/bench_streams.py [--quick]
"""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from common import KEY, parse_args, percentile, print_table, workdir, write_results
from memorylink import EventSettings, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.server import ServerSettings, create_app
from memorylink.server.streams import StreamingServer, StreamSettings, hub_of

ALWAYS = Settings(events=EventSettings(outbox="always", deliver=False))


class Reader(threading.Thread):
    """Follows the stream; records when each memory's created event arrived."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.ready = threading.Event()
        self.arrived: dict[str, float] = {}
        self.client = httpx.Client(timeout=httpx.Timeout(30.0, read=None))

    def run(self) -> None:
        try:
            with self.client.stream("GET", self.url, params={"types": "memory.created"}) as response:
                for line in response.iter_lines():
                    if not self.ready.is_set() and line == "":
                        self.ready.set()  # the opening frame: the stream's start is fixed
                    if line.startswith("data: "):
                        self.arrived[json.loads(line[6:])["data"]["id"]] = time.perf_counter()
        except httpx.HTTPError:
            return

    def stop(self) -> None:
        # The stream itself ends when the server shuts down (StreamingServer); then the pool goes.
        self.join(30)
        self.client.close()


def serve(store: MemoryStore, poll_interval_s: float) -> tuple[StreamingServer, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = ServerSettings(no_auth=True, streams=StreamSettings(poll_interval_s=poll_interval_s))
    app = create_app(store, settings)
    server = StreamingServer(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}/api/v1/events"


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_for(condition: Any, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.002)


def run_case(directory: Path, clients: int, events: int, idle_s: float, writer: str) -> dict[str, Any]:
    with MemoryStore.open(directory, key=KEY, embedder=HashingEmbedder(), settings=ALWAYS) as store:
        poll = 0.5
        server, thread, url = serve(store, poll)
        readers = [Reader(url) for _ in range(clients)]
        for reader in readers:
            reader.start()
        for reader in readers:
            if not reader.ready.wait(60):
                raise RuntimeError("a reader did not connect")
        idle_cpu = None
        if idle_s > 0:
            before = cpu_s()
            time.sleep(idle_s)  # the measurement itself: CPU burnt while nothing happens
            idle_cpu = (cpu_s() - before) / idle_s
        other = (
            MemoryStore.open(directory, key=KEY, embedder=HashingEmbedder(), settings=ALWAYS)
            if writer == "other"
            else None
        )
        target = other or store
        written: dict[str, float] = {}
        started = time.perf_counter()
        for n in range(events):
            memory = target.add(f"event number {n}", user_id="bench")
            written[memory.id] = time.perf_counter()
        wait_for(lambda: all(len(r.arrived) >= events for r in readers), "every event at every client")
        elapsed = max(max(r.arrived.values()) for r in readers) - started
        latencies = [r.arrived[mid] - t for r in readers for mid, t in written.items()]
        open_streams = hub_of(server.config.app).open_feeds
        server.should_exit = True
        thread.join(30)
        for reader in readers:
            reader.stop()
        if other is not None:
            other.close()
    return {
        "clients": clients,
        "events": events,
        "writer": writer,
        "open_streams": open_streams,
        "latency_p50_ms": percentile(latencies, 50) * 1000,
        "latency_p99_ms": percentile(latencies, 99) * 1000,
        "deliveries_per_s": clients * events / elapsed,
        "idle_cpu_fraction": idle_cpu,
    }


def main() -> None:
    args = parse_args(__doc__ or "")
    counts = [1, 10] if args.quick else [1, 10, 100]
    events = 50 if args.quick else 200
    idle_s = 1.0 if args.quick else 3.0
    rows: list[dict[str, Any]] = []
    with workdir(args, "streams") as root:
        for n, clients in enumerate(counts):
            rows.append(run_case(root / f"local{n}", clients, events, idle_s, "this process"))
        rows.append(run_case(root / "other", 10, max(10, events // 10), 0.0, "other"))
    print_table(
        "SSE delivery (add returned -> client parsed the event)",
        ["clients", "writer", "events", "p50 ms", "p99 ms", "deliveries/s", "idle CPU (cores)"],
        [
            [
                r["clients"],
                r["writer"],
                r["events"],
                r["latency_p50_ms"],
                r["latency_p99_ms"],
                r["deliveries_per_s"],
                "-" if r["idle_cpu_fraction"] is None else r["idle_cpu_fraction"],
            ]
            for r in rows
        ],
    )
    write_results("streams", args, {"cases": rows, "poll_interval_s": 0.5})


if __name__ == "__main__":
    main()
