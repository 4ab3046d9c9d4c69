"""How search hits are scored and ordered (the formulas docs/concepts.md describes)."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from memorylink.config import SearchSettings
from memorylink.models import SortBy

__all__ = ["clip_similarity", "fuse", "mmr_order", "rank"]


def clip_similarity(cosine: float) -> float:
    """Cosine similarity mapped into [0, 1]: negative similarity counts as 0."""
    return min(1.0, max(0.0, float(cosine)))


def rank(
    labels: npt.NDArray[np.int64],
    similarities: npt.NDArray[np.float32],
    threshold: float | None,
    sort_by: SortBy,
    exclude: int | None,
    settings: SearchSettings,
    *,
    now_ms: float | None = None,
    scores: npt.NDArray[np.float64] | None = None,
) -> list[tuple[float, int, float]]:
    """``(sort key, label, similarity)``, best first, from the index's answer alone.

    Ids carry their creation time (ms << 20), so no memory is decrypted to rank it.
    ``match`` is the search mode's score in [0, 1] (``scores``; the clipped cosine when
    None, as in vector mode). ``relevance``: ``(1 - w) * match + w * 0.5 ** (age_days /
    half_life_days)``; ``similarity``: ``match``; ``date``: newest first. Ties go to the
    newer id. ``threshold`` (on the clipped cosine, whatever the mode) and ``exclude`` drop
    entries before ranking.
    """
    # Pools are small (top_k x rerank_pool_factor): plain floats beat numpy's per-call overhead.
    now = time.time() * 1000.0 if now_ms is None else now_ms
    weight = settings.recency_weight
    per_day = 1.0 / (86_400_000.0 * settings.recency_half_life_days)
    ranked: list[tuple[float, int, float]] = []
    matches = scores.tolist() if scores is not None else None
    for position, (label, cosine) in enumerate(zip(labels.tolist(), similarities.tolist(), strict=True)):
        if label == exclude:
            continue
        similarity = 1.0 if cosine > 1.0 else (cosine if cosine > 0.0 else 0.0)
        if threshold is not None and similarity < threshold:
            continue
        match = similarity if matches is None else matches[position]
        if sort_by == "relevance":
            age = now - (label >> 20)
            recency = 0.5 ** (age * per_day) if age > 0.0 else 1.0
            key = (1.0 - weight) * match + weight * recency
        elif sort_by == "date":
            key = float(label)
        else:
            key = match
        ranked.append((key, label, similarity))
    ranked.sort(reverse=True)  # labels are unique, so ties on the key go to the newer id
    return ranked


def fuse(
    cosines: npt.NDArray[np.float64],
    keyword: npt.NDArray[np.float64],
    vector_weight: float,
    keyword_ceiling: float,
) -> npt.NDArray[np.float64]:
    """The hybrid score of each candidate, in [0, 1].

    ``a * (cos - min cos) / (max cos - min cos) + (1 - a) * min(1, bm25 / ceiling)``: the
    cosines are min-max scaled over the candidates (all equal count as 1); BM25 is scaled
    over its own range for this query, from 0 (no query term) to ``ceiling``, the most a
    memory can score (``(k1 + 1) * sum of the query terms' idf``), so a weak best match
    stays weak. A candidate first in both lists scores the most.
    """
    if len(cosines) == 0:
        return np.zeros(0, dtype=np.float64)
    low, high = float(cosines.min()), float(cosines.max())
    vector_part = (cosines - low) / (high - low) if high > low else np.ones_like(cosines)
    keyword_part = np.minimum(1.0, keyword / keyword_ceiling) if keyword_ceiling > 0.0 else np.zeros_like(keyword)
    fused: npt.NDArray[np.float64] = vector_weight * vector_part + (1.0 - vector_weight) * keyword_part
    return fused


def mmr_order(relevance: list[float], vectors: npt.NDArray[np.float32], lam: float, count: int) -> list[int]:
    """Positions of ``count`` candidates in maximal-marginal-relevance order.

    Each step takes the candidate maximising ``lam * rel - (1 - lam) * max cosine to the
    ones already taken``, where ``rel`` is the ranking key min-max scaled to [0, 1] over the
    candidates. ``lam = 1`` keeps the input order (candidates come best first).
    """
    total = len(relevance)
    count = min(count, total)
    if total == 0 or count == 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    low, high = float(rel.min()), float(rel.max())
    rel = (rel - low) / (high - low) if high > low else np.ones(total)
    unit = vectors.astype(np.float64)
    closest = np.full(total, -np.inf)
    taken = np.zeros(total, dtype=np.bool_)
    order: list[int] = []
    for _ in range(count):
        penalty = np.where(np.isfinite(closest), closest, 0.0)
        value = lam * rel - (1.0 - lam) * penalty
        value[taken] = -np.inf
        chosen = int(np.argmax(value))  # the first of equals: the better-ranked one
        order.append(chosen)
        taken[chosen] = True
        closest = np.maximum(closest, unit @ unit[chosen])
    return order
