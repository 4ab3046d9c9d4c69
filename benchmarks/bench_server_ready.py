"""Why /health/ready does not call store.check(): both timed on a 100,000-memory store.

The store uses the hashing embedder (the probe's cost is the store's, not a model's). For
each of ``store.check()``, ``store.stats()`` (what readiness asks) and a whole
``GET /health/ready`` through the app (in-process): the first call, then the median and
worst of a few more.
A readiness probe is typically polled every few seconds with a timeout of 1 s.

    python benchmarks/bench_server_ready.py [--quick] [--count N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from common import KEY, chunks, make_texts, parse_args, print_table, workdir, write_results
from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.server import ServerSettings, create_app

PROBE_TIMEOUT_S = 1.0


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=None, help="memories in the store (default 100,000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed calls of each")


def timings(call: Callable[[], Any], rounds: int) -> list[float]:
    """The first (cold) call, then ``rounds`` more."""
    found = []
    for _ in range(rounds + 1):
        started = time.perf_counter()
        call()
        found.append(time.perf_counter() - started)
    return found


def main() -> None:
    args = parse_args(__doc__ or "", options)
    count = args.count or (5_000 if args.quick else 100_000)
    with (
        workdir(args, "server-ready") as directory,
        MemoryStore.open(directory / "store", key=KEY, embedder=HashingEmbedder()) as store,
    ):
        started = time.perf_counter()
        for batch in chunks(make_texts(count), 10_000):
            result = store.add_many([{"text": text, "user_id": f"u{i % 50}"} for i, text in enumerate(batch)])
            assert result.failed == 0
        build_s = time.perf_counter() - started
        client = TestClient(create_app(store, ServerSettings(no_auth=True)))

        def ready() -> None:
            assert client.get("/health/ready").status_code == 200

        measured = {
            "store.check()": timings(lambda: store.check(), args.rounds),
            "store.stats()": timings(lambda: store.stats(), args.rounds),
            "GET /health/ready": timings(ready, args.rounds),
        }
    rows = [
        [
            name,
            values[0] * 1000,
            statistics.median(values[1:]) * 1000,
            max(values[1:]) * 1000,
            max(values[1:]) <= PROBE_TIMEOUT_S,
        ]
        for name, values in measured.items()
    ]
    print_table(
        f"Readiness on {count:,} memories (store built in {build_s:.0f} s)",
        ["call", "first ms", "median ms", "worst ms (after the first)", f"within a {PROBE_TIMEOUT_S:g} s timeout"],
        rows,
    )
    write_results(
        "server_ready",
        args,
        {
            "count": count,
            "rounds": args.rounds,
            "probe_timeout_s": PROBE_TIMEOUT_S,
            "seconds": {name: values for name, values in measured.items()},
            "first_ms": {row[0]: row[1] for row in rows},
            "median_ms": {row[0]: row[2] for row in rows},
            "worst_ms": {row[0]: row[3] for row in rows},
        },
    )


if __name__ == "__main__":
    main()
