"""How search hits are scored and ordered (the formulas docs/concepts.md describes)."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from memorylink.config import SearchSettings
from memorylink.models import SortBy

__all__ = ["clip_similarity", "rank"]


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
) -> list[tuple[float, int, float]]:
    """``(sort key, label, similarity)``, best first, from the index's answer alone.

    Ids carry their creation time (ms << 20), so no memory is decrypted to rank it.
    ``relevance``: ``(1 - w) * similarity + w * 0.5 ** (age_days / half_life_days)``;
    ``similarity``: the clipped cosine; ``date``: newest first. Ties go to the newer id.
    ``threshold`` and ``exclude`` drop entries before ranking.
    """
    # Pools are small (top_k x rerank_pool_factor): plain floats beat numpy's per-call overhead.
    now = time.time() * 1000.0 if now_ms is None else now_ms
    weight = settings.recency_weight
    per_day = 1.0 / (86_400_000.0 * settings.recency_half_life_days)
    ranked: list[tuple[float, int, float]] = []
    for label, cosine in zip(labels.tolist(), similarities.tolist(), strict=True):
        if label == exclude:
            continue
        similarity = 1.0 if cosine > 1.0 else (cosine if cosine > 0.0 else 0.0)
        if threshold is not None and similarity < threshold:
            continue
        if sort_by == "relevance":
            age = now - (label >> 20)
            recency = 0.5 ** (age * per_day) if age > 0.0 else 1.0
            key = (1.0 - weight) * similarity + weight * recency
        elif sort_by == "date":
            key = float(label)
        else:
            key = similarity
        ranked.append((key, label, similarity))
    ranked.sort(reverse=True)  # labels are unique, so ties on the key go to the newer id
    return ranked
