"""What SQLite's memory map buys the library: ``Settings.sqlite_mmap_bytes`` 256 MiB (the default) vs 0.

One store of 100,000 memories (hashing embedder, 50 users, 7 tags) is built once; then each
setting opens it in a fresh process, alternating which goes first, three times each, and
measures: reopen + first search; p50 of hybrid search, vector search, scoped search,
``list`` (50 of one user) and ``get`` (the medians over the three processes are printed).
``memorylink serve`` opens its store with 0 (docs/server.md, "Memory"); this is the cost of
that choice in the library. Nothing asserts a figure.

    python benchmarks/bench_sqlite_mmap.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import KEY, make_queries, make_texts, parse_args, print_table, workdir, write_results
from memorylink import MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

NAME = "sqlite_mmap"
SETTINGS = {"map 256 MiB": 256 * 1024 * 1024, "no map": 0}
ROUNDS = 3
QUERIES = 300
BATCH = 5_000


def build(path: Path, count: int) -> None:
    texts = make_texts(count, seed=3)
    with MemoryStore.open(path, key=KEY, embedder=HashingEmbedder()) as store:
        for start in range(0, count, BATCH):
            items = [
                {"text": text, "user_id": f"u{n % 50}", "tags": [f"t{n % 7}"]}
                for n, text in enumerate(texts[start : start + BATCH], start)
            ]
            store.add_many(items)


def p50_ms(call: Any, arguments: list[Any]) -> float:
    times = []
    for argument in arguments:
        started = time.perf_counter()
        call(argument)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def child(path: str, mmap_bytes: int) -> dict[str, float]:
    """One process's figures for one setting (run as ``--child PATH BYTES``)."""
    started = time.perf_counter()
    store = MemoryStore.open(path, key=KEY, embedder=HashingEmbedder(), settings=Settings(sqlite_mmap_bytes=mmap_bytes))
    store.search("where does alice sit", top_k=10)
    figures = {"reopen_s": time.perf_counter() - started}
    queries = make_queries(QUERIES, seed=5)
    figures["search_ms"] = p50_ms(lambda q: store.search(q, top_k=10), queries)
    figures["vector_search_ms"] = p50_ms(lambda q: store.search(q, top_k=10, mode="vector"), queries)
    figures["scoped_search_ms"] = p50_ms(lambda q: store.search(q, top_k=10, user_id="u3"), queries)
    figures["list_ms"] = p50_ms(lambda q: store.list(user_id="u7", limit=50), queries)
    ids = [hit.memory.id for hit in store.search("meeting", top_k=50, mode="vector").hits] * 6
    figures["get_ms"] = p50_ms(store.get, ids)
    store.close()
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
        return
    args = parse_args(__doc__ or NAME)
    count = 10_000 if args.quick else 100_000
    with workdir(args, NAME) as root:
        path = root / "store"
        started = time.perf_counter()
        build(path, count)
        print(f"built {count:,} memories in {time.perf_counter() - started:.1f} s", flush=True)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
        for round_ in range(ROUNDS):
            order = list(SETTINGS) if round_ % 2 == 0 else list(SETTINGS)[::-1]
            for name in order:
                done = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), str(SETTINGS[name])],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    medians = {name: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for name, rows in runs.items()}
    columns = list(next(iter(medians.values())))
    print_table(
        f"SQLite memory map at {count:,} memories (median of {ROUNDS} processes each)",
        ["setting", *columns],
        [[name, *(f"{figures[key]:.3f}" for key in columns)] for name, figures in medians.items()],
    )
    write_results(NAME, args, {"memories": count, "rounds": ROUNDS, "medians": medians, "runs": runs})


if __name__ == "__main__":
    main()
