"""search(mode=...): hybrid by default, keyword and vector modes, fusion, threshold, sort, mmr, consistency."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink import MemoryStore, SearchSettings, Settings, ValidationError
from memorylink._ranking import fuse, mmr_order
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.ids import decode_id
from memorylink.index._tokenize import tokenize

KEY = bytes(range(32))
MODES = ("vector", "keyword", "hybrid")


def ids(result: object) -> list[str]:
    return [hit.memory.id for hit in result.hits]  # type: ignore[attr-defined]


# -- the fusion formula ------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    cosines=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
    keyword=st.lists(st.floats(0.0, 50.0), min_size=30, max_size=30),
    weight=st.floats(0.0, 1.0),
    winner=st.integers(0, 29),
    headroom=st.floats(1.0, 3.0),
)
def test_first_in_both_lists_is_first_in_the_fusion(
    cosines: list[float], keyword: list[float], weight: float, winner: int, headroom: float
) -> None:
    cos = np.array(cosines, dtype=np.float64)
    kw = np.array(keyword[: len(cosines)], dtype=np.float64)
    winner %= len(cos)
    cos[winner] = cos.max() + 0.01
    kw[winner] = kw.max() + 0.01
    fused = fuse(cos, kw, weight, float(kw.max()) * headroom)  # the ceiling bounds every plain BM25
    assert all(fused[winner] > fused[i] for i in range(len(fused)) if i != winner)
    assert np.all((fused >= -1e-12) & (fused <= 1.0 + 1e-12))


def test_fusion_formula_on_hand_values() -> None:
    cos = np.array([0.2, 0.6, 0.4])
    kw = np.array([4.0, 0.0, 2.0])
    # ceiling 8: vector part (0, 1, 0.5), keyword part (0.5, 0, 0.25)
    assert fuse(cos, kw, 0.5, 8.0).tolist() == pytest.approx([0.25, 0.5, 0.375])
    assert fuse(cos, kw, 0.8, 8.0).tolist() == pytest.approx([0.1, 0.8, 0.45])
    assert fuse(cos, np.zeros(3), 0.5, 8.0).tolist() == pytest.approx([0.0, 0.5, 0.25])
    # a context-boosted score above the ceiling counts as 1
    assert fuse(cos, np.array([10.0, 0.0, 2.0]), 0.5, 8.0).tolist() == pytest.approx([0.5, 0.5, 0.375])


def test_mmr_with_lambda_one_keeps_the_ranking_and_otherwise_skips_duplicates() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert mmr_order([0.9, 0.8, 0.1], vectors, 1.0, 3) == [0, 1, 2]
    assert mmr_order([0.9, 0.8, 0.1], vectors, 0.5, 3) == [0, 2, 1]


# -- the store's modes ---------------------------------------------------------------------


def corpus(store: MemoryStore) -> dict[str, str]:
    texts = {
        "berlin": "Anna moved to Berlin in 2019 for a job at Zalando",
        "invoice": "invoice INV-4471 was paid on 2024-03-15",
        "dentist": "dentist appointment next Tuesday at 9:30",
        "garden": "planted tomatoes and basil in the garden",
        "music": "listening to jazz records from the sixties",
    }
    return {name: store.add(text, user_id="u1").id for name, text in texts.items()}


def test_hybrid_is_the_default_and_every_mode_is_reported(store: MemoryStore) -> None:
    named = corpus(store)
    default = store.search("INV-4471")
    assert default.mode == "hybrid"
    assert ids(default)[0] == named["invoice"]
    for mode in MODES:
        result = store.search("invoice INV-4471", mode=mode)
        assert result.mode == mode
        assert ids(result)[0] == named["invoice"]
    with pytest.raises(ValidationError) as caught:
        store.search("x", mode="fuzzy")  # type: ignore[arg-type]
    assert caught.value.field == "mode"
    with pytest.raises(ValidationError):
        store.search("x", mmr="yes")  # type: ignore[arg-type]


def test_keyword_mode_scores_normalised_bm25_and_reports_cosine(store: MemoryStore) -> None:
    named = corpus(store)
    result = store.search("Berlin 2019 garden", mode="keyword", sort_by="similarity")
    assert set(ids(result)) == {named["berlin"], named["garden"]}  # only memories with a query word
    assert result.hits[0].score == pytest.approx(1.0)
    assert all(0.0 < hit.score <= 1.0 for hit in result.hits)
    for hit in result.hits:
        vectors = store.embedder.embed([hit.memory.text, "Berlin 2019 garden"])
        assert hit.similarity == pytest.approx(max(0.0, float(vectors[0] @ vectors[1])), abs=1e-5)


def test_keyword_finds_what_vector_misses_and_hybrid_keeps_both() -> None:
    # A dimension-1 embedder puts every memory at the same point: vector search cannot tell them apart.
    with MemoryStore.open(None, embedder=HashingEmbedder(dimension=8)) as store:
        memories = [store.add(f"filler note number {n} about the weather").id for n in range(30)]
        target = store.add("the locker code is 5521").id
        assert ids(store.search("5521", mode="keyword"))[0] == target
        assert ids(store.search("locker code 5521"))[0] == target
        assert target not in ids(store.search("5521", mode="keyword", filter={"tags": {"any": ["x"]}}))
        assert len(memories) == 30


def test_threshold_is_a_cosine_floor_in_every_mode(store: MemoryStore) -> None:
    corpus(store)
    query = "Anna Berlin job"
    for mode in MODES:
        everything = store.search(query, mode=mode, top_k=20)
        assert everything.hits
        floor = sorted(hit.similarity for hit in everything.hits)[len(everything.hits) // 2]
        kept = store.search(query, mode=mode, top_k=20, threshold=floor)
        assert all(hit.similarity >= floor for hit in kept.hits)
        assert {h.memory.id for h in kept.hits} == {h.memory.id for h in everything.hits if h.similarity >= floor}


def test_sort_by_works_in_every_mode(store: MemoryStore) -> None:
    corpus(store)
    for mode in MODES:
        by_date = store.search("Anna invoice garden jazz dentist", mode=mode, sort_by="date", top_k=10)
        created = [hit.memory.created_at for hit in by_date.hits]
        assert created == sorted(created, reverse=True)
        by_similarity = store.search("Anna invoice garden jazz dentist", mode=mode, sort_by="similarity", top_k=10)
        scores = [hit.score for hit in by_similarity.hits]
        assert scores == sorted(scores, reverse=True)
        relevance = store.search("Anna invoice garden jazz dentist", mode=mode, top_k=10)
        assert [hit.score for hit in relevance.hits] == sorted((hit.score for hit in relevance.hits), reverse=True)


def test_deleting_a_memory_removes_it_from_every_mode(store: MemoryStore) -> None:
    named = corpus(store)
    assert store.delete(named["invoice"])
    for mode in MODES:
        assert named["invoice"] not in ids(store.search("invoice INV-4471 paid", mode=mode, top_k=10))


def test_update_changes_what_keywords_find(store: MemoryStore) -> None:
    named = corpus(store)
    store.update(named["music"], text="listening to opera in Verona")
    assert ids(store.search("Verona", mode="keyword")) == [named["music"]]
    assert store.search("jazz sixties", mode="keyword").hits == []
    store.update(named["music"], tags=["culture"])  # a tags-only update keeps the text indexed
    assert ids(store.search("Verona", mode="keyword")) == [named["music"]]


@settings(max_examples=15, deadline=None)
@given(
    owners=st.lists(st.sampled_from(["u1", "u2", "u3"]), min_size=1, max_size=12),
    tagged=st.lists(st.booleans(), min_size=12, max_size=12),
    user=st.sampled_from(["u1", "u2", "u3"]),
    mode=st.sampled_from(MODES),
)
def test_hybrid_and_keyword_respect_scope_and_filters(
    owners: list[str], tagged: list[bool], user: str, mode: str
) -> None:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        added = {}
        for n, owner in enumerate(owners):
            memory = store.add(f"shared word kiwi item {n}", user_id=owner, tags=["t"] if tagged[n] else [])
            added[memory.id] = (owner, tagged[n])
        scoped = store.search("kiwi shared", user_id=user, mode=mode, top_k=50)  # type: ignore[arg-type]
        assert {h.memory.id for h in scoped.hits} == {i for i, (o, _) in added.items() if o == user}
        filtered = store.search("kiwi", user_id=user, tags=["t"], mode=mode, top_k=50)  # type: ignore[arg-type]
        assert {h.memory.id for h in filtered.hits} == {i for i, (o, t) in added.items() if o == user and t}


def test_mmr_spreads_near_duplicates(store: MemoryStore) -> None:
    duplicates = [store.add(f"the wifi password is hunter2 {'!' * n}").id for n in range(6)]
    others = [
        store.add("the wifi router sits in the hallway").id,
        store.add("wifi password for guests is on the fridge").id,
    ]
    plain = store.search("wifi password", top_k=4)
    assert set(ids(plain)) <= set(duplicates)  # six copies crowd out everything else
    spread = store.search("wifi password", top_k=4, mmr=True)
    assert ids(spread)[0] in duplicates
    assert ids(spread)[1] == others[1]  # the next-best memory that is not a copy comes second
    assert sum(1 for i in ids(spread) if i in duplicates) < 4


def test_mmr_with_lambda_one_equals_the_plain_ranking(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=Settings(search=SearchSettings(mmr_lambda=1.0)))
    for n in range(25):
        store.add(f"note {n} about {'cats' if n % 3 else 'dogs'} and {'rain' if n % 2 else 'sun'}")
    for mode in MODES:
        for sort_by in ("relevance", "similarity"):
            plain = store.search("cats rain", top_k=8, mode=mode, sort_by=sort_by)  # type: ignore[arg-type]
            diverse = store.search("cats rain", top_k=8, mode=mode, sort_by=sort_by, mmr=True)  # type: ignore[arg-type]
            assert ids(diverse) == ids(plain)
    vector = store.embedder.embed(["cats rain"])[0]
    assert ids(store.search_by_vector(vector, mmr=True)) == ids(store.search_by_vector(vector))


# -- neighbour context -----------------------------------------------------------------------


def test_a_reply_is_found_through_the_question_before_it(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store(settings=Settings(search=SearchSettings(context_weight=0.5)))
    store.add_messages(
        [
            {"role": "user", "content": "Which restaurant did Maria book for the anniversary?"},
            {"role": "assistant", "content": "She booked Chez Panisse for Friday."},
        ],
        user_id="u1",
    )
    reply = store.list(user_id="u1", order="created_asc").items[1]
    found = store.search("Maria anniversary restaurant", mode="keyword", user_id="u1")
    assert reply.id in ids(found)
    off = open_store("off", settings=Settings(search=SearchSettings(context_weight=0.0)))
    off.add_messages([{"role": "user", "content": "Maria anniversary?"}, {"role": "assistant", "content": "Friday."}])
    assert len(off.search("Maria anniversary", mode="keyword").hits) == 1


# -- persistence, other processes, encryption --------------------------------------------------


def keyword_terms(store: MemoryStore, memory_id: str) -> list[str]:
    return store._state.keywords.terms_of(decode_id(memory_id))


def test_keyword_index_survives_reopen_with_and_without_its_snapshot(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    store = open_store()
    named = corpus(store)
    store.update(named["garden"], text="planted peppers")
    store.delete(named["music"])
    store.close()
    directory = tmp_path / "store"
    assert len(list(directory.glob("keywords-*.snapshot"))) == 1
    for lose_snapshot in (False, True):
        if lose_snapshot:
            for path in directory.glob("keywords-*"):
                path.unlink()
        with MemoryStore.open(directory, key=KEY, embedder=embedder) as reopened:
            assert ids(reopened.search("peppers", mode="keyword")) == [named["garden"]]
            assert reopened.search("tomatoes jazz", mode="keyword").hits == []
            assert keyword_terms(reopened, named["berlin"]) == sorted(
                set(tokenize("Anna moved to Berlin in 2019 for a job at Zalando"))
            )
            assert len(reopened._state.keywords) == 4
        assert len(list(directory.glob("keywords-*.snapshot"))) == 1


def test_writes_since_the_snapshot_are_replayed_after_a_crash(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    store = open_store()
    named = corpus(store)
    store.checkpoint()
    store.update(named["berlin"], text="Anna moved to Porto")
    store.delete(named["dentist"])
    late = store.add("a late memory about kayaks").id
    # No close: the next open sees the old snapshots plus the journal, as after a kill.
    with MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder) as reopened:
        assert ids(reopened.search("Porto", mode="keyword")) == [named["berlin"]]
        assert ids(reopened.search("kayaks", mode="keyword")) == [late]
        assert reopened.search("dentist Tuesday", mode="keyword").hits == []
        assert reopened.search("Zalando", mode="keyword").hits == []


def test_another_stores_writes_reach_the_keyword_index(
    open_store: Callable[..., MemoryStore], tmp_path: Path, embedder: HashingEmbedder
) -> None:
    first = open_store()
    named = corpus(first)
    second = MemoryStore.open(tmp_path / "store", key=KEY, embedder=embedder)
    try:
        added = second.add("second process writes about quokkas").id
        second.update(named["invoice"], text="invoice INV-9000 is overdue")
        second.delete(named["garden"])
        assert ids(first.search("quokkas", mode="keyword")) == [added]
        assert ids(first.search("INV-9000", mode="keyword")) == [named["invoice"]]
        assert first.search("4471", mode="keyword").hits == []
        assert first.search("basil tomatoes", mode="keyword").hits == []
        second.checkpoint()  # prunes the journal: the first store reloads both snapshots
        more = second.add("and then about wombats").id
        assert ids(first.search("wombats", mode="keyword")) == [more]
        assert ids(first.search("quokkas", mode="keyword")) == [added]
    finally:
        second.close()


def test_key_rotation_rewrites_the_keyword_snapshot(
    store: MemoryStore, tmp_path: Path, embedder: HashingEmbedder
) -> None:
    named = corpus(store)
    store.checkpoint()
    old = sorted(p.name for p in (tmp_path / "store").glob("keywords-*"))
    assert len(old) == 1
    store.rotate_key(key=bytes(reversed(range(32))))
    assert ids(store.search("Zalando", mode="keyword")) == [named["berlin"]]
    # the old key's snapshots are gone at once, not at the next open
    now = sorted(p.name for p in (tmp_path / "store").glob("keywords-*"))
    assert len(now) == 1 and now != old
    assert len(list((tmp_path / "store").glob("index-*"))) == 1
    store.close()
    with MemoryStore.open(tmp_path / "store", key=bytes(reversed(range(32))), embedder=embedder) as reopened:
        assert ids(reopened.search("Zalando", mode="keyword")) == [named["berlin"]]
