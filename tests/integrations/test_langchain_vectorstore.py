"""MemoryLinkVectorStore beyond the standard suite: ids, scoping, filters, MMR, async off the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from memorylink import AsyncMemoryStore, Limits, MemoryStore, Settings, ValidationError
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.integrations.langchain import (
    ID_KEY,
    LangChainEmbedder,
    MemoryLinkEmbeddings,
    MemoryLinkVectorStore,
    to_memorylink_filter,
)

KEY = bytes(range(32))


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        yield store


@pytest.fixture
def alice(store: MemoryStore) -> MemoryLinkVectorStore:
    return MemoryLinkVectorStore(store, user_id="alice")


# -- ids ------------------------------------------------------------------------------------------


def test_documents_without_ids_get_the_memory_id(store: MemoryStore, alice: MemoryLinkVectorStore) -> None:
    (doc_id,) = alice.add_texts(["the cat sat on the mat"], [{"kind": "pet"}])
    memory = store.get(doc_id)
    assert memory is not None and memory.metadata == {"kind": "pet"} and memory.user_id == "alice"
    assert alice.get_by_ids([doc_id]) == [
        Document(id=doc_id, page_content="the cat sat on the mat", metadata={"kind": "pet"})
    ]


def test_caller_ids_live_in_metadata_and_stay_hidden(store: MemoryStore, alice: MemoryLinkVectorStore) -> None:
    assert alice.add_documents([Document(id="doc-1", page_content="release notes", metadata={"v": 1})]) == ["doc-1"]
    (memory,) = store.list().items
    assert memory.metadata == {"v": 1, ID_KEY: "doc-1"}
    assert alice.similarity_search("release notes", k=1) == [
        Document(id="doc-1", page_content="release notes", metadata={"v": 1})
    ]


def test_readding_a_document_is_an_update_that_keeps_history(store: MemoryStore, alice: MemoryLinkVectorStore) -> None:
    (own,) = alice.add_texts(["first draft"])
    alice.add_texts(["a caller id"], ids=["c1"])
    alice.add_documents([Document(id=own, page_content="second draft"), Document(id="c1", page_content="changed")])
    assert len(store.list().items) == 2
    assert [v.text for v in store.history(own)] == ["first draft", "second draft"]
    assert ID_KEY not in store.get(own).metadata  # type: ignore[union-attr]
    assert [d.page_content for d in alice.get_by_ids([own, "c1"])] == ["second draft", "changed"]


def test_scores_are_similarities_and_other_modes_pass_through(alice: MemoryLinkVectorStore) -> None:
    alice.add_texts(["the locker code is 5810", "gym on Mondays", "coffee with Bob"])
    (doc, score), *_ = alice.similarity_search_with_score("locker code 5810", k=3)
    expected = alice.store.search("locker code 5810", top_k=1, sort_by="similarity", user_id="alice", mode="vector")
    assert doc.page_content == "the locker code is 5810"
    assert score == pytest.approx(expected.hits[0].similarity)
    by_keyword = alice.similarity_search("5810", k=3, mode="keyword")
    assert [d.page_content for d in by_keyword] == ["the locker code is 5810"]


def test_mixed_ids_and_tags(store: MemoryStore, alice: MemoryLinkVectorStore) -> None:
    ids = alice.add_documents([Document(id="x", page_content="one"), Document(page_content="two")], tags=["note"])
    assert ids[0] == "x" and len(ids[1]) == 13
    assert all(m.tags == ["note"] for m in store.list().items)
    assert [d.page_content for d in alice.get_by_ids([ids[1], "missing", "x"])] == ["two", "one"]


def test_many_ids_are_looked_up_in_chunks_and_pages() -> None:
    settings = Settings(limits=Limits(max_page_size=3000))  # pages above the filter's 1024-value lists
    with MemoryStore.open(None, embedder=HashingEmbedder(), settings=settings) as store:
        vectorstore = MemoryLinkVectorStore(store, user_id="alice")
        ids = [f"id-{n}" for n in range(1100)]
        vectorstore.add_texts([f"note {n}" for n in range(1100)], ids=ids)
        vectorstore.add_texts(["note 7, again"], ids=["id-7"])
        found = vectorstore.get_by_ids(list(reversed(ids)))
        assert [d.id for d in found] == list(reversed(ids)) and found[-8].page_content == "note 7, again"
        vectorstore.delete(ids[:1050])
        assert len(store.list(limit=3000).items) == 50


@pytest.mark.parametrize(
    ("texts", "kwargs", "field"),
    [
        (["a", "b"], {"ids": ["same", "same"]}, "ids[1]"),
        (["a"], {"metadatas": [{ID_KEY: "sneaky"}]}, f"metadatas[0].{ID_KEY}"),
        (["a", "b"], {"metadatas": [{"ok": 1}, {"dotted.key": 1}]}, "metadata.dotted.key"),
        (["a", ""], {}, "text"),
        (["a", "b"], {"ids": ["only-one"]}, "ids"),
    ],
)
def test_bad_input_writes_nothing(
    store: MemoryStore, alice: MemoryLinkVectorStore, texts: list[str], kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        alice.add_texts(texts, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert store.list().items == []


def test_unknown_arguments_are_errors(alice: MemoryLinkVectorStore) -> None:
    with pytest.raises(TypeError, match="colour"):
        alice.add_texts(["a"], colour="red")
    with pytest.raises(TypeError, match="fetch"):
        alice.similarity_search("a", fetch=3)


# -- scoping --------------------------------------------------------------------------------------


def test_scopes_do_not_see_each_other(store: MemoryStore, alice: MemoryLinkVectorStore) -> None:
    bob = alice.with_scope(user_id="bob")
    alice.add_texts(["alice likes window seats"], ids=["pref"])
    bob.add_texts(["bob likes aisle seats"], ids=["pref"])
    (bobs_own,) = bob.add_texts(["bob's private note"])
    assert [d.page_content for d in alice.get_by_ids(["pref", bobs_own])] == ["alice likes window seats"]
    assert [d.page_content for d in alice.similarity_search("seats note", k=10)] == ["alice likes window seats"]
    alice.delete(["pref", bobs_own])
    assert alice.get_by_ids(["pref"]) == []
    assert [d.page_content for d in bob.get_by_ids(["pref", bobs_own])] == [
        "bob likes aisle seats",
        "bob's private note",
    ]
    alice.add_texts(["alice again"], ids=["pref"])  # an upsert in alice's scope only
    assert bob.get_by_ids(["pref"])[0].page_content == "bob likes aisle seats"


def test_agent_and_run_scope_writes_and_reads(store: MemoryStore) -> None:
    run = MemoryLinkVectorStore(store, user_id="u", agent_id="planner", run_id="r1")
    run.add_texts(["step one"])
    (memory,) = store.list().items
    assert (memory.user_id, memory.agent_id, memory.run_id) == ("u", "planner", "r1")
    assert run.with_scope(user_id="u", agent_id="planner", run_id="r2").similarity_search("step one") == []
    assert len(MemoryLinkVectorStore(store, user_id="u").similarity_search("step one")) == 1


# -- filters --------------------------------------------------------------------------------------


def test_langchain_style_filters_translate() -> None:
    assert to_memorylink_filter({"source": "zoom"}) == {"metadata.source": "zoom"}
    assert to_memorylink_filter(
        {"$and": [{"year": {"$gte": 2024}}, {"$or": [{"kind": {"$in": ["a", "b"]}}, {"$not": {"draft": True}}]}]}
    ) == {
        "and": [
            {"metadata.year": {"gte": 2024}},
            {"or": [{"metadata.kind": {"in": ["a", "b"]}}, {"not": {"metadata.draft": True}}]},
        ]
    }
    native = {"tags": {"any": ["x"]}, "metadata.source": "zoom", "created_at": {"gte": "2024-01-01"}}
    assert to_memorylink_filter(native) == native
    assert to_memorylink_filter(None) is None
    with pytest.raises(ValidationError, match="twice"):
        to_memorylink_filter({"source": "a", "metadata.source": "b"})
    with pytest.raises(ValidationError):
        to_memorylink_filter({"$or": {"source": "a"}})


def test_filters_in_searches_and_deletes(alice: MemoryLinkVectorStore) -> None:
    alice.add_texts(
        ["meeting notes from zoom", "meeting notes from slack", "meeting notes from teams"],
        [{"source": "zoom", "year": 2024}, {"source": "slack", "year": 2023}, {"source": "teams", "year": 2025}],
        tags=["meeting"],
    )
    alice.add_texts(["meeting notes, draft"], [{"source": "zoom", "year": 2025}], tags=["draft"])

    def sources(**kwargs: object) -> list[str]:
        return sorted(d.metadata["source"] for d in alice.similarity_search("meeting notes", k=10, **kwargs))

    assert sources(filter={"source": "zoom"}) == ["zoom", "zoom"]
    assert sources(filter={"year": {"$gte": 2024}, "source": {"$ne": "zoom"}}) == ["teams"]
    assert sources(filter={"tags": {"none": ["draft"]}, "metadata.year": {"lt": 2025}}) == ["slack", "zoom"]
    assert sources(tags=["draft"]) == ["zoom"]
    with pytest.raises(ValidationError, match="operator"):
        alice.similarity_search("meeting", filter={"year": {"$near": 1}})
    alice.delete(filter={"source": "zoom"})
    assert sources() == ["slack", "teams"]
    with pytest.raises(ValidationError):
        alice.delete()


# -- scores, MMR, retrievers ----------------------------------------------------------------------


def test_scores_are_similarities_and_thresholds_apply(alice: MemoryLinkVectorStore) -> None:
    alice.add_texts(["red apples and green pears", "the tax office opens at nine"])
    scored = alice.similarity_search_with_score("red apples and green pears", k=2)
    assert scored[0][0].page_content == "red apples and green pears" and scored[0][1] == pytest.approx(1.0, abs=1e-5)
    assert scored[0][1] >= scored[1][1] >= 0.0
    relevant = alice.similarity_search_with_relevance_scores("red apples and green pears", k=2, score_threshold=0.5)
    assert [d.page_content for d, _ in relevant] == ["red apples and green pears"]
    retriever = alice.as_retriever(search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.5})
    assert [d.page_content for d in retriever.invoke("red apples and green pears")] == ["red apples and green pears"]


def test_mmr_prefers_diverse_results(alice: MemoryLinkVectorStore) -> None:
    alice.add_texts(
        ["python async programming guide", "python async programming guide!", "python packaging guide"],
    )
    plain = alice.similarity_search("python async guide", k=2)
    assert {d.page_content for d in plain} == {"python async programming guide", "python async programming guide!"}
    diverse = alice.max_marginal_relevance_search("python async guide", k=2, fetch_k=3, lambda_mult=0.3)
    assert diverse[1].page_content == "python packaging guide"
    assert alice.max_marginal_relevance_search("nothing", k=2, filter={"source": "none"}) == []
    mmr = alice.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3, "lambda_mult": 0.3})
    assert [d.page_content for d in mmr.invoke("python async guide")] == [d.page_content for d in diverse]


def test_search_by_vector_answers_as_search_by_text(alice: MemoryLinkVectorStore) -> None:
    alice.add_texts(
        ["python async programming guide", "python async programming guide!", "python packaging guide"],
    )
    alice.with_scope(user_id="bob").add_texts(["python async programming guide for bob"])
    assert alice.embeddings is not None
    vector = alice.embeddings.embed_query("python async guide")
    by_vector = alice.similarity_search_by_vector(vector, k=2)
    assert [d.page_content for d in by_vector] == [
        d.page_content for d in alice.similarity_search("python async guide", k=2)
    ]
    assert all("bob" not in d.page_content for d in alice.similarity_search_by_vector(vector, k=10))
    diverse = alice.max_marginal_relevance_search_by_vector(vector, k=2, fetch_k=3, lambda_mult=0.3)
    assert [d.page_content for d in diverse] == [
        d.page_content
        for d in alice.max_marginal_relevance_search("python async guide", k=2, fetch_k=3, lambda_mult=0.3)
    ]
    with pytest.raises(ValidationError, match="384 values"):
        alice.similarity_search_by_vector([1.0, 2.0])
    found = asyncio.run(alice.asimilarity_search_by_vector(vector, k=2))
    assert [d.page_content for d in found] == [d.page_content for d in by_vector]


def test_memory_retriever_carries_memory_fields(store: MemoryStore, alice: MemoryLinkVectorStore) -> None:
    alice.add_texts(["alice prefers window seats"], [{"topic": "travel"}], ids=["seat"], tags=["preference"])
    alice.with_scope(user_id="bob").add_texts(["bob prefers window seats too"])
    retriever = alice.as_memory_retriever(k=5, threshold=0.2)
    (doc,) = retriever.invoke("window seats")
    assert doc.id == "seat" and doc.metadata["topic"] == "travel"
    fields = doc.metadata["memorylink"]
    assert fields["tags"] == ["preference"] and fields["user_id"] == "alice"
    assert fields["memory_id"] == store.list(user_id="alice").items[0].id
    assert 0.0 < fields["score"] <= 1.0 and fields["created_at"].endswith("+00:00")
    (again,) = asyncio.run(retriever.ainvoke("window seats"))  # the score's recency part moves on
    assert (again.id, again.metadata["memorylink"]["similarity"]) == ("seat", fields["similarity"])


# -- embeddings, construction ---------------------------------------------------------------------


def test_embeddings_property_bridges_the_store_embedder(store: MemoryStore, alice: MemoryLinkVectorStore) -> None:
    embeddings = alice.embeddings
    assert isinstance(embeddings, MemoryLinkEmbeddings) and embeddings.embedder is store.embedder
    fake = DeterministicFakeEmbedding(size=8)
    with MemoryStore.open(None, embedder=LangChainEmbedder(fake, name="fake-8", dimension=8)) as other:
        assert MemoryLinkVectorStore(other).embeddings is fake


def test_from_texts_opens_an_owned_store_and_reopens(tmp_path: Path) -> None:
    fake = DeterministicFakeEmbedding(size=16)
    path = tmp_path / "lc"
    with MemoryLinkVectorStore.from_texts(
        ["alpha", "beta"], fake, [{"n": 1}, {"n": 2}], ids=["a", "b"], path=path, key=KEY,
        embedder_name="fake-16", user_id="alice",
    ) as vectorstore:  # fmt: skip
        assert vectorstore.owns_store and vectorstore.get_by_ids(["b"])[0].metadata == {"n": 2}
    assert vectorstore.store.closed
    embedder = LangChainEmbedder(fake, name="fake-16")
    assert embedder.dimension == 16  # learnt from one probe text
    with MemoryStore.open(path, key=KEY, embedder=embedder) as reopened:
        assert MemoryLinkVectorStore(reopened, user_id="alice").similarity_search("alpha", k=1)[0].id == "a"


def test_from_texts_over_a_given_store_does_not_own_it(store: MemoryStore) -> None:
    vectorstore = MemoryLinkVectorStore.from_texts(["x"], MemoryLinkEmbeddings(store.embedder), store=store)
    vectorstore.close()
    assert not store.closed and len(store.list().items) == 1
    with pytest.raises(TypeError, match="path"):
        MemoryLinkVectorStore.from_texts(["x"], MemoryLinkEmbeddings(store.embedder), store=store, path="elsewhere")


def test_afrom_texts(tmp_path: Path) -> None:
    async def main() -> None:
        vectorstore = await MemoryLinkVectorStore.afrom_texts(
            ["alpha"], MemoryLinkEmbeddings(HashingEmbedder()), path=tmp_path / "s", key=KEY, run_id="r"
        )
        try:
            assert [d.page_content for d in await vectorstore.asimilarity_search("alpha")] == ["alpha"]
            assert vectorstore.run_id == "r"
        finally:
            await vectorstore.aclose()
        assert vectorstore.store.closed

    asyncio.run(main())


def test_rejects_other_stores() -> None:
    with pytest.raises(TypeError, match="MemoryStore"):
        MemoryLinkVectorStore(object())  # type: ignore[arg-type]


# -- async runs off the event loop ----------------------------------------------------------------


class LoopProbeEmbedder:
    """Blocks in embed() until the event loop proves it is still running (sets ``beat``)."""

    name = "memorylink/hashing-v1"
    dimension = 384

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.beat = threading.Event()
        self.threads: set[int] = set()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.threads.add(threading.get_ident())
        if not self.beat.wait(timeout=10):
            raise AssertionError("the event loop was blocked while embedding")
        self.beat.clear()
        return self.inner.embed(texts)


def test_async_methods_never_block_the_event_loop() -> None:
    probe = LoopProbeEmbedder()

    async def heartbeat(stop: asyncio.Event) -> None:
        while not stop.is_set():
            probe.beat.set()
            await asyncio.sleep(0.001)

    async def main() -> None:
        loop_thread = threading.get_ident()
        store = await AsyncMemoryStore.open(None, embedder=probe)  # type: ignore[arg-type]
        vectorstore = MemoryLinkVectorStore(store, user_id="alice")
        stop = asyncio.Event()
        beating = asyncio.create_task(heartbeat(stop))
        try:
            ids = await vectorstore.aadd_texts(["async one", "async two"], ids=["1", "2"])
            await vectorstore.aadd_documents([Document(id="1", page_content="async one, changed")])
            assert [d.id for d in await vectorstore.asimilarity_search("async two", k=1)] == ["2"]
            assert len(await vectorstore.amax_marginal_relevance_search("async", k=2, fetch_k=2)) == 2
            assert [d.page_content for d in await vectorstore.aget_by_ids(ids)] == ["async one, changed", "async two"]
            await vectorstore.adelete(["1"])
            assert [d.id for d in await vectorstore.aget_by_ids(ids)] == ["2"]
        finally:
            stop.set()
            await beating
            await store.close()
        assert probe.threads and loop_thread not in probe.threads

    asyncio.run(main())
