"""REST server throughput and latency: add, search and batch add with 1, 8 and 32 concurrent clients.

The server is ``server_child.py`` in its own process: ``create_app`` under one uvicorn worker,
opened the way ``memorylink serve`` opens a store (no SQLite memory map, at most 2 malloc
arenas, the C heap trimmed every 10 s: ``--mmap-bytes``, ``--malloc-arenas`` and
``--malloc-trim-s`` change them; webhook delivery on, the event outbox always written, so
every add and search also records its event), authentication on (an admin
API key, checked on every request), rate limits off. It serves a store seeded with ``SEED``
memories. The clients are ``httpx.AsyncClient`` tasks in this process on 127.0.0.1, one
keep-alive connection each (opened before the clock starts); client and server share the
machine's cores, so the figures include the client's own CPU.

For each operation and number of clients: requests per second (completed requests / wall
time) and p50 / p99 latency of one request (send to parsed response):

* add: ``POST /api/v1/memories``, a distinct text per request;
* search: ``POST /api/v1/memories/search`` (top_k 10), a distinct query per request, so
  every request embeds its query (the store caches query embeddings by text);
* batch add: ``POST /api/v1/memories/batch`` with ``BATCH`` items (items/s reported too).

Server vs library: with the server still running, this process opens the same store (same
content, same embedder) and times ``store.search`` against one server request (one client,
keep-alive) for the same fresh queries, back to back, alternating which goes first
(``common.interleaved``); the p50 ratio is server / library.

The embedder is the light one (``minilm-onnx``: all-MiniLM-L6-v2, int8, on onnxruntime); an
extra set of rows uses the hashing embedder (no model: what the server itself costs).

    python benchmarks/bench_server.py [--quick] [--embedders minilm-onnx,hashing]
        [--mmap-bytes N] [--malloc-trim-s S] [--malloc-arenas N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from common import (
    KEY,
    interleaved,
    make_queries,
    make_texts,
    parse_args,
    percentile,
    print_table,
    ratio,
    summary,
    workdir,
    write_results,
)
from memorylink import MemoryStore
from memorylink.embedders.known import embedder_named
from server_child import ServerProcess, add_server_options, server_options, serving

NAME = "server"
CONCURRENCY = (1, 8, 32)
BATCH = 50
TOP_K = 10

Request = tuple[str, str, dict[str, Any]]


async def drive(server: ServerProcess, clients: int, requests: list[Request], expect: int) -> dict[str, Any]:
    """Send ``requests`` from ``clients`` concurrent tasks; latency of each, and requests per second."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, limits=limits, timeout=300.0) as http:
        # One connection per client, opened before the clock starts.
        await asyncio.gather(*(http.get("/health") for _ in range(clients)))
        pending = iter(requests)
        seconds: list[float] = []

        async def client() -> None:
            for method, path, body in pending:
                start = time.perf_counter()
                response = await http.request(method, path, json=body)
                response.json()
                seconds.append(time.perf_counter() - start)
                if response.status_code != expect:
                    raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - start
    return {
        "clients": clients,
        "requests": len(seconds),
        "seconds": wall,
        "requests_per_s": len(seconds) / wall,
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "latency": summary(seconds),
    }


def batch_body(texts: Iterator[str]) -> dict[str, Any]:
    return {"items": [{"text": next(texts), "user_id": "u0"} for _ in range(BATCH)]}


def run_embedder(args: argparse.Namespace, embedder_name: str, root: Path) -> dict[str, Any]:
    seed_count, add_n, search_n, batch_n, ratio_n = (300, 60, 60, 6, 40) if args.quick else (2_000, 400, 400, 40, 300)
    path = root / embedder_name
    texts = iter(make_texts(seed_count + add_n * len(CONCURRENCY) + batch_n * BATCH * len(CONCURRENCY), seed=3))
    queries = iter(make_queries(search_n * len(CONCURRENCY) + ratio_n + 20, seed=4))
    print(f"\n[{embedder_name}] seeding {seed_count:,} memories", flush=True)
    with MemoryStore.open(path, key=KEY, embedder=embedder_named(embedder_name)) as store:
        store.add_many([{"text": next(texts), "user_id": f"u{i % 10}"} for i in range(seed_count)])

    operations: dict[str, list[dict[str, Any]]] = {"add": [], "search": [], "batch_add": []}
    with serving(path, embedder_name, server_options(args)) as server:
        # Warm-up: the server loads its model on the first embedding, off the clock.
        warm = [("POST", "/api/v1/memories/search", {"query": next(queries), "top_k": TOP_K}) for _ in range(5)]
        asyncio.run(drive(server, 1, warm, 200))
        for clients in CONCURRENCY:
            adds = [
                ("POST", "/api/v1/memories", {"text": next(texts), "user_id": f"u{i % 10}", "tags": ["bench"]})
                for i in range(add_n)
            ]
            operations["add"].append(asyncio.run(drive(server, clients, adds, 201)))
            searches = [
                ("POST", "/api/v1/memories/search", {"query": next(queries), "top_k": TOP_K}) for _ in range(search_n)
            ]
            operations["search"].append(asyncio.run(drive(server, clients, searches, 200)))
            batches = [("POST", "/api/v1/memories/batch", batch_body(texts)) for _ in range(batch_n)]
            result = asyncio.run(drive(server, clients, batches, 200))
            result["items_per_s"] = result["requests_per_s"] * BATCH
            operations["batch_add"].append(result)
            for op in operations:
                row = operations[op][-1]
                print(f"  {op:<9} {clients:>2} clients: {row['requests_per_s']:8.1f} req/s", flush=True)

        # Server vs library, same store content and embedder, fresh queries on both sides.
        ratio_queries = [next(queries) for _ in range(ratio_n)]
        with (
            MemoryStore.open(path, key=KEY, embedder=embedder_named(embedder_name)) as local,
            httpx.Client(base_url=server.url, headers=server.headers, timeout=60.0) as http,
        ):
            local.search("warming up the local model", top_k=TOP_K)

            def remote(i: int) -> None:
                response = http.post("/api/v1/memories/search", json={"query": ratio_queries[i], "top_k": TOP_K})
                if response.status_code != 200:
                    raise RuntimeError(f"search answered {response.status_code}: {response.text[:500]}")
                response.json()

            def library(i: int) -> None:
                local.search(ratio_queries[i], top_k=TOP_K)

            library_s, server_s = interleaved(ratio_n, library, remote)
            memories = local.stats().memories
    server_p50 = percentile(server_s, 50)
    library_p50 = percentile(library_s, 50)
    return {
        "embedder": embedder_name,
        "seed_memories": seed_count,
        "memories_at_end": memories,
        "batch_items": BATCH,
        "operations": operations,
        "search_server_vs_library": {
            "queries": ratio_n,
            "server": summary(server_s),
            "library": summary(library_s),
            "p50_ratio": ratio(server_p50, library_p50),
            "p50_difference_ms": (server_p50 - library_p50) * 1000,
        },
    }


def main() -> None:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--embedders", default="minilm-onnx,hashing", help="comma-separated embedder_named() choices"
        )
        add_server_options(parser)

    args = parse_args(__doc__ or NAME, extra)
    results: dict[str, Any] = {}
    with workdir(args, NAME) as root:
        for name in args.embedders.split(","):
            results[name] = run_embedder(args, name, root)

    rows = []
    for name, data in results.items():
        for op, runs in data["operations"].items():
            for run in runs:
                items = f"{run['items_per_s']:.0f}" if "items_per_s" in run else ""
                rps = f"{run['requests_per_s']:.1f}"
                rows.append([name, op, run["clients"], run["requests"], rps, items, run["p50_ms"], run["p99_ms"]])
    print_table(
        f"REST server on 127.0.0.1 (one uvicorn worker, auth on; batch = {BATCH} items)",
        ["embedder", "operation", "clients", "requests", "req/s", "items/s", "p50 ms", "p99 ms"],
        rows,
    )
    print_table(
        "Search latency: server (1 client, HTTP + auth + JSON) vs the library in-process, same queries",
        ["embedder", "queries", "server p50 ms", "library p50 ms", "p50 ratio", "difference ms"],
        [
            [
                name,
                data["search_server_vs_library"]["queries"],
                data["search_server_vs_library"]["server"]["p50_ms"],
                data["search_server_vs_library"]["library"]["p50_ms"],
                f"{data['search_server_vs_library']['p50_ratio']:.2f}",
                data["search_server_vs_library"]["p50_difference_ms"],
            ]
            for name, data in results.items()
        ],
    )
    write_results(
        NAME, args, {"concurrency": list(CONCURRENCY), "server_options": server_options(args), "embedders": results}
    )


if __name__ == "__main__":
    main()
