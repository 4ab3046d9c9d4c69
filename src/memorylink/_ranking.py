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
    similarity = np.clip(similarities.astype(np.float64), 0.0, 1.0)
    keep = np.ones(len(labels), dtype=bool)
    if exclude is not None:
        keep &= labels != exclude
    if threshold is not None:
        keep &= similarity >= threshold
    labels, similarity = labels[keep], similarity[keep]
    if sort_by == "relevance":
        age_days = np.maximum(
            0.0, ((time.time() * 1000.0 if now_ms is None else now_ms) - (labels >> 20)) / 86_400_000.0
        )
        recency = 0.5 ** (age_days / settings.recency_half_life_days)
        key = (1.0 - settings.recency_weight) * similarity + settings.recency_weight * recency
    elif sort_by == "date":
        key = labels.astype(np.float64)
    else:
        key = similarity
    order = np.lexsort((-labels, -key))
    return list(zip(key[order].tolist(), labels[order].tolist(), similarity[order].tolist(), strict=True))
