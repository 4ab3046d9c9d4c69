"""The retrieval harness (benchmarks/eval): metrics on hand-made rankings, ingestion, modes, TF-IDF."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the scripts import the package as `eval` from benchmarks/

from eval import dataset, harness, metrics  # noqa: E402
from memorylink import MemoryStore  # noqa: E402
from memorylink.embedders.hashing import HashingEmbedder  # noqa: E402

# Four questions: evidence first, third, absent, sixth.
RANKINGS = {
    "q1": ["a", "b", "c"],
    "q2": ["x", "y", "e", "z"],
    "q3": ["m", "n"],
    "q4": ["p1", "p2", "p3", "p4", "p5", "f", "p7"],
}
EVIDENCE = {"q1": {"a"}, "q2": {"e"}, "q3": {"missing"}, "q4": {"f", "never-returned"}}


def test_first_relevant_rank_is_one_based_and_none_when_absent() -> None:
    ranks = [metrics.first_relevant_rank(RANKINGS[q], EVIDENCE[q]) for q in RANKINGS]
    assert ranks == [1, 3, None, 6]
    assert metrics.first_relevant_rank(["a", "b", "a"], {"b", "a"}) == 1


def test_recall_and_mrr_on_hand_made_rankings() -> None:
    ranks = [1, 3, None, 6]
    assert metrics.recall_at(ranks, 1) == 0.25
    assert metrics.recall_at(ranks, 3) == 0.5
    assert metrics.recall_at(ranks, 5) == 0.5
    assert metrics.recall_at(ranks, 10) == 0.75
    assert metrics.mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 6) / 4)
    assert metrics.summarize(ranks) == {
        "n": 4,
        "recall@1": 0.25,
        "recall@5": 0.5,
        "recall@10": 0.75,
        "mrr": pytest.approx(0.375),
    }


def test_metrics_reject_a_bad_k_and_give_nan_for_no_questions() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        metrics.recall_at([1], 0)
    assert math.isnan(metrics.recall_at([], 5))
    assert math.isnan(metrics.mean_reciprocal_rank([]))


def _question(qid: str, user: str, text: str, evidence: str, qtype: str = "name") -> dataset.Question:
    return dataset.Question(qid, "conv", user, "dev", qtype, "kind", text, "answer", (evidence,))


def test_score_groups_by_question_type() -> None:
    questions = [
        _question("q1", "u", "?", "a", "name"),
        _question("q2", "u", "?", "e", "number"),
        _question("q3", "u", "?", "missing", "number"),
    ]
    overall, by_type, ranks = harness.score(questions, RANKINGS)
    assert ranks == {"q1": 1, "q2": 3, "q3": None}
    assert overall["recall@1"] == pytest.approx(1 / 3) and overall["recall@5"] == pytest.approx(2 / 3)
    assert by_type["name"]["mrr"] == 1.0
    assert by_type["number"]["recall@10"] == 0.5 and by_type["number"]["mrr"] == pytest.approx(1 / 6)


def _tiny_conversations() -> list[dataset.Conversation]:
    conversations, _ = dataset.generate(count=2, seed=3)
    return conversations


def test_ingest_maps_each_memory_to_its_turn() -> None:
    conversations = _tiny_conversations()
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        id_to_key = harness.ingest(store, conversations)
        turns = {key: (c.user_id, m) for c in conversations for key, m in c.turns()}
        assert sorted(id_to_key.values()) == sorted(turns)
        for memory_id, key in id_to_key.items():
            memory = store.get(memory_id)
            assert memory is not None
            user_id, message = turns[key]
            session_id, _, position = key.rpartition("/")
            assert memory.text == message["content"]
            assert memory.user_id == user_id and memory.run_id == session_id
            assert memory.metadata["turn"] == int(position) and memory.metadata["role"] == message["role"]


class _FakeStore:
    """A store whose search returns fixed ids; with or without a ``mode`` parameter."""

    def __init__(self, hits: list[str]) -> None:
        self.hits = hits
        self.calls: list[dict[str, Any]] = []

    def _result(self) -> Any:
        return SimpleNamespace(hits=[SimpleNamespace(memory=SimpleNamespace(id=i)) for i in self.hits])


class _PlainStore(_FakeStore):
    def search(self, query: str, *, top_k: int = 10, user_id: str | None = None) -> Any:
        self.calls.append({"query": query, "top_k": top_k, "user_id": user_id})
        return self._result()


class _ModeStore(_FakeStore):
    def search(self, query: str, *, top_k: int = 10, user_id: str | None = None, mode: str = "hybrid") -> Any:
        self.calls.append({"query": query, "top_k": top_k, "user_id": user_id, "mode": mode})
        if mode == "keyword":
            raise RuntimeError("keyword index is broken")
        return self._result()


def test_a_store_without_mode_runs_vector_and_reports_the_others_unavailable() -> None:
    store = _PlainStore(["m2", "m1"])
    questions = [_question("q", "u1", "who?", "t1")]
    id_to_key = {"m1": "t1", "m2": "t2"}
    vector = harness.evaluate_mode(store, id_to_key, questions, "vector", top_k=7)
    assert vector.available and vector.ranks == {"q": 2} and vector.metrics["mrr"] == 0.5
    assert vector.note is not None and "no mode" in vector.note
    assert store.calls == [{"query": "who?", "top_k": 7, "user_id": "u1"}]
    for mode in ("keyword", "hybrid"):
        result = harness.evaluate_mode(store, id_to_key, questions, mode)
        assert not result.available and result.metrics == {}
        assert result.error is not None and "mode=" in result.error


def test_modes_are_passed_through_and_a_failing_mode_is_reported() -> None:
    store = _ModeStore(["m1"])
    questions = [_question("q", "u1", "who?", "t1")]
    hybrid = harness.evaluate_mode(store, {"m1": "t1"}, questions, "hybrid")
    assert hybrid.available and hybrid.metrics["recall@1"] == 1.0
    assert store.calls[-1]["mode"] == "hybrid"
    keyword = harness.evaluate_mode(store, {"m1": "t1"}, questions, "keyword")
    assert not keyword.available and keyword.error == "RuntimeError: keyword index is broken"
    unknown = harness.evaluate_mode(store, {"m1": "t1"}, questions, "hybrid", search_kwargs={"mmr": True})
    assert not unknown.available and unknown.error is not None and "mmr=" in unknown.error


def _corpus() -> tuple[list[dataset.Conversation], list[dataset.Question]]:
    session = dataset.Session(
        "c-s1",
        (
            {"role": "user", "content": "the cat sat"},
            {"role": "assistant", "content": "the dog barked"},
            {"role": "user", "content": "a cat and a dog"},
        ),
    )
    other = dataset.Session("d-s1", ({"role": "user", "content": "cat cat cat"},))
    conversations = [
        dataset.Conversation("c", "u1", "dev", (session,)),
        dataset.Conversation("d", "u2", "dev", (other,)),
    ]
    questions = [_question("q1", "u1", "sat", "c-s1/0"), _question("q2", "u1", "dog barked", "c-s1/1")]
    return conversations, questions


def test_numpy_tfidf_matches_hand_computed_weights() -> None:
    docs, queries = harness._numpy_tfidf(["the cat sat", "the dog barked", "a cat and a dog"], ["sat"])
    idf2, idf1 = math.log(4 / 3) + 1, math.log(2) + 1  # smooth idf for df = 2 and df = 1 of n = 3
    # doc 0 holds the (df 2), cat (df 2), sat (df 1); the query only "sat".
    expected = idf1 / math.sqrt(2 * idf2**2 + idf1**2)
    assert float(docs[0] @ queries[0]) == pytest.approx(expected)
    assert float(docs[1] @ queries[0]) == 0.0


def test_tfidf_rankings_stay_in_the_users_scope() -> None:
    conversations, questions = _corpus()
    rankings = harness.tfidf_rankings(conversations, questions, backend="numpy")
    assert rankings["q1"][0] == "c-s1/0" and rankings["q2"][0] == "c-s1/1"
    assert all(not key.startswith("d-") for ranking in rankings.values() for key in ranking)
    assert len(rankings["q1"]) == 3
    with pytest.raises(ValueError, match="backend must be"):
        harness.tfidf_rankings(conversations, questions, backend="bm25")


def test_numpy_and_scikit_learn_tfidf_agree() -> None:
    pytest.importorskip("sklearn")
    conversations, questions = dataset.load("test")
    conversations = conversations[:3]
    kept = {c.conversation_id for c in conversations}
    asked = [q.question for q in questions if q.conversation_id in kept]
    assert asked
    texts = [m["content"] for c in conversations for _, m in c.turns()]
    numpy_docs, numpy_queries = harness._numpy_tfidf(texts, asked)
    sk_docs, sk_queries = harness._sklearn_tfidf(texts, asked)
    assert numpy_docs == pytest.approx(sk_docs) and numpy_queries == pytest.approx(sk_queries)


class _CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(dimension=16)
        self.embedded: list[str] = []

    def embed(self, texts: Any) -> Any:
        self.embedded += list(texts)
        return super().embed(texts)


def test_cached_embedder_reuses_vectors_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "cache.npz"
    first = _CountingEmbedder()
    cached = harness.CachedEmbedder(first, path)
    vectors = cached.embed(["a b", "c d", "a b"])
    assert first.embedded == ["a b", "c d"] and vectors.shape == (3, 16)
    cached.save()
    second = _CountingEmbedder()
    again = harness.CachedEmbedder(second, path)
    assert again.name == second.name and again.dimension == 16
    assert again.embed(["c d", "e f"]) == pytest.approx(second.embed(["c d", "e f"]))
    assert second.embedded == ["e f", "c d", "e f"]  # only "e f" went through the cache's inner call
    assert again.embed([]).shape == (0, 16)
    assert list(tmp_path.iterdir()) == [path]  # written through a temporary file, then renamed


def test_cached_embedder_ignores_another_models_vectors(tmp_path: Path) -> None:
    path = tmp_path / "cache.npz"
    cached = harness.CachedEmbedder(_CountingEmbedder(), path)
    cached.embed(["a b"])
    cached.save()

    class Other(_CountingEmbedder):
        @property
        def name(self) -> str:
            return "another-model"

    other = Other()
    harness.CachedEmbedder(other, path).embed(["a b"])
    assert other.embedded == ["a b"]


def test_overrides_from_the_command_line_build_settings() -> None:
    base = harness.parse_overrides(["recency_weight=0.25", "index.ef_search = 200"])
    assert base == {"search": {"recency_weight": "0.25"}, "index": {"ef_search": "200"}}
    merged = harness.merge_overrides(base, harness.parse_overrides(["recency_weight=0"]))
    settings = harness.build_settings(merged)
    assert settings.search.recency_weight == 0.0 and settings.index.ef_search == 200
    assert base["search"]["recency_weight"] == "0.25"  # merging copies
    assert harness.build_settings({}) == harness.build_settings({"search": {}})
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        harness.parse_overrides(["recency_weight"])
    with pytest.raises(ValueError, match="no_such_knob"):
        harness.build_settings(harness.parse_overrides(["no_such_knob=1"]))
