"""How search hits are scored and ordered (the formulas the docs describe)."""

from __future__ import annotations

from datetime import datetime

from memorylink.config import SearchSettings

__all__ = ["clip_similarity", "recency", "relevance_score"]


def clip_similarity(cosine: float) -> float:
    """Cosine similarity mapped into [0, 1]: negative similarity counts as 0."""
    return min(1.0, max(0.0, float(cosine)))


def recency(created_at: datetime, now: datetime, half_life_days: float) -> float:
    """``0.5 ** (age_days / half_life_days)``: 1 for a memory made now, 0.5 at one half-life."""
    age_days = max(0.0, (now - created_at).total_seconds() / 86_400.0)
    return float(0.5 ** (age_days / half_life_days))


def relevance_score(similarity: float, created_at: datetime, now: datetime, settings: SearchSettings) -> float:
    """``(1 - w) * similarity + w * recency`` with ``w = settings.recency_weight``."""
    weight = settings.recency_weight
    return (1.0 - weight) * similarity + weight * recency(created_at, now, settings.recency_half_life_days)
