"""Single ``store.add(text)`` latency vs its floor: embed one text + hnswlib add of one vector.

Both sides start from ~2,000 items: the store via ``add_many``; the floor is a plain
hnswlib index (same M / ef_construction, inner product over unit vectors) holding the
same 2,000 vectors. Then ~300 texts are added one at a time; for each text the floor
(``embedder.embed([text])`` + ``index.add_items``) and ``store.add(text)`` run back to
back, alternating which goes first. Reported: p50 / p90 of each and the p50 ratio
(target <= 1.15); and the mean per add including the first search afterwards (the store
indexes lazily, so that search pays for the pending index inserts).

    python benchmarks/bench_single_add.py [--quick]
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from common import (
    KEY,
    ClusteredVectors,
    PrecomputedEmbedder,
    RecordingEmbedder,
    default_embedder,
    interleaved,
    make_texts,
    new_hnsw,
    parse_args,
    percentile,
    print_table,
    quiet_gc,
    ratio,
    summary,
    verdict,
    warm_up_embedder,
    workdir,
    write_results,
)
from memorylink import MemoryStore

NAME = "single_add"
TARGET = 1.15
CHROMA = 2.4


def main() -> None:
    args = parse_args(__doc__ or NAME)
    prefill = 500 if args.quick else 2_000
    adds = 60 if args.quick else 300
    texts = make_texts(prefill + adds, seed=21)
    base_texts, add_texts = texts[:prefill], texts[prefill:]

    inner = default_embedder()
    load_s = warm_up_embedder(inner)
    recorder = RecordingEmbedder(inner)
    with workdir(args, NAME) as root:
        store = MemoryStore.open(root / "store", key=KEY, embedder=recorder)
        result = store.add_many(base_texts)
        assert result.failed == 0
        recorder.recording = False
        floor_index = new_hnsw(prefill + adds + 16)
        prefill_vectors = np.stack([recorder.vectors[t] for t in base_texts])
        floor_index.add_items(prefill_vectors, np.arange(prefill))
        # Warm both paths (first single add, first hnswlib single insert) off the clock.
        for i, text in enumerate(make_texts(5, seed=2_100)):
            store.add(text)
            floor_index.add_items(inner.embed([text]), np.array([prefill + i]))
        next_label = prefill + 5
        print(f"model loaded in {load_s:.1f} s (not timed); prefilled {prefill:,}; timing {adds} adds", flush=True)

        floor_s: list[float] = []
        store_s: list[float] = []
        for number, text in enumerate(add_texts):
            label = next_label + number

            def floor(text: str = text, label: int = label) -> None:
                floor_index.add_items(inner.embed([text]), np.array([label]))

            def ours(text: str = text) -> Any:
                return store.add(text)

            order = (floor, ours) if number % 2 == 0 else (ours, floor)
            if number % 50 == 0:
                quiet_gc()
            for fn in order:
                start = time.perf_counter()
                fn()
                elapsed = time.perf_counter() - start
                (floor_s if fn is floor else store_s).append(elapsed)
        # The store may index lazily (on the next read): the first search pays for the
        # pending index inserts, so report the adds amortised with it too.
        query = make_texts(1, seed=2_200)[0]
        quiet_gc()
        start = time.perf_counter()
        inner.embed([query])
        floor_query_s = time.perf_counter() - start
        start = time.perf_counter()
        store.search(query, top_k=10)
        first_search_s = time.perf_counter() - start
        stats = store.stats()
        store.close()

    floor_summary = summary(floor_s)
    store_summary = summary(store_s)
    headline = ratio(store_summary["p50_ms"], floor_summary["p50_ms"])
    amortised_floor_ms = (sum(floor_s) + floor_query_s) / adds * 1000
    amortised_store_ms = (sum(store_s) + first_search_s) / adds * 1000
    pair_ratios = [s / f for s, f in zip(store_s, floor_s, strict=True)]
    results = {
        "prefill": prefill,
        "adds": adds,
        "model_load_s": load_s,
        "floor": floor_summary,
        "store": store_summary,
        "ratio_p50": headline,
        "ratio_p90": ratio(store_summary["p90_ms"], floor_summary["p90_ms"]),
        "pairwise_ratio_p50": percentile(pair_ratios, 50),
        "first_search_after_s": first_search_s,
        "floor_query_embed_s": floor_query_s,
        "amortised_floor_ms": amortised_floor_ms,
        "amortised_store_ms": amortised_store_ms,
        "amortised_ratio": ratio(amortised_store_ms, amortised_floor_ms),
        "store_memories_after": stats.memories,
        "target": TARGET,
        "verdict": verdict(headline, TARGET),
        "chroma_ratio": CHROMA,
    }
    print_table(
        f"Single add into a store of ~{prefill:,} (real embedder), {adds} adds each side",
        ["measure", "floor (embed 1 + hnswlib add)", "memorylink add()", "ratio", "target", "verdict", "Chroma"],
        [
            ["p50 (ms)", floor_summary["p50_ms"], store_summary["p50_ms"], headline, TARGET, results["verdict"], 2.4],
            [
                "p90 (ms)",
                floor_summary["p90_ms"],
                store_summary["p90_ms"],
                results["ratio_p90"],
                "",
                "",
                "",
            ],
            ["pairwise ratio p50", "", "", results["pairwise_ratio_p50"], "", "", ""],
            [
                "mean incl. first search after (ms)",
                amortised_floor_ms,
                amortised_store_ms,
                results["amortised_ratio"],
                "",
                "",
                "",
            ],
        ],
    )
    sweep = journal_sweep(args)
    print_table(
        "Diagnostic: add() without the model (precomputed vectors) as the journal grows",
        ["store size", "journal entries", "add() p50 (ms)", "add() p90 (ms)", "hnswlib add of 1 vector p50 (ms)"],
        [[r["memories"], r["journal_entries"], r["store_p50_ms"], r["store_p90_ms"], r["floor_p50_ms"]] for r in sweep],
    )
    write_results(
        NAME,
        args,
        {
            "summary": results,
            "journal_sweep": sweep,
            "floor_ms": [x * 1000 for x in floor_s],
            "store_ms": [x * 1000 for x in store_s],
        },
    )


def journal_sweep(args: Any) -> list[dict[str, Any]]:
    """``add`` with precomputed vectors (no model) at growing store / journal sizes.

    The store keeps a journal of changes (with encrypted vectors) until its next index
    snapshot (every ``checkpoint_after_changes`` = 20,000 changes, and at close); this
    shows what one add costs memorylink itself as that journal grows, next to hnswlib's
    single insert into an index of the same size.
    """
    levels = [500, 2_000] if args.quick else [500, 2_000, 5_000, 10_000, 19_000]
    probes = 30 if args.quick else 60
    generator = ClusteredVectors()
    top = levels[-1] + probes * len(levels)
    texts = make_texts(top, seed=23)
    vectors = generator.rows(0, top)
    embedder = PrecomputedEmbedder()
    embedder.register(texts, vectors)
    out: list[dict[str, Any]] = []
    with workdir(args, NAME + "-sweep") as root:
        store = MemoryStore.open(root / "store", key=KEY, embedder=embedder)
        floor_index = new_hnsw(top)
        done = 0
        label = 0
        for level in levels:
            while done < level:
                step = min(5_000, level - done)
                store.add_many(texts[label : label + step])
                floor_index.add_items(vectors[label : label + step], np.arange(label, label + step))
                done += step
                label += step
            start = label

            def floor(i: int, start: int = start) -> None:
                floor_index.add_items(vectors[start + i], np.array([start + i]))

            def ours(i: int, start: int = start) -> None:
                store.add(texts[start + i])

            floor_s, store_s = interleaved(probes, floor, ours)
            label += probes
            done += probes
            stats = store.stats()
            store_summary, floor_summary = summary(store_s), summary(floor_s)
            out.append(
                {
                    "memories": stats.memories,
                    "journal_entries": stats.journal_entries,
                    "store_p50_ms": store_summary["p50_ms"],
                    "store_p90_ms": store_summary["p90_ms"],
                    "floor_p50_ms": floor_summary["p50_ms"],
                }
            )
        store.close()
    return out


if __name__ == "__main__":
    main()
