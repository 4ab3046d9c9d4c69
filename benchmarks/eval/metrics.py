"""Turn-level retrieval metrics: recall@k (hit rate) and MRR.

A ranking is the list of turn keys a search returned, best first; a question's evidence is
the set of turn keys that state its answer. The *rank* of a question is the 1-based
position of its first evidence turn in the ranking, or None when none is returned.

* recall@k: the fraction of questions with **at least one** evidence turn in the top k
  (every question here has exactly one evidence turn, so this is also the fraction of
  evidence found);
* MRR: the mean over questions of 1 / rank, counting 0 for a question whose evidence is
  not in the ranking (the rankings are cut at top_k = 10, so this is MRR@10).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

KS = (1, 5, 10)


def first_relevant_rank(ranking: Sequence[str], evidence: Collection[str]) -> int | None:
    """1-based position of the first evidence turn in ``ranking``, or None."""
    for position, key in enumerate(ranking, start=1):
        if key in evidence:
            return position
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Fraction of questions whose first evidence turn is within the top ``k``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not ranks:
        return float("nan")
    return sum(1 for rank in ranks if rank is not None and rank <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float:
    """Mean of 1 / rank, 0 for a question with no evidence in its ranking."""
    if not ranks:
        return float("nan")
    return sum(1.0 / rank for rank in ranks if rank is not None) / len(ranks)


def summarize(ranks: Sequence[int | None], ks: Sequence[int] = KS) -> dict[str, float]:
    """``{"n", "recall@1", "recall@5", "recall@10", "mrr"}`` for these ranks."""
    out: dict[str, float] = {"n": len(ranks)}
    for k in ks:
        out[f"recall@{k}"] = recall_at(ranks, k)
    out["mrr"] = mean_reciprocal_rank(ranks)
    return out
