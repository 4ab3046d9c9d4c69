"""Server memory under load: the server's RSS after 10,000 and after 100,000 mixed requests.

The server is ``server_child.py`` (``create_app`` under uvicorn, auth on with an admin API key,
rate limits off, the store opened as ``memorylink serve`` opens it: no SQLite memory map, the C
heap trimmed every 10 s) in its own process over a store seeded with 200 memories; the client
is an ``httpx.AsyncClient`` (keep-alive) in this process with 4 concurrent tasks. The requests
are a fixed mix drawn with a seeded RNG: add, batch add (5 items), get, get of a missing id
(404), list, search, update, delete, history, similar, an invalid add (422) and an unknown
route (404). The number of live memories is kept under ``LIVE_CAP`` (an add becomes a delete
once the pool is full), so the live memories do not grow with the run; the database file
still does (every request's event is kept in the outbox for the feed, and every update and
delete in the history), which is why the store's size on disk is printed beside RSS. Every
status is checked against what its request should get; a 5xx or an unexpected status stops
the run.

RSS (``VmRSS`` of the server process, from psutil when installed, else /proc) is sampled
after the first 10,000 requests and every 10,000 after that; the figure of interest is the
ratio RSS(100,000) / RSS(10,000). The embedder is the hashing one by default (what is
measured is the server's memory, not a model's arenas); ``--embedder minilm-onnx`` runs the
same mix over the light model. Nothing asserts a figure.

    python benchmarks/bench_server_leak.py [--quick] [--embedder hashing|minilm-onnx]
        [--mmap-bytes N] [--malloc-trim-s S] [--malloc-arenas N]   (the server's settings; default: serve's)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from typing import Any

import httpx

from common import KEY, directory_bytes, make_queries, make_texts, parse_args, print_table, workdir, write_results
from memorylink import MemoryStore
from memorylink.embedders.known import embedder_named
from memorylink.ids import encode_id
from server_child import ServerProcess, add_server_options, server_options, serving

NAME = "server_leak"
SEED_MEMORIES = 200
LIVE_CAP = 300  # live memories added by the run, at most
CONCURRENCY = 4
BATCH_ITEMS = 5
MISSING = encode_id(1)  # a well-formed id no store ever makes (its time is the epoch)
MIX: dict[str, int] = {  # weight of each kind of request, out of 100
    "add": 12,
    "batch_add": 3,
    "get": 18,
    "get_missing": 5,
    "list": 10,
    "search": 14,
    "update": 8,
    "delete": 12,
    "history": 5,
    "similar": 3,
    "invalid_add": 6,
    "unknown_route": 4,
}


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid``."""
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        return rss_parts(pid)["VmRSS"]


def rss_parts(pid: int) -> dict[str, int]:
    """``VmRSS`` and its parts from /proc (Linux): ``RssAnon`` (heap: where a leak shows) and
    ``RssFile`` (file pages mapped, here mostly SQLite's memory-mapped database, which grows
    with the file and is given back under memory pressure)."""
    parts: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    parts[name] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return parts


class Load:
    """The request mix, with the pool of live ids the run added (one event loop: no locks needed)."""

    def __init__(self, server: ServerProcess, seed: int = 7) -> None:
        self.server = server
        self.seed = seed
        self.live: list[str] = []
        self.texts = make_texts(4_000, seed=11)
        self.queries = make_queries(500, seed=12)
        self.kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]
        self.statuses: Counter[str] = Counter()
        self.done = 0

    def _take(self, rng: random.Random) -> str | None:
        if not self.live:
            return None
        return self.live.pop(rng.randrange(len(self.live)))

    async def one(self, client: httpx.AsyncClient, index: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        kind = rng.choice(self.kinds)
        if kind in ("add", "batch_add") and len(self.live) >= LIVE_CAP:
            kind = "delete"
        if kind in ("update", "delete", "history", "similar") and not self.live:
            kind = "add"
        text = self.texts[index % len(self.texts)]  # a bounded vocabulary: the keyword index must not grow
        expect: tuple[int, ...]
        if kind == "add":
            response = await client.post("/api/v1/memories", json={"text": text, "tags": ["leak"], "user_id": "u1"})
            expect = (201,)
            if response.status_code == 201:
                self.live.append(response.json()["id"])
        elif kind == "batch_add":
            items = [{"text": f"{text} item {i}", "user_id": "u2"} for i in range(BATCH_ITEMS)]
            response = await client.post("/api/v1/memories/batch", json={"items": items})
            expect = (200,)
            if response.status_code == 200:
                self.live.extend(item["id"] for item in response.json()["items"] if item["id"] is not None)
        elif kind == "get":
            target = rng.choice(self.live) if self.live else MISSING
            response = await client.get(f"/api/v1/memories/{target}")
            expect = (200, 404)  # another task may have deleted it meanwhile
        elif kind == "get_missing":
            response = await client.get(f"/api/v1/memories/{encode_id(1 + index)}")  # ids of 1970: never made
            expect = (404,)
        elif kind == "list":
            response = await client.get("/api/v1/memories", params={"limit": 20, "user_id": rng.choice(("u1", "u2"))})
            expect = (200,)
        elif kind == "search":
            query = self.queries[index % len(self.queries)]
            response = await client.post("/api/v1/memories/search", json={"query": query, "top_k": 10})
            expect = (200,)
        elif kind == "update":
            target = rng.choice(self.live)
            response = await client.patch(f"/api/v1/memories/{target}", json={"text": f"{text} (edited)"})
            expect = (200, 404)
        elif kind == "delete":
            target = self._take(rng)
            response = await client.delete(f"/api/v1/memories/{target or MISSING}")
            expect = (204, 404)
        elif kind == "history":
            response = await client.get(f"/api/v1/memories/{rng.choice(self.live)}/history")
            expect = (200, 404)
        elif kind == "similar":
            response = await client.get(f"/api/v1/memories/{rng.choice(self.live)}/similar", params={"top_k": 5})
            expect = (200, 404)
        elif kind == "invalid_add":
            response = await client.post("/api/v1/memories", json={"text": 42, "tags": "not a list"})
            expect = (422,)
        else:
            response = await client.get(f"/api/v1/no-such-route/{index}")
            expect = (404,)
        self.statuses[f"{kind} {response.status_code}"] += 1
        if response.status_code not in expect:
            raise RuntimeError(f"{kind} answered {response.status_code}, expected {expect}: {response.text[:500]}")
        self.done += 1

    async def run(self, start: int, stop: int) -> None:
        """Requests ``start .. stop`` over ``CONCURRENCY`` keep-alive connections."""
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=self.server.url, headers=self.server.headers, limits=limits, timeout=60.0
        ) as client:
            indexes = iter(range(start, stop))

            async def worker() -> None:
                for index in indexes:
                    await self.one(client, index)

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def measure(args: argparse.Namespace, checkpoints: list[int]) -> dict[str, Any]:
    with workdir(args, NAME) as root:
        path = root / "store"
        with MemoryStore.open(path, key=KEY, embedder=embedder_named(args.embedder)) as store:
            store.add_many([{"text": t, "user_id": "u1"} for t in make_texts(SEED_MEMORIES, seed=10)])
        with serving(path, args.embedder, server_options(args)) as server:
            load = Load(server)
            baseline = rss_bytes(server.pid)
            samples: list[dict[str, Any]] = []
            done = 0
            started = time.perf_counter()
            for checkpoint in checkpoints:
                phase_start = time.perf_counter()
                asyncio.run(load.run(done, checkpoint))
                seconds = time.perf_counter() - phase_start
                rss = rss_bytes(server.pid)
                parts = rss_parts(server.pid)
                samples.append(
                    {
                        "requests": checkpoint,
                        "rss_bytes": rss,
                        "rss_anon_bytes": parts.get("RssAnon"),
                        "rss_file_bytes": parts.get("RssFile"),
                        "store_disk_bytes": directory_bytes(path),
                        "live_memories_added": len(load.live),
                        "phase_requests_per_s": (checkpoint - done) / seconds,
                    }
                )
                done = checkpoint
                print(f"  {checkpoint:>7,} requests: RSS {rss / 2**20:.1f} MiB {parts}", flush=True)
            total_s = time.perf_counter() - started
            stats = httpx.get(f"{server.url}/api/v1/stats", headers=server.headers, timeout=30.0).json()
    first = samples[0]["rss_bytes"]
    return {
        "embedder": args.embedder,
        "server_options": server_options(args),
        "concurrency": CONCURRENCY,
        "mix": MIX,
        "live_cap": LIVE_CAP,
        "seed_memories": SEED_MEMORIES,
        "rss_before_first_request_bytes": baseline,
        "samples": samples,
        "rss_first_checkpoint_bytes": first,
        "rss_last_checkpoint_bytes": samples[-1]["rss_bytes"],
        "ratio_last_to_first": samples[-1]["rss_bytes"] / first,
        "anon_ratio_last_to_first": (
            samples[-1]["rss_anon_bytes"] / samples[0]["rss_anon_bytes"] if samples[0]["rss_anon_bytes"] else None
        ),
        "requests": done,
        "seconds": total_s,
        "requests_per_s": done / total_s,
        "statuses": dict(sorted(load.statuses.items())),
        "store_stats_at_end": stats,
    }


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f}"


def main() -> None:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--embedder", default="hashing", help="hashing (default) or minilm-onnx")
        add_server_options(parser)

    args = parse_args(__doc__ or NAME, extra)
    first, last = (2_000, 20_000) if args.quick else (10_000, 100_000)
    checkpoints = list(range(first, last + 1, first))
    print(f"server leak check: {last:,} mixed requests, embedder {args.embedder}, {CONCURRENCY} connections")
    result = measure(args, checkpoints)
    first_rss = result["rss_first_checkpoint_bytes"]
    rows = [
        [
            sample["requests"],
            f"{sample['rss_bytes'] / 2**20:.1f}",
            f"{100.0 * (sample['rss_bytes'] / first_rss - 1):+.2f}%",
            mib(sample["rss_anon_bytes"]),
            mib(sample["rss_file_bytes"]),
            mib(sample["store_disk_bytes"]),
            sample["live_memories_added"],
            f"{sample['phase_requests_per_s']:.0f}",
        ]
        for sample in result["samples"]
    ]
    print_table(
        f"Server RSS under mixed requests ({args.embedder} embedder; before the first request: "
        f"{result['rss_before_first_request_bytes'] / 2**20:.1f} MiB)",
        ["requests", "RSS MiB", f"vs {first:,}", "anon MiB", "file MiB", "store on disk MiB", "live added", "req/s"],
        rows,
    )
    print(
        f"RSS after {first:,}: {first_rss / 2**20:.1f} MiB; after {last:,}: "
        f"{result['rss_last_checkpoint_bytes'] / 2**20:.1f} MiB; ratio {result['ratio_last_to_first']:.4f}"
    )
    anon_first, anon_last = result["samples"][0]["rss_anon_bytes"], result["samples"][-1]["rss_anon_bytes"]
    if anon_first and anon_last:
        print(f"anonymous (heap) RSS: {mib(anon_first)} -> {mib(anon_last)} MiB, ratio {anon_last / anon_first:.4f}")
    write_results(NAME if args.embedder == "hashing" else f"{NAME}_{args.embedder}", args, result)


if __name__ == "__main__":
    main()
