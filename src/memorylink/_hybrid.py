"""Candidates of a search by mode: vector, keyword or hybrid (the fusion docs/search.md describes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from memorylink._ranking import fuse
from memorylink.config import SearchSettings
from memorylink.index.base import VectorIndex
from memorylink.index.keyword import KeywordIndex
from memorylink.models import SearchMode

__all__ = ["Candidates", "gather"]

_EMPTY_LABELS = np.empty(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Candidates:
    """What the rankers found: labels, their cosine similarities, and the mode's match score in [0, 1].

    ``scores`` is None in vector mode (the match is the clipped cosine itself).
    """

    labels: npt.NDArray[np.int64]
    similarities: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float64] | None


def keyword_options(settings: SearchSettings) -> dict[str, float | int]:
    """The keyword index's search arguments from the settings."""
    return {
        "context_weight": settings.context_weight,
        "feedback_docs": settings.feedback_docs,
        "feedback_terms": settings.feedback_terms,
        "feedback_weight": settings.feedback_weight,
    }


def gather(
    index: VectorIndex,
    keywords: KeywordIndex,
    vector: npt.NDArray[np.float32],
    query: str,
    mode: SearchMode,
    pool: int,
    allowed: npt.NDArray[np.int64] | None,
    settings: SearchSettings,
) -> Candidates:
    """The candidate pool of one search (call under the store's read lock).

    * vector: the ``pool`` nearest memories;
    * keyword: the ``pool`` best BM25 matches (score = BM25 / best BM25), with their cosines;
    * hybrid: the union of both lists of ``pool``, scored by :func:`memorylink._ranking.fuse`
      (every candidate's BM25 and cosine are exact, whichever list brought it).
    """
    if mode == "vector":
        labels, similarities = index.search(vector, pool, allowed=allowed)
        return Candidates(labels, similarities, None)
    found = keywords.search(query, allowed=allowed, **keyword_options(settings))  # type: ignore[arg-type]
    keyword_labels, _ = found.top(pool)
    if mode == "keyword":
        labels = _indexed(index, keyword_labels)
        raw = found.of(labels)
        best = found.best
        return Candidates(labels, _cosines(index, vector, labels), raw / best if best > 0.0 else raw)
    vector_labels, vector_sims = index.search(vector, pool, allowed=allowed)
    extra = _indexed(index, np.setdiff1d(keyword_labels, vector_labels, assume_unique=True))
    labels = np.concatenate([vector_labels, extra])
    similarities = np.concatenate([vector_sims.astype(np.float32), _cosines(index, vector, extra)])
    if len(labels) == 0:
        return Candidates(_EMPTY_LABELS, np.empty(0, dtype=np.float32), np.empty(0, dtype=np.float64))
    clipped = np.clip(similarities.astype(np.float64), 0.0, 1.0)
    scores = fuse(clipped, found.of(labels), settings.hybrid_vector_weight, found.ceiling)
    return Candidates(labels, similarities, scores)


def _indexed(index: VectorIndex, labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # Both indexes follow the same journal; this only guards a label one of them lacks.
    if len(labels) == 0:
        return labels
    keep = np.fromiter((int(label) in index for label in labels), dtype=np.bool_, count=len(labels))
    return labels[keep]


def _cosines(
    index: VectorIndex, vector: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    if len(labels) == 0:
        return np.empty(0, dtype=np.float32)
    vectors = index.get_vectors(labels)
    cosines: npt.NDArray[np.float32] = (vectors @ vector).astype(np.float32)
    return cosines
