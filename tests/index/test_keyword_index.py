"""The BM25 keyword index: hand-computed scores, upserts and removals, snapshots, context and feedback."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink.errors import StoreCorruptedError
from memorylink.index._tokenize import tokenize
from memorylink.index.keyword import KeywordIndex


def scores_of(index: KeywordIndex, query: str, **kwargs: object) -> dict[int, float]:
    found = index.search(query, **kwargs)  # type: ignore[arg-type]
    return dict(zip(found.labels.tolist(), found.scores.tolist(), strict=True))


def oracle(docs: dict[int, str], query: str, k1: float = 1.2, b: float = 0.75) -> dict[int, float]:
    """BM25 from the formula, term by term (the docstring of memorylink.index.keyword)."""
    tokens = {label: tokenize(text) for label, text in docs.items()}
    count = len(tokens)
    average = sum(len(t) for t in tokens.values()) / count if count else 1.0
    result: dict[int, float] = {}
    for term in dict.fromkeys(tokenize(query)):
        df = sum(1 for t in tokens.values() if term in t)
        if df == 0:
            continue
        idf = math.log(1.0 + (count - df + 0.5) / (df + 0.5))
        for label, words in tokens.items():
            tf = words.count(term)
            if tf:
                norm = k1 * (1.0 - b + b * len(words) / average)
                result[label] = result.get(label, 0.0) + idf * tf * (k1 + 1.0) / (tf + norm)
    return result


def tiny() -> KeywordIndex:
    index = KeywordIndex()
    index.add(0, "apple banana")
    index.add(1, "apple apple cherry")
    index.add(2, "banana cherry cherry durian")
    return index


def test_bm25_matches_hand_computed_values() -> None:
    # N = 3, avgdl = 3, k1 = 1.2, b = 0.75; df(apple) = 2, so idf = ln(1 + 1.5 / 2.5) = ln 1.6.
    index = tiny()
    idf_apple = math.log(1.6)
    expected = {
        0: idf_apple * 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 3)),  # tf 1, |d| 2
        1: idf_apple * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 3)),  # tf 2, |d| 3
    }
    got = scores_of(index, "apple")
    assert got == pytest.approx(expected, rel=1e-9)
    assert got[0] == pytest.approx(0.544215, abs=1e-6)
    assert got[1] == pytest.approx(0.646255, abs=1e-6)
    # Two terms add up; df(durian) = 1, so idf = ln(1 + 2.5 / 1.5).
    idf_durian = math.log(1 + 2.5 / 1.5)
    two = scores_of(index, "cherry durian")
    assert two[2] == pytest.approx(
        idf_apple * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 4 / 3)) + idf_durian * 2.2 / (1 + 1.2 * 1.25), rel=1e-9
    )
    assert two[1] == pytest.approx(idf_apple * 2.2 / (1 + 1.2), rel=1e-9)
    assert 0 not in two
    assert index.idf("apple") == pytest.approx(idf_apple)
    # the ceiling: (k1 + 1) * the sum of the query terms' idf
    assert index.search("cherry durian zzz").ceiling == pytest.approx(2.2 * (idf_apple + idf_durian))


def test_k1_and_b_change_the_scores_as_documented() -> None:
    index = tiny()
    index.k1, index.b = 0.0, 0.0  # k1 = 0: a term counts once, whatever its frequency and the length
    got = scores_of(index, "apple")
    assert got[0] == pytest.approx(got[1])
    index.k1, index.b = 2.0, 1.0
    assert scores_of(index, "apple") == pytest.approx(
        oracle({0: "apple banana", 1: "apple apple cherry", 2: "banana cherry cherry durian"}, "apple", 2.0, 1.0)
    )
    with pytest.raises(ValueError, match="b must be"):
        KeywordIndex(b=1.5)


def test_tokenizer_keeps_names_numbers_and_dates() -> None:
    assert tokenize("Met Anna on 2024-03-15 at 9:30, paid $1,200 (Zoë's café)") == [
        "met",
        "anna",
        "2024",
        "03",
        "15",
        "9",
        "30",
        "paid",
        "1",
        "200",
        "zoë",
        "s",
        "café",
    ]
    assert tokenize("snake_case_name") == ["snake", "case", "name"]
    assert tokenize("The IS a") == []


def test_upsert_remove_and_unknown_terms() -> None:
    index = tiny()
    index.add(1, "durian only")  # replaces label 1's text
    assert 1 not in scores_of(index, "apple")
    assert set(scores_of(index, "durian")) == {1, 2}
    index.remove([2, 99])
    assert set(scores_of(index, "durian")) == {1}
    assert scores_of(index, "zzzz unknown") == {}
    assert len(index) == 2 and 2 not in index
    assert sorted(index.labels().tolist()) == [0, 1]
    assert index.terms_of(1) == ["durian", "only"]
    assert index.terms_of(2) == []


def test_allowed_restricts_candidates() -> None:
    index = tiny()
    allowed = np.array([1, 2, 42], dtype=np.int64)
    assert set(scores_of(index, "apple banana", allowed=allowed)) == {1, 2}
    assert scores_of(index, "apple", allowed=np.array([], dtype=np.int64)) == {}
    # the mask cached for one array follows mutations
    index.remove([1])
    assert set(scores_of(index, "apple banana", allowed=allowed)) == {2}


def test_top_orders_best_first_and_breaks_ties_by_label() -> None:
    index = KeywordIndex()
    for label in (5, 3, 9):
        index.add(label, "same words here")
    index.add(1, "same")
    labels, scores = index.search("words").top(2)
    assert labels.tolist() == [9, 5]
    assert scores[0] == scores[1]
    found = index.search("same")
    assert found.of(np.array([1, 7], dtype=np.int64))[1] == 0.0
    assert found.best == pytest.approx(float(found.of(np.array([1], dtype=np.int64))[0]))


def test_snapshot_round_trip_answers_alike() -> None:
    index = tiny()
    index.add(7, "apple pie recipe", run_id="r", turn=1)
    index.add(6, "what should I bake", run_id="r", turn=0)
    index.remove([0])
    restored = KeywordIndex.from_bytes(index.to_bytes())
    for query in ("apple", "cherry durian", "bake", "banana apple pie"):
        assert scores_of(restored, query, context_weight=0.5) == pytest.approx(
            scores_of(index, query, context_weight=0.5)
        )
    assert restored.context_of(7) == 6
    restored.add(8, "more about the pie", run_id="r", turn=2)
    assert restored.context_of(8) == 7


def test_snapshots_are_compressed_and_version_1_still_reads() -> None:
    index = KeywordIndex()
    index.add_many([(label, f"the weekly sync with team {label % 7} moved", None, None) for label in range(1, 2001)])
    data = index.to_bytes()
    assert data[:8] == b"MLKW0002"
    body = zlib.decompress(data[8:])
    assert len(data) * 3 < len(body)  # repetitive postings shrink well
    old = KeywordIndex.from_bytes(b"MLKW0001" + body)  # what earlier releases wrote
    new = KeywordIndex.from_bytes(data)
    for query in ("team 3", "weekly sync moved", "nothing"):
        assert scores_of(old, query) == scores_of(new, query) == scores_of(index, query)


@pytest.mark.parametrize("cut", [0, 4, 12, 40])
def test_truncated_or_foreign_bytes_are_rejected(cut: int) -> None:
    data = tiny().to_bytes()
    with pytest.raises(StoreCorruptedError):
        KeywordIndex.from_bytes(data[:cut])
    with pytest.raises(StoreCorruptedError):
        KeywordIndex.from_bytes(b"MLSNAP01" + data[8:])


def test_context_adds_the_previous_turn_score() -> None:
    index = KeywordIndex()
    index.add(1, "which city did Anna move to", run_id="r", turn=0)
    index.add(2, "she went to Lisbon last spring", run_id="r", turn=1)
    index.add(3, "Anna likes tea", run_id="other", turn=1)
    alone = scores_of(index, "Anna city")
    assert 2 not in alone
    with_context = scores_of(index, "Anna city", context_weight=0.5)
    assert with_context[2] == pytest.approx(0.5 * alone[1])
    assert with_context[1] == pytest.approx(alone[1])  # the turn before has no context of its own
    assert with_context[3] == pytest.approx(alone[3])  # another run: not linked
    index.remove([1])
    assert 2 not in scores_of(index, "Anna city", context_weight=0.5)
    assert index.context_of(2) is None


def test_context_links_whatever_the_order_of_adds() -> None:
    index = KeywordIndex()
    index.add(2, "reply", run_id="r", turn=1)
    index.add(1, "question about zebras", run_id="r", turn=0)
    assert index.context_of(2) == 1
    assert scores_of(index, "zebras", context_weight=1.0)[2] == pytest.approx(scores_of(index, "zebras")[1])
    index.add(2, "a changed reply", run_id="r", turn=1)  # an update keeps the link
    assert index.context_of(2) == 1


def test_feedback_expands_the_query_with_terms_of_the_best_matches() -> None:
    index = KeywordIndex()
    index.add(1, "invoice paid by wire transfer")
    index.add(2, "the invoice for March, wire transfer pending")
    index.add(3, "wire transfer details of the bank")
    index.add(4, "unrelated note about gardening")
    plain = scores_of(index, "invoice")
    assert set(plain) == {1, 2}
    expanded = scores_of(index, "invoice", feedback_docs=2, feedback_terms=5, feedback_weight=0.5)
    assert 3 in expanded  # "wire transfer" came from the invoices
    assert 4 not in expanded
    assert min(expanded[1], expanded[2]) > expanded[3]


texts = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "delta", "7", "2024", "Anna", "the"]), min_size=0, max_size=8
).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 12), texts), max_size=40),
    query=texts,
    allowed=st.none() | st.sets(st.integers(0, 14), max_size=8),
)
def test_matches_the_formula_after_any_history(
    ops: list[tuple[str, int, str]], query: str, allowed: set[int] | None
) -> None:
    index = KeywordIndex()
    model: dict[int, str] = {}
    for op, label, text in ops:
        if op == "add":
            index.add(label, text)
            model[label] = text
        else:
            index.remove([label])
            model.pop(label, None)
    expected = oracle(model, query)
    if allowed is not None:
        expected = {k: v for k, v in expected.items() if k in allowed}
    restrict = np.array(sorted(allowed), dtype=np.int64) if allowed is not None else None
    assert scores_of(index, query, allowed=restrict) == pytest.approx(expected)
    restored = KeywordIndex.from_bytes(index.to_bytes())
    assert scores_of(restored, query, allowed=restrict) == pytest.approx(expected)
    assert sorted(restored.labels().tolist()) == sorted(model)


def test_compaction_after_many_removals_keeps_answers() -> None:
    index = KeywordIndex()
    model = {label: f"word{label % 50} common text {label}" for label in range(10_000)}
    for label, text in model.items():
        index.add(label, text)
    removed = list(range(0, 10_000, 3)) + list(range(1, 10_000, 3))
    index.remove(removed)  # more dead slots than live ones: compacted
    for label in removed:
        model.pop(label)
    assert index._slots_used == len(model)
    got = scores_of(index, "word7 common")
    assert got == pytest.approx(oracle(model, "word7 common"))


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(st.tuples(st.integers(0, 10), texts), max_size=8), max_size=5),
    query=texts,
)
def test_batched_adds_match_the_formula(batches: list[list[tuple[int, str]]], query: str) -> None:
    index = KeywordIndex()
    model: dict[int, str] = {}
    for batch in batches:
        index.add_many([(label, text, None, None) for label, text in batch])
        model.update(batch)  # a label repeated in a batch: the last text wins
    assert scores_of(index, query) == pytest.approx(oracle(model, query))
    assert {label: index.terms_of(label) for label in model} == {
        label: sorted(set(tokenize(text))) for label, text in model.items()
    }
