"""Retrieval quality on memorylink's own evaluation set: recall@1/5/10 and MRR per search mode.

The set (``benchmarks/eval/data/``, see ``eval.dataset``) is multi-session conversations in
which facts are stated once among chit-chat and distractors, and questions that paraphrase
them, each labelled with its evidence turn. Each session is ingested with one
``store.add_messages(..., user_id=<conversation's user>, run_id=<session id>)``; each question
is searched with ``top_k=10`` scoped to that user, in each mode (``vector``, ``keyword``,
``hybrid``); a hit counts when its memory is an evidence turn. A TF-IDF ranking computed
here (not by memorylink) is the external reference row.

Tune on ``--split dev`` only; ``--split test`` is the held-out final check.

    python benchmarks/bench_retrieval.py                       # dev, all-MiniLM-L6-v2
    python benchmarks/bench_retrieval.py --embedder hashing    # quick, no model
    python benchmarks/bench_retrieval.py --search-setting search.some_weight=0.3
    python benchmarks/bench_retrieval.py --variant a:some_weight=0.3 --variant b:some_weight=0.7
    python benchmarks/bench_retrieval.py --split test          # the final check, once
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from common import KEY, default_embedder, parse_args, print_table, workdir, write_results
from eval import dataset, harness
from memorylink import MemoryStore

NAME = "retrieval"
COLUMNS = ["mode", "recall@1", "recall@5", "recall@10", "MRR", "questions", "note"]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", choices=dataset.SPLITS, default="dev", help="dev (tuning) or test (final check)")
    parser.add_argument("--embedder", choices=("minilm", "hashing"), default="minilm")
    parser.add_argument("--modes", default=",".join(harness.MODES), help="comma-separated search modes")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--sort-by", default=None, help="pass sort_by= to search (default: the store's default)")
    parser.add_argument("--mmr", action="store_true", help="pass mmr=True to search")
    parser.add_argument(
        "--search-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Settings override; a bare NAME is search.NAME (repeatable)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL:NAME=VALUE[,NAME=VALUE...]",
        help="also reopen the same store with these overrides (on top of --search-setting) and rerun",
    )
    parser.add_argument(
        "--embedding-cache",
        default=None,
        help="an .npz file of the model's vectors for these texts, reused across runs (default: in the temp "
        "directory; 'none' to always run the model)",
    )
    parser.add_argument("--no-tfidf", action="store_true", help="skip the TF-IDF reference row")
    parser.add_argument("--per-type", action="store_true", help="also print recall@10 per question type")


def _rows(label: str, results: list[harness.ModeResult]) -> list[list[Any]]:
    rows = []
    for result in results:
        name = f"{label}{result.mode}"
        if not result.available:
            rows.append([name, "unavailable", "", "", "", "", result.error or ""])
            continue
        m = result.metrics
        rows.append([name, m["recall@1"], m["recall@5"], m["recall@10"], m["mrr"], int(m["n"]), result.note or ""])
    return rows


def _by_type(by_type: dict[str, dict[str, float]], qtypes: list[str]) -> list[float]:
    return [by_type[t]["recall@10"] if t in by_type else float("nan") for t in qtypes]


def main() -> None:
    args = parse_args(__doc__ or NAME, _options)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    try:
        base = harness.parse_overrides(args.search_setting)
        variants = [("", base)]
        for spec in args.variant:
            label, sep, body = spec.partition(":")
            if not sep or not label:
                raise ValueError(f"--variant expects LABEL:NAME=VALUE[,...], got {spec!r}")
            variants.append(
                (label, harness.merge_overrides(base, harness.parse_overrides([p for p in body.split(",") if p])))
            )
        settings = [(label, harness.build_settings(overrides), overrides) for label, overrides in variants]
    except ValueError as error:  # pydantic's ValidationError is a ValueError and names the field
        raise SystemExit(f"bad setting: {error}") from error

    conversations, questions = dataset.load(args.split)
    if args.quick:
        conversations = conversations[:8]
        keep = {c.conversation_id for c in conversations}
        questions = [q for q in questions if q.conversation_id in keep]
    turns = sum(len(s.messages) for c in conversations for s in c.sessions)
    print(f"split {args.split}: {len(conversations)} conversations, {turns} turns, {len(questions)} questions")
    qtypes = sorted({q.qtype for q in questions})
    counts = {qtype: sum(1 for q in questions if q.qtype == qtype) for qtype in qtypes}

    if args.embedder == "hashing":
        from memorylink.embedders.hashing import HashingEmbedder

        embedder: Any = HashingEmbedder()
    else:
        embedder = default_embedder()
    cache: harness.CachedEmbedder | None = None
    if args.embedding_cache != "none" and args.embedder == "minilm":
        path = Path(args.embedding_cache or Path(tempfile.gettempdir()) / "memorylink-eval-minilm.npz")
        embedder = cache = harness.CachedEmbedder(embedder, path)
    search_kwargs: dict[str, Any] = {}
    if args.sort_by:
        search_kwargs["sort_by"] = args.sort_by
    if args.mmr:
        search_kwargs["mmr"] = True

    report: dict[str, Any] = {
        "split": args.split,
        "embedder": args.embedder,
        "top_k": args.top_k,
        "embedding_cache": str(cache.path) if cache else None,
        "search_kwargs": search_kwargs,
        "conversations": len(conversations),
        "turns": turns,
        "questions": len(questions),
        "variants": [],
    }
    rows: list[list[Any]] = []
    per_type_rows: list[list[Any]] = []
    with workdir(args, NAME) as root:
        path: Path = root / "store"
        for number, (label, store_settings, overrides) in enumerate(settings):
            store = MemoryStore.open(path, key=KEY, embedder=embedder, settings=store_settings)
            try:
                if number == 0:
                    started = time.perf_counter()
                    id_to_key = harness.ingest(store, conversations)
                    report["ingest_s"] = time.perf_counter() - started
                    print(f"ingested {len(id_to_key)} memories in {report['ingest_s']:.1f} s")
                    if cache is not None:
                        cache.save()
                results = [
                    harness.evaluate_mode(
                        store, id_to_key, questions, mode, top_k=args.top_k, search_kwargs=search_kwargs
                    )
                    for mode in modes
                ]
            finally:
                store.close()
                if cache is not None:
                    cache.save()
            prefix = f"{label}: " if label else ""
            rows += _rows(prefix, results)
            for result in results:
                if result.available:
                    per_type_rows.append([f"{prefix}{result.mode}", *_by_type(result.by_type, qtypes)])
            report["variants"].append(
                {"label": label or "base", "overrides": overrides, "modes": [r.as_json() for r in results]}
            )

    if not args.no_tfidf:
        backend = harness.tfidf_backend()
        rankings = harness.tfidf_rankings(conversations, questions, top_k=args.top_k, backend=backend)
        overall, by_type, ranks = harness.score(questions, rankings)
        rows.append(
            [
                f"TF-IDF ({backend}, external)",
                overall["recall@1"],
                overall["recall@5"],
                overall["recall@10"],
                overall["mrr"],
                int(overall["n"]),
                "computed by the harness, not memorylink",
            ]
        )
        per_type_rows.append(["TF-IDF", *_by_type(by_type, qtypes)])
        report["tfidf"] = {"backend": backend, "metrics": overall, "by_type": by_type, "ranks": ranks}

    print_table(f"Retrieval quality, {args.split} split, embedder {args.embedder}, top_k={args.top_k}", COLUMNS, rows)
    report["questions_by_type"] = counts
    if args.per_type:
        print_table("recall@10 by question type", ["ranker", *(f"{t} ({counts[t]})" for t in qtypes)], per_type_rows)
    suffix = "" if args.embedder == "minilm" else f"_{args.embedder}"
    write_results(f"{NAME}_{args.split}{suffix}", args, report)


if __name__ == "__main__":
    main()
