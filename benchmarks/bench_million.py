"""1,000,000 memories (precomputed clustered 384-d vectors): does it fit, and does it answer?

Vectors and texts are generated chunk by chunk (10,000 at a time) and the precomputed
embedder keeps only the current chunk, so the benchmark's own data stays small. Reported:
ingest time (the ``add_many`` calls, then the first search, which pays for any lazily
applied index inserts), search latency p50 / p90, recall@10 on a sample of queries (exact
answers computed by streaming the same vectors again), peak RSS (``getrusage``), the store
directory's size after close, and close / reopen + first search (the reopen runs in a
fresh process, so its peak RSS is its own). There is no floor here: the question is scale.

    python benchmarks/bench_million.py [--quick]        # full: ~1 M memories, long (tens of minutes)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from common import (
    KEY,
    ClusteredVectors,
    PrecomputedEmbedder,
    current_rss_bytes,
    directory_bytes,
    make_queries,
    make_texts,
    maybe_run_reopen_child,
    parse_args,
    peak_rss_bytes,
    print_table,
    quiet_gc,
    recall,
    reopen_in_child,
    summary,
    timed,
    workdir,
    write_results,
)
from memorylink import MemoryStore
from memorylink.ids import decode_id

NAME = "million"
CHUNK = 10_000
K = 10
MIB = 1024 * 1024


def chunk_texts(number: int) -> list[str]:
    return make_texts(CHUNK, seed=1_000_000 + number)


def main() -> None:
    args = parse_args(__doc__ or NAME)
    if maybe_run_reopen_child(args):
        return
    count = 50_000 if args.quick else 1_000_000
    latency_queries = 100 if args.quick else 300
    recall_queries = 30 if args.quick else 50
    generator = ClusteredVectors()
    embedder = PrecomputedEmbedder()
    query_texts = make_queries(2 * latency_queries + recall_queries + 1, seed=52)
    query_vectors = generator.queries(len(query_texts))
    started_rss = current_rss_bytes()

    with workdir(args, NAME) as root:
        path = root / "store"
        store = MemoryStore.open(path, key=KEY, embedder=embedder)
        chunk_seconds: list[float] = []
        labels = np.empty(count, dtype=np.int64)  # memory id (as its integer label) by generation row
        began = time.perf_counter()
        for number, start in enumerate(range(0, count, CHUNK)):
            texts = chunk_texts(number)
            vectors = generator.rows(start, CHUNK)
            embedder.forget()
            embedder.register(texts, vectors)
            items = [{"text": t, "metadata": {"bucket": (start + i) % 1000}} for i, t in enumerate(texts)]
            del vectors
            seconds, result = timed(lambda items=items: store.add_many(items))
            assert result.failed == 0
            labels[start : start + CHUNK] = [decode_id(i) for i in result.ids]
            chunk_seconds.append(seconds)
            done = start + CHUNK
            if done % (10 * CHUNK) == 0 or done == count:
                elapsed = time.perf_counter() - began
                print(
                    f"{done:,}/{count:,} in {elapsed:,.0f} s (last chunk {seconds:.2f} s); "
                    f"RSS {current_rss_bytes() / MIB:,.0f} MiB, peak {peak_rss_bytes() / MIB:,.0f} MiB",
                    flush=True,
                )
        embedder.forget()
        embedder.register(query_texts, query_vectors)
        add_many_total = sum(chunk_seconds)
        quiet_gc()
        first_search_s, first = timed(lambda: store.search(query_texts[-1], top_k=K))
        assert len(first.hits) == K
        ingest_total = add_many_total + first_search_s
        print(f"first search after ingest: {first_search_s:.2f} s", flush=True)

        latency: dict[str, Any] = {}
        for offset, sort_by in ((0, "relevance"), (latency_queries, "similarity")):
            seconds_list = []
            for i in range(offset, offset + latency_queries):
                if i % 50 == 0:
                    quiet_gc()
                t0 = time.perf_counter()
                store.search(query_texts[i], top_k=K, sort_by=sort_by)
                seconds_list.append(time.perf_counter() - t0)
            latency[sort_by] = summary(seconds_list)

        sample = slice(2 * latency_queries, 2 * latency_queries + recall_queries)
        found = []
        for text in query_texts[sample]:
            hits = store.search(text, top_k=K, sort_by="similarity").hits
            found.append([h.memory.id for h in hits])
        peak_after_search = peak_rss_bytes()
        stats = store.stats()
        quiet_gc()
        close_s, _ = timed(store.close)
        disk = directory_bytes(path)
        files = {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}

        print("computing exact answers for the recall sample ...", flush=True)
        exact_rows = _exact_rows(generator, count, query_vectors[sample])
        order = np.argsort(labels)
        recalls = [recall(_rows_of(ids, labels, order), rows) for ids, rows in zip(found, exact_rows, strict=True)]

        reopen = reopen_in_child(__file__, store=path)

    results = {
        "memories": count,
        "chunk": CHUNK,
        "ingest": {
            "add_many_total_s": add_many_total,
            "first_search_after_s": first_search_s,
            "total_s": ingest_total,
            "per_s": count / ingest_total,
            "chunk_seconds": chunk_seconds,
        },
        "search": latency,
        "recall_at_10_mean": float(np.mean(recalls)) if recalls else float("nan"),
        "recall_at_10_min": float(np.min(recalls)) if recalls else float("nan"),
        "recall_queries": len(recalls),
        "rss": {
            "at_start_bytes": started_rss,
            "peak_after_ingest_and_search_bytes": peak_after_search,
            "peak_whole_run_bytes": peak_rss_bytes(),
        },
        "index_entries": stats.index_entries,
        "close_s": close_s,
        "disk_bytes": disk,
        "files": files,
        "reopen": reopen,
    }
    print_table(
        f"{count:,} memories, precomputed clustered 384-d vectors",
        ["measure", "value"],
        [
            ["ingest: add_many calls (s)", add_many_total],
            ["ingest: first search after (s)", first_search_s],
            ["ingest: total (memories / s)", count / ingest_total],
            ["search p50 / p90, sort_by=relevance (ms)", _pair(latency["relevance"])],
            ["search p50 / p90, sort_by=similarity (ms)", _pair(latency["similarity"])],
            [f"recall@10 vs exact ({len(recalls)} queries), mean / min", f"{np.mean(recalls):.4f} / {min(recalls)}"],
            ["peak RSS after ingest + searches (MiB)", peak_after_search / MIB],
            ["bytes per memory in RAM (peak RSS / count)", peak_after_search / count],
            ["close(): final snapshot (s)", close_s],
            ["disk after close (MiB)", disk / MIB],
            ["reopen: open() (s)", reopen["open_s"]],
            ["reopen: first search (s)", reopen["first_search_s"]],
            ["reopen: peak RSS of the fresh process (MiB)", reopen["peak_rss_bytes"] / MIB],
        ],
    )
    print("store files after close:", {name: f"{size / MIB:,.1f} MiB" for name, size in files.items()})
    write_results(NAME, args, results)


def _pair(data: dict[str, float]) -> str:
    return f"{data['p50_ms']:.3f} / {data['p90_ms']:.3f}"


def _exact_rows(generator: ClusteredVectors, count: int, queries: Any) -> list[list[int]]:
    """Exact top-K rows for each query, streaming the memory vectors chunk by chunk."""
    best_scores = np.full((len(queries), K), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), K), dtype=np.int64)
    for start in range(0, count, CHUNK):
        scores = queries @ generator.rows(start, CHUNK).T
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_rows = np.concatenate([best_rows, np.broadcast_to(np.arange(start, start + CHUNK), scores.shape)], axis=1)
        top = np.argpartition(-all_scores, K - 1, axis=1)[:, :K]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_rows = np.take_along_axis(all_rows, top, axis=1)
    return [[int(r) for r in rows] for rows in best_rows]


def _rows_of(ids: list[str], labels: Any, order: Any) -> list[int]:
    """Generation rows of memory ids, through the labels recorded at insert."""
    wanted = np.array([decode_id(i) for i in ids], dtype=np.int64)
    positions = np.searchsorted(labels, wanted, sorter=order)
    return [int(order[p]) for p in positions]


if __name__ == "__main__":
    main()
