"""Search latency with the real embedder, and recall@10, on ~10,000 memories.

Latency floor: embed the query (the same all-MiniLM-L6-v2 model) + hnswlib ``knn_query``
(k=10, ef=96) on an hnswlib index holding exactly the vectors the store indexed, with the
store's M / ef_construction. For each query text (a distinct one per measurement, since
the store caches query embeddings by text) the floor and ``store.search`` run back to
back, alternating which goes first. Measured twice: with the default ``sort_by``
("relevance", which re-ranks a larger pool) and with ``sort_by="similarity"``. The
cached case (the same query again, so no embedding) is reported against ``knn_query``
alone. Target: p50 ratio <= 1.10.

Recall@10 of ``store.search(sort_by="similarity")`` against numpy brute force over the
same vectors: unfiltered, and with metadata filters keeping 50%, 10%, 1% and 0.1% of the
memories. Target >= 0.98.

    python benchmarks/bench_search.py [--quick]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from common import (
    KEY,
    RECALL_COLUMNS,
    RecordingEmbedder,
    default_embedder,
    exact_top_k,
    filtered_recall,
    interleaved,
    make_queries,
    make_texts,
    new_hnsw,
    parse_args,
    print_table,
    ratio,
    recall,
    recall_rows,
    summary,
    verdict,
    warm_up_embedder,
    workdir,
    write_results,
)
from memorylink import MemoryStore

NAME = "search"
TARGET = 1.10
RECALL_TARGET = 0.98
CHROMA = 1.27
K = 10


def main() -> None:
    args = parse_args(__doc__ or NAME)
    count = 1_000 if args.quick else 10_000
    latency_queries = 40 if args.quick else 300
    recall_queries = 30 if args.quick else 200
    texts = make_texts(count, seed=31)
    queries = make_queries(2 * latency_queries + recall_queries, seed=32)
    relevance_q = queries[:latency_queries]
    similarity_q = queries[latency_queries : 2 * latency_queries]
    recall_q = queries[2 * latency_queries :]

    inner = default_embedder()
    load_s = warm_up_embedder(inner)
    recorder = RecordingEmbedder(inner)
    with workdir(args, NAME) as root:
        store = MemoryStore.open(root / "store", key=KEY, embedder=recorder)
        ids: list[str] = []
        step = 2_000
        for start in range(0, count, step):
            items = [
                {"text": text, "metadata": {"bucket": position % 1000}}
                for position, text in enumerate(texts[start : start + step], start=start)
            ]
            result = store.add_many(items)
            assert result.failed == 0
            ids.extend(result.ids)
            print(f"ingested {len(ids):,}/{count:,}", flush=True)
        recorder.recording = False
        matrix = np.stack([recorder.vectors[t] for t in texts])
        id_to_row = {memory_id: row for row, memory_id in enumerate(ids)}
        floor_index = new_hnsw(count)
        floor_index.add_items(matrix, np.arange(count))
        # Warm both search paths off the clock.
        for text in make_queries(5, seed=3_300):
            store.search(text, top_k=K)
            floor_index.knn_query(inner.embed([text]), k=K)
        print(f"model loaded in {load_s:.1f} s (not timed); {count:,} memories; timing searches", flush=True)

        latency: dict[str, Any] = {}
        for sort_by, batch in (("relevance", relevance_q), ("similarity", similarity_q)):
            vectors: dict[int, Any] = {}

            def floor(i: int, batch: list[str] = batch, vectors: dict[int, Any] = vectors) -> None:
                vectors[i] = inner.embed([batch[i]])
                floor_index.knn_query(vectors[i], k=K)

            def ours(i: int, batch: list[str] = batch, sort_by: str = sort_by) -> None:
                store.search(batch[i], top_k=K, sort_by=sort_by)

            floor_s, store_s = interleaved(len(batch), floor, ours)

            def floor_cached(i: int, vectors: dict[int, Any] = vectors) -> None:
                floor_index.knn_query(vectors[i], k=K)

            cached_floor_s, cached_store_s = interleaved(len(batch), floor_cached, ours)
            latency[sort_by] = {
                "floor": summary(floor_s),
                "store": summary(store_s),
                "ratio_p50": ratio(summary(store_s)["p50_ms"], summary(floor_s)["p50_ms"]),
                "ratio_p90": ratio(summary(store_s)["p90_ms"], summary(floor_s)["p90_ms"]),
                "cached_floor_knn_only": summary(cached_floor_s),
                "cached_store": summary(cached_store_s),
                "cached_overhead_p50_ms": summary(cached_store_s)["p50_ms"] - summary(cached_floor_s)["p50_ms"],
            }

        query_vectors = inner.embed(recall_q)
        floor_recalls = []
        for vector in query_vectors:
            labels, _ = floor_index.knn_query(vector, k=K)
            floor_recalls.append(recall([int(x) for x in labels[0]], exact_top_k(matrix, vector, K)))
        levels = filtered_recall(store, matrix, id_to_row, recall_q, query_vectors, k=K)
        store.close()

    headline = latency["relevance"]["ratio_p50"]
    results = {
        "memories": count,
        "model_load_s": load_s,
        "latency": latency,
        "recall": levels,
        "hnswlib_floor_recall_mean": float(np.mean(floor_recalls)),
        "target": TARGET,
        "recall_target": RECALL_TARGET,
        "verdict_relevance": verdict(headline, TARGET),
        "verdict_similarity": verdict(latency["similarity"]["ratio_p50"], TARGET),
        "chroma_ratio": CHROMA,
    }
    rows = []
    for label in ("relevance", "similarity"):
        data = latency[label]
        rows.append(
            [
                f"search(top_k=10, sort_by={label}) p50",
                data["floor"]["p50_ms"],
                data["store"]["p50_ms"],
                data["ratio_p50"],
                TARGET,
                verdict(data["ratio_p50"], TARGET),
                CHROMA,
            ]
        )
        rows.append([f"  ... p90 ({label})", data["floor"]["p90_ms"], data["store"]["p90_ms"], data["ratio_p90"]])
        rows.append(
            [
                f"  cached query, knn only ({label}) p50",
                data["cached_floor_knn_only"]["p50_ms"],
                data["cached_store"]["p50_ms"],
                ratio(data["cached_store"]["p50_ms"], data["cached_floor_knn_only"]["p50_ms"]),
            ]
        )
    rows = [row + [""] * (7 - len(row)) for row in rows]
    print_table(
        f"Search latency over {count:,} memories (ms; floor = embed query + hnswlib knn_query)",
        ["measure", "floor", "memorylink", "ratio", "target", "verdict", "Chroma"],
        rows,
    )
    print_table(
        f"Recall@10 of search(sort_by='similarity') vs exact, {len(recall_q)} queries "
        f"(hnswlib alone, unfiltered: {results['hnswlib_floor_recall_mean']:.4f})",
        RECALL_COLUMNS,
        recall_rows(levels, RECALL_TARGET),
    )
    write_results(NAME, args, results)


if __name__ == "__main__":
    main()
