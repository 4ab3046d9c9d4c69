"""Ingest a split into a store as users do, rank every question, and a TF-IDF reference.

* :func:`ingest`: one ``store.add_messages(session.messages, user_id=..., run_id=session_id)``
  per session; returns the map memory id -> turn key.
* :func:`evaluate_mode`: every question searched with ``top_k`` scoped to its
  conversation's user, in one search mode; ranks, metrics overall and per question type.
* :func:`tfidf_rankings`: a TF-IDF baseline computed here, outside memorylink (scikit-learn's
  ``TfidfVectorizer`` with its defaults when installed, else the same formula in numpy).
"""

from __future__ import annotations

import inspect
import math
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import Conversation, Question, turn_key
from .metrics import first_relevant_rank, summarize

MODES = ("vector", "keyword", "hybrid")


class CachedEmbedder:
    """Wraps an embedder (same name and dimension) and keeps its vectors in an ``.npz`` file.

    The evaluation set's texts do not change between runs, so a calibration sweep need not
    run the model over ~10,000 turns each time; the vectors are the model's own.
    """

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner = inner
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        if path.exists():
            with np.load(path, allow_pickle=False) as data:
                # another model's vectors (or a file without the model's name) are not reused
                if "embedder" in data.files and str(data["embedder"]) == self.name:
                    self._vectors = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self.inner.embed(missing), strict=True))
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.stack([self._vectors[t] for t in texts]), dtype=np.float32)

    def save(self) -> None:
        """Write the cache file if anything new was embedded."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        texts = list(self._vectors)
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with open(partial, "wb") as handle:  # np.savez would append .npz to a str path
            np.savez(
                handle,
                embedder=np.array(self.name),
                texts=np.array(texts),
                vectors=np.stack([self._vectors[t] for t in texts]),
            )
        os.replace(partial, self.path)  # atomic: a concurrent run reads the old file or the new one
        self._dirty = False


def ingest(store: Any, conversations: Sequence[Conversation]) -> dict[str, str]:
    """Add every session with one ``add_messages`` call; return memory id -> turn key."""
    id_to_key: dict[str, str] = {}
    for conversation in conversations:
        for session in conversation.sessions:
            result = store.add_messages(list(session.messages), user_id=conversation.user_id, run_id=session.session_id)
            if result.failed:
                raise RuntimeError(f"{session.session_id}: {result.failed} messages failed: {result!r}")
            for item in result.items:
                id_to_key[item.id] = turn_key(session.session_id, item.index)
    return id_to_key


def accepts(function: Any, parameter: str) -> bool:
    """Whether ``function`` takes a keyword argument named ``parameter``."""
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class ModeResult:
    """The outcome of one mode on one split: metrics, or why the mode could not run."""

    mode: str
    available: bool
    error: str | None = None
    note: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    ranks: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "available": self.available,
            "error": self.error,
            "note": self.note,
            "metrics": self.metrics,
            "by_type": self.by_type,
            "ranks": self.ranks,
            "seconds": self.seconds,
        }


def score(
    questions: Sequence[Question], rankings: Mapping[str, Sequence[str]]
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, int | None]]:
    """Metrics overall and per question type, and each question's rank, from rankings by question id."""
    ranks = {q.question_id: first_relevant_rank(rankings[q.question_id], q.evidence) for q in questions}
    by_type: dict[str, list[int | None]] = defaultdict(list)
    for q in questions:
        by_type[q.qtype].append(ranks[q.question_id])
    overall = summarize([ranks[q.question_id] for q in questions])
    return overall, {qtype: summarize(values) for qtype, values in sorted(by_type.items())}, ranks


def evaluate_mode(
    store: Any,
    id_to_key: Mapping[str, str],
    questions: Sequence[Question],
    mode: str,
    *,
    top_k: int = 10,
    search_kwargs: Mapping[str, Any] | None = None,
) -> ModeResult:
    """Search every question in ``mode`` (scoped to its user) and score the rankings.

    When the store's ``search`` takes no ``mode`` argument, ``"vector"`` runs as a plain
    search (the only kind it has) and the other modes are reported unavailable.
    """
    extra = dict(search_kwargs or {})
    note = None
    if accepts(store.search, "mode"):
        extra["mode"] = mode
    elif mode == "vector":
        note = "search() takes no mode=; ran the plain (vector) search"
    else:
        return ModeResult(mode, False, error="MemoryStore.search() does not accept mode= yet")
    for name in list(extra):
        if name != "mode" and not accepts(store.search, name):
            return ModeResult(mode, False, error=f"MemoryStore.search() does not accept {name}=")
    rankings: dict[str, list[str]] = {}
    started = time.perf_counter()
    try:
        for q in questions:
            result = store.search(q.question, top_k=top_k, user_id=q.user_id, **extra)
            rankings[q.question_id] = [id_to_key[hit.memory.id] for hit in result.hits]
    except Exception as error:  # a mode that fails is reported, not fatal
        return ModeResult(mode, False, error=f"{type(error).__name__}: {error}")
    seconds = time.perf_counter() - started
    overall, by_type, ranks = score(questions, rankings)
    return ModeResult(mode, True, note=note, metrics=overall, by_type=by_type, ranks=ranks, seconds=seconds)


# -- TF-IDF reference ---------------------------------------------------------------------------

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern


def _numpy_tfidf(documents: Sequence[str], queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's default TF-IDF (lowercase, raw counts, smooth idf, l2 rows), in numpy."""
    tokenised = [_TOKEN.findall(text.lower()) for text in documents]
    vocabulary = {term: i for i, term in enumerate(sorted({t for tokens in tokenised for t in tokens}))}
    df = Counter(term for tokens in tokenised for term in set(tokens))
    n = len(documents)
    idf = np.array([math.log((1 + n) / (1 + df[term])) + 1.0 for term in vocabulary], dtype=np.float64)

    def matrix(texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(vocabulary)), dtype=np.float64)
        for row, text in enumerate(texts):
            for term, count in Counter(_TOKEN.findall(text.lower())).items():
                column = vocabulary.get(term)
                if column is not None:
                    out[row, column] = count
        out *= idf
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    return matrix(documents), matrix(queries)


def _sklearn_tfidf(documents: Sequence[str], queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer()
    docs = vectorizer.fit_transform(documents)
    return docs.toarray(), vectorizer.transform(queries).toarray()


def tfidf_backend() -> str:
    """``"scikit-learn"`` when it is importable, else ``"numpy"``."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return "numpy"
    return "scikit-learn"


def tfidf_rankings(
    conversations: Sequence[Conversation],
    questions: Sequence[Question],
    *,
    top_k: int = 10,
    backend: str | None = None,
) -> dict[str, list[str]]:
    """Rank each question's user's turns by TF-IDF cosine (IDF over all turns of the split).

    Ties keep turn order. ``backend`` is ``"scikit-learn"``, ``"numpy"`` or None (the first available).
    """
    chosen = backend or tfidf_backend()
    keys: list[str] = []
    texts: list[str] = []
    rows_of_user: dict[str, list[int]] = defaultdict(list)
    for conversation in conversations:
        for key, message in conversation.turns():
            rows_of_user[conversation.user_id].append(len(keys))
            keys.append(key)
            texts.append(message["content"])
    if chosen == "scikit-learn":
        docs, query_matrix = _sklearn_tfidf(texts, [q.question for q in questions])
    elif chosen == "numpy":
        docs, query_matrix = _numpy_tfidf(texts, [q.question for q in questions])
    else:
        raise ValueError(f"backend must be 'scikit-learn' or 'numpy', got {backend!r}")
    out: dict[str, list[str]] = {}
    for q, query in zip(questions, query_matrix, strict=True):
        rows = np.asarray(rows_of_user[q.user_id])
        scores = docs[rows] @ query
        order = np.argsort(-scores, kind="stable")[:top_k]
        out[q.question_id] = [keys[rows[i]] for i in order]
    return out


# -- settings overrides from the command line -------------------------------------------------------


def parse_overrides(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["a=1", "index.ef_search=200"]`` -> ``{"search": {"a": "1"}, "index": {"ef_search": "200"}}``.

    A bare name is a ``SearchSettings`` field. Values stay strings: pydantic's lax mode turns
    them into the field's type and names the field when one is wrong.
    """
    nested: dict[str, dict[str, str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected NAME=VALUE, got {pair!r}")
        section, dot, field_name = name.strip().rpartition(".")
        nested.setdefault(section if dot else "search", {})[field_name] = value.strip()
    return nested


def merge_overrides(
    base: Mapping[str, Mapping[str, str]], extra: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """``base`` with ``extra``'s values on top, section by section."""
    out = {section: dict(values) for section, values in base.items()}
    for section, values in extra.items():
        out.setdefault(section, {}).update(values)
    return out


def build_settings(overrides: Mapping[str, Mapping[str, str]]) -> Any:
    """A ``memorylink.Settings`` with these overrides (pydantic's ValidationError names a bad field)."""
    from memorylink import Settings

    return Settings.model_validate(overrides) if overrides else Settings()
