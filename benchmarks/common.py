"""Shared helpers for the benchmark scripts: timing, percentiles, tables, JSON, data generators.

Every script measures memorylink against its *floor* (the work it cannot avoid: the
embedder alone, hnswlib alone) in the same run, interleaved chunk by chunk, so that
machine noise hits both sides alike, and reports the ratio. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# The parameters memorylink's default IndexSettings use; every hnswlib floor is built with them.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 96
DIMENSION = 384

_START_LOAD = os.getloadavg()  # 1, 5 and 15-minute load averages when the benchmark started

KEY = bytes(range(32))  # a fixed raw 32-byte key: no scrypt cost in any timing

Vectors = npt.NDArray[np.float32]


# -- command line -------------------------------------------------------------------------


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """``--quick`` (small sizes, < 1 minute) and ``--dir`` (where stores are created)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes: runs in well under a minute")
    parser.add_argument("--dir", default=None, help="parent directory for the stores (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the store directories afterwards")
    # Internal: run as a fresh child process that reopens a store (or loads an hnswlib file).
    parser.add_argument("--reopen-store", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--reopen-hnswlib", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--reopen-count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--reopen-user", default=None, help=argparse.SUPPRESS)
    if extra is not None:
        extra(parser)
    return parser.parse_args()


@contextmanager
def workdir(args: argparse.Namespace, name: str) -> Iterator[Path]:
    """A fresh directory for one benchmark's stores, removed afterwards unless ``--keep``."""
    parent = Path(args.dir) if args.dir else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"memorylink-bench-{name}-", dir=parent))
    try:
        yield path
    finally:
        if not args.keep:
            shutil.rmtree(path, ignore_errors=True)


# -- timing and statistics ----------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; return (seconds, result), measured with ``time.perf_counter``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / mean / min / max / n of a list of seconds, in milliseconds."""
    ms = [v * 1000.0 for v in values]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "mean_ms": float(np.mean(ms)) if ms else float("nan"),
        "min_ms": min(ms) if ms else float("nan"),
        "max_ms": max(ms) if ms else float("nan"),
    }


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def verdict(value: float, target: float) -> str:
    """'met' when ``value <= target`` (lower is better for every figure here), else 'MISSED'."""
    if value != value:  # NaN
        return "n/a"
    return "met" if value <= target else "MISSED"


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (``ru_maxrss`` is in KiB on Linux).

    Note: Linux carries ``ru_maxrss`` across ``exec``, so a child started by
    ``subprocess`` inherits its parent's peak; children use :func:`peak_rss_since_exec`.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(usage) * (1 if sys.platform == "darwin" else 1024)


def peak_rss_since_exec() -> int:
    """Peak RSS of this process image (``VmHWM``, reset by ``exec``); getrusage if unavailable."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return peak_rss_bytes()


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def directory_bytes(path: Path) -> int:
    """Total size of the regular files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def quiet_gc() -> None:
    """Collect now so a collection does not land inside a timed call."""
    gc.collect()


# -- output -------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain-text table (markdown-compatible)."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(str(col)), *(len(r[i]) for r in cells)) if cells else len(col) for i, col in enumerate(columns)]
    print()
    print(f"## {title}")
    print()
    print("| " + " | ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(flush=True)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def source_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of memorylink's installed source, to tie results to a code state."""
    import hashlib

    import memorylink

    root = Path(memorylink.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_START_FINGERPRINT = source_fingerprint()  # the code this run imported (checked again at the end)


def environment() -> dict[str, Any]:
    return {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "memorylink_source_sha256": _START_FINGERPRINT,
        "memorylink_source_sha256_at_end": source_fingerprint(),
        "load_average_at_start": _START_LOAD,
        "load_average_at_end": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "versions": {
            name: _version(name)
            for name in ("memorylink", "hnswlib", "numpy", "torch", "sentence-transformers", "cryptography")
        },
    }


def write_results(name: str, args: argparse.Namespace, results: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` (``"quick": true`` in it for a ``--quick`` run)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "quick": bool(args.quick), "environment": environment(), **results}
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    print(f"results written to {path}")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# -- texts ----------------------------------------------------------------------------------


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


_NAMES = _words(
    "Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent "
    "Victor Walter Yusuf Zoe Amara Bruno Chen Dmitri Elena Farah Gustavo Hana Igor Jamal Keiko Lars Maya "
    "Nadia Omar Priya Quentin Rosa Sanjay Tomas Uma Valentina Wei Ximena Yara Zainab Arjun Beatriz Kofi"
)
_PLACES = _words(
    "Lisbon Oslo Nairobi Osaka Toronto Lyon Porto Kyoto Denver Dublin Austin Seville Krakow Hanoi Lima "
    "Quito Bergen Zurich Vienna Prague Tallinn Accra Dakar Cusco Perth Hobart Tromso Bologna Ghent Leeds "
    "Malmo Turin Valencia Cordoba Izmir Tbilisi Yerevan Almaty Jaipur Pune Busan Sapporo Cebu Auckland"
)
_TOPICS = _words(
    "budget roadmap hiring onboarding migration security audit pricing launch retrospective compliance "
    "vendor contract offsite marketing analytics infrastructure billing support churn forecast inventory "
    "logistics research design accessibility localisation payroll benefits training recruiting partnership "
    "sponsorship warranty renovation mortgage insurance vaccination dentist tuition gardening photography"
)
_FOODS = _words("peanuts shellfish gluten dairy eggs sesame soy mushrooms cilantro olives anchovies kiwi")
_PREFS = _words(
    "window seats|aisle seats|early flights|late check-out|quiet rooms|vegetarian meals|trains over planes|"
    "hotels near the station|direct flights|a standing desk|dark mode|short meetings|written agendas",
    "|",
)
_DAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
_MONTHS = _words("January February March April May June July August September October November December")
_RELATIONS = _words("sister brother cousin manager mentor neighbour daughter son partner colleague")
_JOBS = _words("nurse architect teacher pilot chef lawyer plumber translator pharmacist engineer")
_THINGS = _words("passport|lease|gym membership|car insurance|domain name|library card|work visa|parking permit", "|")
_HOBBIES = _words("climbing chess pottery sailing baking cycling birdwatching salsa running knitting")

_TEMPLATES = (
    "{name} prefers {pref} when travelling to {place}",
    "The {topic} meeting with {name} moved to {day} at {hour}:00",
    "{name}'s {relation} lives in {place} and works as a {job}",
    "Remind {name} to renew the {thing} before {month} {dom}",
    "The {topic} budget for Q{q} is {amount} dollars, approved by {name} on {day}",
    "{name} is allergic to {food} and avoids {food2} at restaurants in {place}",
    "Flight {code}{num3} from {place} to {place2} departs at {hour}:{minute:02d} on {day}",
    "{name} finished a book about {topic} and rated it {score} out of 10",
    "Call {name} back about the {topic} invoice number {num5} before {day}",
    "{name} ran {km} kilometres along the river in {place} last {day} morning",
    "Our {topic} review with {name} and {name2} is booked for {month} {dom} in {place}",
    "{name} started learning {hobby} in {place} and practises every {day}",
    "Ticket {num5}: {name} reported a {topic} issue affecting {count} customers in {place}",
    "{name} wants the {topic} report by {day}, with numbers for {place} and {place2}",
    "Dinner with {name} and {name2} at {hour}:00 on {day}; {name2} cannot eat {food}",
    "{name} moved from {place} to {place2} in {month} and is looking for a {job}",
)
_QUERY_TEMPLATES = (
    "what does {name} prefer when travelling",
    "when is the {topic} meeting with {name}",
    "who lives in {place}",
    "what should {name} renew soon",
    "how much is the {topic} budget",
    "which foods is {name} allergic to",
    "flights from {place} on {day}",
    "books about {topic} that {name} liked",
    "open {topic} invoices to follow up",
    "how far did {name} run in {place}",
    "{topic} review in {month}",
    "hobbies {name} picked up recently",
    "customer issues about {topic} in {place}",
    "reports {name} asked for",
    "dinner plans with {name}",
    "who moved to {place2} this year",
)


def _fill(template: str, rng: random.Random) -> str:
    name, name2 = rng.sample(_NAMES, 2)
    place, place2 = rng.sample(_PLACES, 2)
    food, food2 = rng.sample(_FOODS, 2)
    return template.format(
        name=name,
        name2=name2,
        place=place,
        place2=place2,
        topic=rng.choice(_TOPICS),
        food=food,
        food2=food2,
        pref=rng.choice(_PREFS),
        day=rng.choice(_DAYS),
        month=rng.choice(_MONTHS),
        relation=rng.choice(_RELATIONS),
        job=rng.choice(_JOBS),
        thing=rng.choice(_THINGS),
        hobby=rng.choice(_HOBBIES),
        hour=rng.randint(7, 21),
        minute=rng.choice((0, 5, 15, 20, 30, 45, 50)),
        dom=rng.randint(1, 28),
        q=rng.randint(1, 4),
        amount=f"{rng.randint(2, 950) * 1000:,}",
        code=rng.choice(("TP", "LH", "KL", "BA", "AF", "SK", "IB", "OS")),
        num3=rng.randint(100, 999),
        num5=rng.randint(10000, 99999),
        score=rng.randint(3, 10),
        km=rng.randint(3, 42),
        count=rng.randint(2, 900),
    )


def make_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct, deterministic short memories (6-20 words) from templates."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        text = _fill(rng.choice(_TEMPLATES), rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def make_queries(n: int, seed: int = 1) -> list[str]:
    """``n`` distinct, deterministic query texts (questions in the memories' domain)."""
    rng = random.Random(seed + 10_007)
    seen: set[str] = set()
    out: list[str] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        text = _fill(rng.choice(_QUERY_TEMPLATES), rng)
        if attempts > 20 * n:  # the query space is smaller: make the rest distinct by suffix
            text = f"{text} ({len(out)})"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- vectors --------------------------------------------------------------------------------


class ClusteredVectors:
    """Deterministic clustered unit vectors that look like sentence embeddings to an index.

    Each vector is ``shared * g + centre + spread * (z @ B.T) + noise * e``, normalised, where
    ``g`` is one common direction (sentence embeddings are anisotropic: unrelated texts sit
    at cosine ~0.15, not 0), ``centre`` one of ``centres`` gaussian topic centres, ``z`` a
    gaussian in a ``intrinsic``-dimensional subspace ``B`` (structure inside a topic), and
    ``e`` isotropic gaussian noise. Plain "centres + isotropic noise" makes every point in a
    cluster equidistant from the others, which is as hard for HNSW as uniform random data;
    real embeddings are not like that. With the defaults, 100,000 vectors give a query's
    top-1 / top-10 cosine of ~0.72 / ~0.67, mean cosine ~0.14, and hnswlib (M=16,
    ef=96) recall@10 ~0.995; all-MiniLM-L6-v2 on 5,000 of this module's texts gives
    0.67 / 0.54, mean 0.15, recall 0.999.
    Block ``i`` (of ``block`` rows) of a stream is always the same, whatever order blocks are made in.
    """

    def __init__(
        self,
        dimension: int = DIMENSION,
        centres: int = 1000,
        *,
        shared: float = 0.55,
        spread: float = 0.15,
        intrinsic: int = 24,
        noise: float = 0.03,
        seed: int = 7,
        block: int = 10_000,
    ) -> None:
        self.dimension = dimension
        self.shared = shared
        self.spread = spread
        self.noise = noise
        self.seed = seed
        self.block = block
        rng = np.random.default_rng([seed, 0])
        c = rng.standard_normal((centres, dimension)).astype(np.float32)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        g = rng.standard_normal(dimension).astype(np.float32)
        self.common = g / np.linalg.norm(g)
        self.basis = np.linalg.qr(rng.standard_normal((dimension, intrinsic)))[0].astype(np.float32)

    def _block(self, index: int, stream: int) -> Vectors:
        rng = np.random.default_rng([self.seed, stream, index])
        n, d = self.block, self.dimension
        v = self.centres[rng.integers(0, len(self.centres), size=n)]
        v += self.shared * self.common
        v += self.spread * (rng.standard_normal((n, self.basis.shape[1]), dtype=np.float32) @ self.basis.T)
        v += self.noise * rng.standard_normal((n, d), dtype=np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return np.ascontiguousarray(v, dtype=np.float32)

    def rows(self, start: int, count: int, *, stream: int = 1) -> Vectors:
        """Rows ``start .. start + count`` of the stream (1: memories, 2: queries)."""
        out = np.empty((count, self.dimension), dtype=np.float32)
        done = 0
        while done < count:
            position = start + done
            index, offset = divmod(position, self.block)
            take = min(self.block - offset, count - done)
            out[done : done + take] = self._block(index, stream)[offset : offset + take]
            done += take
        return out

    def queries(self, count: int) -> Vectors:
        return self.rows(0, count, stream=2)


class PrecomputedEmbedder:
    """An :class:`memorylink.embedders.base.Embedder` that serves registered vectors by text.

    ``register(texts, vectors)`` before the store embeds those texts; ``forget()`` drops
    them (the 1M benchmark keeps only the current chunk). Embedding an unknown text raises
    ``KeyError`` so a benchmark cannot silently measure the wrong thing.
    """

    def __init__(self, dimension: int = DIMENSION, name: str = "benchmark-precomputed-clustered") -> None:
        self._dimension = dimension
        self._name = name
        self._vectors: dict[str, Vectors] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def register(self, texts: Sequence[str], vectors: Vectors) -> None:
        if len(texts) != len(vectors):
            raise ValueError("texts and vectors differ in length")
        self._vectors.update(zip(texts, vectors, strict=True))

    def forget(self) -> None:
        self._vectors.clear()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.ascontiguousarray(np.stack([self._vectors[t] for t in texts]), dtype=np.float32)


class RecordingEmbedder:
    """Wraps an embedder (same name and dimension) and keeps the vectors it returns, by text.

    Lets a benchmark build its hnswlib floor and its exact ground truth from exactly the
    vectors the store indexed, without embedding every text twice. Turn ``recording`` off
    before timing anything.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.recording = True
        self.vectors: dict[str, Vectors] = {}

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def embed(self, texts: Sequence[str]) -> Vectors:
        out: Vectors = self.inner.embed(texts)
        if self.recording:
            self.vectors.update(zip(texts, out, strict=True))
        return out


def default_embedder() -> Any:
    """memorylink's default embedder (all-MiniLM-L6-v2, as ``MemoryStore.open`` builds it)."""
    from memorylink.config import Settings
    from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(batch_size=Settings().embed_batch_size)


def warm_up_embedder(embedder: Any, rounds: int = 3) -> float:
    """Load the model and run a few batches so no timing includes the load; returns load seconds."""
    seconds, _ = timed(lambda: embedder.embed(["warming up the model"]))
    for i in range(rounds):
        embedder.embed(make_texts(64, seed=999_000 + i))
        embedder.embed([f"warm-up query number {i}"])
    return seconds


def new_hnsw(capacity: int, dimension: int = DIMENSION) -> Any:
    """An hnswlib index with memorylink's default parameters (inner product over unit vectors)."""
    import hnswlib

    index = hnswlib.Index(space="ip", dim=dimension)
    index.init_index(max_elements=capacity, M=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, random_seed=100)
    index.set_ef(HNSW_EF_SEARCH)
    return index


def exact_top_k(matrix: Vectors, query: Vectors, k: int, rows: npt.NDArray[np.intp] | None = None) -> list[int]:
    """Row numbers of the ``k`` most similar rows (brute force, optionally among ``rows``)."""
    if rows is None:
        scores = matrix @ query
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        return [int(i) for i in top[np.argsort(-scores[top])]]
    scores = matrix[rows] @ query
    top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
    return [int(rows[i]) for i in top[np.argsort(-scores[top])]]


def interleaved(
    count: int,
    floor: Callable[[int], Any],
    ours: Callable[[int], Any],
    *,
    gc_every: int = 50,
) -> tuple[list[float], list[float]]:
    """Time ``floor(i)`` and ``ours(i)`` back to back for ``i in range(count)``, alternating
    which goes first; return the two lists of seconds."""
    floor_s: list[float] = []
    ours_s: list[float] = []
    for i in range(count):
        if gc_every and i % gc_every == 0:
            gc.collect()
        if i % 2 == 0:
            start = time.perf_counter()
            floor(i)
            middle = time.perf_counter()
            ours(i)
            end = time.perf_counter()
            floor_s.append(middle - start)
            ours_s.append(end - middle)
        else:
            start = time.perf_counter()
            ours(i)
            middle = time.perf_counter()
            floor(i)
            end = time.perf_counter()
            ours_s.append(middle - start)
            floor_s.append(end - middle)
    return floor_s, ours_s


def recall(found: Sequence[int], exact: Sequence[int]) -> float:
    """|found ∩ exact| / |exact| (1.0 when exact is empty)."""
    if not exact:
        return 1.0
    return len(set(found) & set(exact)) / len(exact)


# Metadata filters by selectivity: every memory gets metadata {"bucket": position % 1000}.
BUCKETS = 1000
FILTERS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "50%": {"metadata.bucket": {"lt": 500}},
    "10%": {"metadata.bucket": {"lt": 100}},
    "1%": {"metadata.bucket": {"lt": 10}},
    "0.1%": {"metadata.bucket": 0},
}
FILTER_LIMITS = {"none": BUCKETS, "50%": 500, "10%": 100, "1%": 10, "0.1%": 1}


def filter_rows(count: int, level: str) -> npt.NDArray[np.intp] | None:
    """Row numbers (positions) a FILTERS level keeps among ``count`` memories (None: all)."""
    if level == "none":
        return None
    positions = np.arange(count)
    return positions[(positions % BUCKETS) < FILTER_LIMITS[level]]


def filtered_recall(
    store: Any,
    matrix: Vectors,
    id_to_row: dict[str, int],
    query_texts: Sequence[str],
    query_vectors: Vectors,
    *,
    k: int = 10,
) -> dict[str, dict[str, Any]]:
    """Recall@k of ``store.search(sort_by="similarity", mode="vector")`` vs numpy brute force, per filter level.

    The query embedding is cached by the store after its first search, so the latencies
    reported here are searches *without* embedding (index + filter + fetch + decrypt).
    """
    out: dict[str, dict[str, Any]] = {}
    for text in query_texts:  # fill the store's query cache so every level is timed alike
        store.search(text, top_k=k, sort_by="similarity", mode="vector")
    for level, spec in FILTERS.items():
        rows = filter_rows(len(matrix), level)
        recalls: list[float] = []
        seconds: list[float] = []
        strategies: dict[str, int] = {}
        for text, vector in zip(query_texts, query_vectors, strict=True):
            start = time.perf_counter()
            result = store.search(text, top_k=k, sort_by="similarity", filter=spec, mode="vector")
            seconds.append(time.perf_counter() - start)
            index = getattr(getattr(store, "_state", None), "index", None)  # diagnostic only
            strategy = str(getattr(index, "last_strategy", "?"))
            strategies[strategy] = strategies.get(strategy, 0) + 1
            found = [id_to_row[hit.memory.id] for hit in result.hits]
            recalls.append(recall(found, exact_top_k(matrix, vector, k, rows)))
        out[level] = {
            "kept": len(matrix) if rows is None else len(rows),
            "recall_mean": float(np.mean(recalls)),
            "recall_min": float(np.min(recalls)),
            "latency_cached_query": summary(seconds),
            "strategies": strategies,
        }
    return out


def recall_rows(levels: dict[str, dict[str, Any]], target: float) -> list[list[Any]]:
    return [
        [
            level,
            data["kept"],
            f"{data['recall_mean']:.4f}",
            f"{data['recall_min']:.2f}",
            target,
            verdict(-data["recall_mean"], -target),
            data["latency_cached_query"]["p50_ms"],
            ", ".join(f"{name} x{count}" for name, count in data["strategies"].items()),
        ]
        for level, data in levels.items()
    ]


RECALL_COLUMNS = ["filter keeps", "memories kept", "recall@10 mean", "min", "target", "verdict", "p50 ms", "strategy"]


# -- reopening in a fresh process ---------------------------------------------------------------

REOPEN_QUERY = "what did the team decide about the offsite in Lisbon"


def reopen_in_child(
    script: str,
    *,
    store: Path | None = None,
    hnswlib_file: Path | None = None,
    count: int = 0,
    user_id: str | None = None,
) -> Any:
    """Run ``script`` as a fresh process that reopens ``store`` (or loads ``hnswlib_file``)
    and answers one search; return its JSON report.

    A fresh process is what a user's next session is: nothing is cached in the allocator,
    and every page of the loaded index is touched for the first time. Library imports
    (memorylink, hnswlib, cryptography) happen before the clock starts, like a model load.
    """
    command = [sys.executable, script]
    if store is not None:
        command += ["--reopen-store", str(store)]
        if user_id is not None:
            command += ["--reopen-user", user_id]  # the first search is scoped to this user
    if hnswlib_file is not None:
        command += ["--reopen-hnswlib", str(hnswlib_file), "--reopen-count", str(count)]
    child = subprocess.run(command, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"reopen child failed ({child.returncode}): {child.stderr.strip()[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def maybe_run_reopen_child(args: argparse.Namespace) -> bool:
    """If this process is a reopen child, do the job, print JSON and return True."""
    if args.reopen_store is None and args.reopen_hnswlib is None:
        return False
    import hnswlib

    import memorylink.index.hnsw  # noqa: F401  (imported before timing, like a model load)
    from memorylink import MemoryStore

    vector = ClusteredVectors().rows(0, 1, stream=4)
    gc.collect()
    report: dict[str, Any] = {"peak_rss_before_bytes": peak_rss_since_exec()}
    if args.reopen_store is not None:
        embedder = PrecomputedEmbedder()
        embedder.register([REOPEN_QUERY], vector)
        report["open_s"], store = timed(lambda: MemoryStore.open(args.reopen_store, key=KEY, embedder=embedder))
        report["first_search_s"], result = timed(lambda: store.search(REOPEN_QUERY, top_k=10, user_id=args.reopen_user))
        report["hits"] = len(result.hits)
        report["peak_rss_bytes"] = peak_rss_since_exec()
        report["close_s"], _ = timed(store.close)
    else:

        def load() -> Any:
            index = hnswlib.Index(space="ip", dim=DIMENSION)
            index.load_index(args.reopen_hnswlib, max_elements=args.reopen_count)
            index.set_ef(HNSW_EF_SEARCH)
            return index

        report["open_s"], index = timed(load)
        report["first_search_s"], _ = timed(lambda: index.knn_query(vector, k=10))
        report["peak_rss_bytes"] = peak_rss_since_exec()
    report["open_plus_first_search_s"] = report["open_s"] + report["first_search_s"]
    print(json.dumps(report))
    return True
