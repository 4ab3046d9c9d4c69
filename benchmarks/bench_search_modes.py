"""Search latency per mode (vector, keyword, hybrid) at 10,000 and 100,000 memories.

The memories are conversation turns from the evaluation set's generator (``eval.dataset``,
other seeds: facts, near misses, distractors; a repeated chit-chat turn is replaced by a
distinct ``common.make_texts`` note, so no text repeats), ingested as users do, one
``add_messages(..., user_id=<conversation's user>, run_id=<session>)`` per session (about
225 turns per user). The vectors are precomputed clustered unit vectors served by text
(``common.ClusteredVectors`` / ``PrecomputedEmbedder``, as in ``bench_scale_100k.py``), so
no model runs: the figures are memorylink's own search work. The keyword side's cost
depends on the texts, not on the embedder; with the real model every mode that embeds the
query pays the same few milliseconds more (see ``bench_search.py``).

One store grows to each size in turn; at each size, for each query, every mode is timed
back to back in rotating order, plus hnswlib's ``knn_query(k=10)`` on the same vectors (the
floor, unscoped). Queries are the generated questions (paraphrases, ``top_k=10``), run
unscoped (over every memory) and scoped to the user whose conversation they ask about.
Reported: p50 / p95 per mode, and hybrid minus vector (difference of the p50s, and the
median of the per-query differences). The issue's target: hybrid costs < 2 ms over vector
at 100,000.

    python benchmarks/bench_search_modes.py [--quick]
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import numpy as np

from common import (
    KEY,
    ClusteredVectors,
    PrecomputedEmbedder,
    make_texts,
    new_hnsw,
    parse_args,
    percentile,
    print_table,
    quiet_gc,
    workdir,
    write_results,
)
from eval import dataset, harness
from memorylink import MemoryStore

NAME = "search_modes"
SEED = 7_001  # not the evaluation set's seed: other conversations
K = 10
TARGET_OVERHEAD_MS = 2.0


def _options(parser: Any) -> None:
    parser.add_argument("--sizes", default=None, help="comma-separated store sizes (default 10000,100000)")


def _sessions(total: int) -> tuple[list[tuple[str, str, list[dict[str, str]]]], list[dataset.Question]]:
    """(user_id, session_id, messages) holding exactly ``total`` turns, and their users' questions."""
    out: list[tuple[str, str, list[dict[str, str]]]] = []
    questions: list[dataset.Question] = []
    count = 0
    batch = 0
    while count < total:
        conversations, asked = dataset.generate(count=50, seed=SEED + batch)
        for conversation in conversations:
            user = f"{conversation.user_id}-b{batch}"
            for session in conversation.sessions:
                take = list(session.messages[: total - count])
                if take:
                    out.append((user, f"{session.session_id}-b{batch}", take))
                    count += len(take)
            if count >= total:
                break
        users = {u for u, _, _ in out}
        for q in asked:
            user = f"{q.user_id}-b{batch}"
            if user in users:
                questions.append(dataclasses.replace(q, user_id=user))
        batch += 1
    return out, questions


def _make_distinct(sessions: list[tuple[str, str, list[dict[str, str]]]]) -> None:
    """Replace repeated turns (the generator's chit-chat pool is small) by distinct template notes.

    Real chat logs rarely repeat a turn word for word; ~3/4 of the generated turns are
    repeats, which would make the keyword index's posting lists and the HNSW graph unlike a
    real store's. ``common.make_texts`` sentences (names, places, numbers) replace them.
    """
    total = sum(len(messages) for _, _, messages in sessions)
    fresh = iter(make_texts(total, seed=SEED))
    seen: set[str] = set()
    for _, _, messages in sessions:
        for position, message in enumerate(messages):
            text = message["content"]
            while text in seen:
                text = next(fresh)
            seen.add(text)
            messages[position] = {**message, "content": text}


def _time(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "mean_ms": statistics.fmean(ms)}


def main() -> None:
    args = parse_args(__doc__ or NAME, _options)
    sizes = tuple(sorted(int(n) for n in args.sizes.split(","))) if args.sizes else None
    sizes = sizes or ((2_000, 10_000) if args.quick else (10_000, 100_000))
    query_count = 100 if args.quick else 300
    sessions, questions = _sessions(sizes[-1])
    _make_distinct(sessions)
    texts = [m["content"] for _, _, messages in sessions for m in messages]
    unique = list(dict.fromkeys(texts))
    generator = ClusteredVectors()
    vector_of = dict(zip(unique, generator.rows(0, len(unique)), strict=True))
    query_texts = list(dict.fromkeys(q.question for q in questions))
    embedder = PrecomputedEmbedder()
    embedder.register(unique, np.stack([vector_of[t] for t in unique]))
    embedder.register(query_texts, generator.queries(len(query_texts)))
    print(f"{len(texts):,} turns ({len(unique):,} distinct), {len(sessions):,} sessions, {len(questions):,} questions")

    results: dict[str, Any] = {"sizes": {}, "target_overhead_ms": TARGET_OVERHEAD_MS}
    rows: list[list[Any]] = []
    overhead_rows: list[list[Any]] = []
    with workdir(args, NAME) as root:
        store = MemoryStore.open(root / "store", key=KEY, embedder=embedder)
        floor = new_hnsw(sizes[-1])
        try:
            takes_mode = harness.accepts(store.search, "mode")
            modes = [m for m in harness.MODES if m == "vector" or takes_mode]
            missing = sorted(set(harness.MODES) - set(modes))
            ingested = 0
            position = 0
            users_in: list[str] = []
            for size in sizes:
                started = time.perf_counter()
                while ingested < size:
                    user, session_id, messages = sessions[position]
                    store.add_messages(messages, user_id=user, run_id=session_id)
                    rows_now = [vector_of[m["content"]] for m in messages]
                    floor.add_items(np.stack(rows_now), list(range(ingested, ingested + len(messages))))
                    ingested += len(messages)
                    position += 1
                    if not users_in or users_in[-1] != user:
                        users_in.append(user)
                ingest_s = time.perf_counter() - started
                present = set(users_in)
                pool = [q for q in questions if q.user_id in present]
                picks = [pool[i] for i in np.random.default_rng(size).choice(len(pool), query_count, replace=True)]
                size_result: dict[str, Any] = {"memories": store.stats().memories, "ingest_s": ingest_s, "scopes": {}}
                for scope in ("unscoped", "scoped"):
                    timings: dict[str, list[float]] = {m: [] for m in (*modes, "hnswlib")}

                    def run(mode: str, q: dataset.Question, scope: str = scope) -> None:
                        if mode == "hnswlib":
                            floor.knn_query(embedder.embed([q.question]), k=K)
                            return
                        kwargs: dict[str, Any] = {"top_k": K}
                        if takes_mode:
                            kwargs["mode"] = mode
                        if scope == "scoped":
                            kwargs["user_id"] = q.user_id
                        store.search(q.question, **kwargs)

                    order = list(timings)
                    for q in picks[:20]:  # warm-up: first touches, lazy index catch-up
                        for mode in order:
                            run(mode, q)
                    quiet_gc()
                    for i, q in enumerate(picks):
                        rotated = order[i % len(order) :] + order[: i % len(order)]
                        for mode in rotated:
                            timings[mode].append(_time(lambda mode=mode, q=q: run(mode, q)))
                    stats = {mode: _stats(values) for mode, values in timings.items()}
                    for mode in order:
                        if mode == "hnswlib" and scope == "scoped":
                            continue  # knn_query has no scope: the floor is the unscoped one
                        label = "hnswlib knn_query (floor)" if mode == "hnswlib" else mode
                        rows.append([f"{size:,}", scope, label, stats[mode]["p50_ms"], stats[mode]["p95_ms"]])
                    entry: dict[str, Any] = {"latency": stats}
                    if "hybrid" in timings:
                        paired = [h - v for h, v in zip(timings["hybrid"], timings["vector"], strict=True)]
                        diff_p50 = stats["hybrid"]["p50_ms"] - stats["vector"]["p50_ms"]
                        diff_paired = statistics.median(paired) * 1000
                        entry["hybrid_minus_vector_ms"] = {"p50_difference": diff_p50, "median_paired": diff_paired}
                        verdict = "met" if diff_p50 < TARGET_OVERHEAD_MS else "MISSED"
                        overhead_rows.append([f"{size:,}", scope, diff_p50, diff_paired, TARGET_OVERHEAD_MS, verdict])
                    size_result["scopes"][scope] = entry
                results["sizes"][str(size)] = size_result
                print(f"{size:,} memories: ingest {ingest_s:.1f} s, timed {query_count} queries x 2 scopes")
        finally:
            store.close()
    results["modes_unavailable"] = missing
    print_table(
        "Search latency per mode (top_k=10, precomputed vectors, no model)",
        ["memories", "scope", "mode", "p50 ms", "p95 ms"],
        rows,
    )
    if overhead_rows:
        print_table(
            "Hybrid minus vector",
            ["memories", "scope", "p50 difference ms", "median paired ms", "target ms", "verdict"],
            overhead_rows,
        )
    if missing:
        print(f"modes unavailable (search() takes no mode=): {', '.join(missing)}")
    write_results(NAME, args, results)


if __name__ == "__main__":
    main()
