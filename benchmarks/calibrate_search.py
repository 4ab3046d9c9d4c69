"""Calibrate hybrid search on the evaluation DEV split: fusion weight, neighbour context, feedback.

Ingests the dev split once (``eval.harness.ingest``: one ``add_messages`` per session, as
users do) into a store kept under ``--dir`` (reused by later runs), then reopens it with
each candidate ``SearchSettings`` and scores every mode with ``eval.harness.evaluate_mode``
(recall@1/5/10 and MRR, top_k=10, scoped to the question's user). Query embeddings are
cached in the process, so a grid point costs only the searches. Only the dev split is
read: the test split stays held out for the final check (``bench_retrieval.py --split test``).

    python benchmarks/calibrate_search.py --dir /tmp/ml-calibrate [--embedder hashing]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from common import KEY, default_embedder, parse_args, print_table, write_results
from eval import dataset, harness
from memorylink import MemoryStore, SearchSettings, Settings

NAME = "calibrate_search"

# The grid docs/search.md reports (the chosen defaults: a = 0.7, context 0.5, no feedback).
GRID: list[tuple[str, dict[str, Any]]] = [
    ("a=0.7 ctx=0", {"hybrid_vector_weight": 0.7, "context_weight": 0.0}),
    ("a=0.7 ctx=0.25", {"hybrid_vector_weight": 0.7, "context_weight": 0.25}),
    ("a=0.7 ctx=0.5", {"hybrid_vector_weight": 0.7, "context_weight": 0.5}),
    ("a=0.6 ctx=0.5", {"hybrid_vector_weight": 0.6, "context_weight": 0.5}),
    ("a=0.8 ctx=0.5", {"hybrid_vector_weight": 0.8, "context_weight": 0.5}),
    (
        "a=0.7 ctx=0.5 prf10/0.3",
        {"hybrid_vector_weight": 0.7, "context_weight": 0.5, "feedback_terms": 10, "feedback_weight": 0.3},
    ),
]


class CachedEmbedder:
    """Wraps an embedder with an in-process cache by text (same name and dimension)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._cache: dict[str, npt.NDArray[np.float32]] = {}

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedder", choices=("minilm", "hashing"), default="minilm")
    parser.add_argument("--grid", default="default", help='"default", or a JSON list of [label, {setting: value}]')


def grid(name: str) -> list[tuple[str, dict[str, Any]]]:
    if name == "default":
        return GRID
    return [(label, dict(values)) for label, values in json.loads(name)]


def main() -> None:
    args = parse_args(__doc__ or NAME, _options)
    base = Path(args.dir or "/tmp/ml-calibrate")
    directory = base / f"dev-{args.embedder}"
    mapping_file = directory.with_suffix(".ids.json")
    if args.embedder == "hashing":
        from memorylink.embedders.hashing import HashingEmbedder

        inner: Any = HashingEmbedder()
    else:
        inner = default_embedder()
    embedder = CachedEmbedder(inner)
    conversations, questions = dataset.load("dev")
    if not mapping_file.exists():
        with MemoryStore.open(directory, key=KEY, embedder=embedder) as store:  # type: ignore[arg-type]
            id_to_key = harness.ingest(store, conversations)
        mapping_file.write_text(json.dumps(id_to_key))
        print(f"ingested {len(id_to_key)} memories into {directory}")
    id_to_key = json.loads(mapping_file.read_text())
    rows: list[list[Any]] = []
    report: list[dict[str, Any]] = []
    for label, values in grid(args.grid):
        settings = Settings(search=SearchSettings(**values))
        with MemoryStore.open(directory, key=KEY, embedder=embedder, settings=settings) as store:  # type: ignore[arg-type]
            for mode in harness.MODES:
                if mode == "vector" and report and any(r["mode"] == "vector" for r in report):
                    continue  # the settings above do not touch vector mode
                result = harness.evaluate_mode(store, id_to_key, questions, mode)
                metrics = result.metrics
                rows.append(
                    [
                        label,
                        mode,
                        metrics.get("recall@1"),
                        metrics.get("recall@5"),
                        metrics.get("recall@10"),
                        metrics.get("mrr"),
                    ]
                )
                report.append({"label": label, "settings": values, "mode": mode, "metrics": metrics})
                print(rows[-1], flush=True)
    print_table(
        f"dev split ({len(questions)} questions, {args.embedder})",
        ["settings", "mode", "recall@1", "recall@5", "recall@10", "MRR"],
        rows,
    )
    suffix = "" if args.grid == "default" else "_custom"
    write_results(f"{NAME}{suffix}", args, {"embedder": args.embedder, "split": "dev", "rows": report})


if __name__ == "__main__":
    main()
