"""MemoryLinkVectorStore on its own: scoping, ids, errors, and the async methods."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.core.vector_stores.types import VectorStoreQueryMode

from memorylink import AsyncMemoryStore, MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.errors import ValidationError
from memorylink.integrations.llamaindex import MemoryLinkEmbedding, MemoryLinkVectorStore


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as opened:
        yield opened


def node(text: str, doc: str | None = None, **metadata: object) -> TextNode:
    made = TextNode(text=text, metadata=dict(metadata))
    if doc is not None:
        made.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc)
    return made


def search(vector_store: MemoryLinkVectorStore, text: str, top_k: int = 10, **kwargs: object) -> list[str]:
    result = vector_store.query(VectorStoreQuery(query_str=text, similarity_top_k=top_k, **kwargs))  # type: ignore[arg-type]
    assert result.nodes is not None
    return [n.get_content() for n in result.nodes]


def test_add_returns_node_ids_and_query_returns_nodes(store: MemoryStore) -> None:
    vector_store = MemoryLinkVectorStore(store)
    nodes = [node("red apples are sweet", "fruit", colour="red"), node("green pears are crisp", "fruit")]
    assert vector_store.add(nodes) == [n.node_id for n in nodes]
    result = vector_store.query(VectorStoreQuery(query_str="sweet red apples", similarity_top_k=1))
    assert result.ids == [nodes[0].node_id]
    assert result.nodes is not None and result.similarities is not None
    found = result.nodes[0]
    assert (found.node_id, found.get_content(), found.metadata, found.ref_doc_id) == (
        nodes[0].node_id,
        "red apples are sweet",
        {"colour": "red"},
        "fruit",
    )
    assert 0 < result.similarities[0] <= 1
    assert vector_store.add([]) == []


def test_scope_confines_every_call(store: MemoryStore) -> None:
    ann = MemoryLinkVectorStore(store, user_id="ann", agent_id="helper")
    bob = MemoryLinkVectorStore(store, user_id="bob")
    ann.add([node("ann likes tea", "d")])
    bob.add([node("bob likes tea", "d")])
    assert [(m.user_id, m.agent_id) for m in store.list(user_id="ann").items] == [("ann", "helper")]
    assert search(ann, "likes tea") == ["ann likes tea"]
    assert search(bob, "likes tea") == ["bob likes tea"]
    assert [n.get_content() for n in bob.get_nodes()] == ["bob likes tea"]
    ann.delete("d")  # the same document id in two scopes: only ann's goes
    assert search(bob, "likes tea") == ["bob likes tea"]
    assert store.list(user_id="ann").items == []
    bob.clear()
    assert store.list().items == []


def test_unscoped_store_sees_memories_from_other_front_ends(store: MemoryStore) -> None:
    memory = store.add("a memory added through the library", metadata={"source": "cli"}, user_id="ann")
    (found,) = MemoryLinkVectorStore(store).get_nodes()
    assert (found.node_id, found.get_content(), found.metadata) == (memory.id, memory.text, {"source": "cli"})


def test_node_ids_doc_ids_and_filters_restrict_a_query(store: MemoryStore) -> None:
    vector_store = MemoryLinkVectorStore(store)
    nodes = [node(f"note {i} about cats", f"doc{i % 2}", n=i) for i in range(4)]
    vector_store.add(nodes)
    assert sorted(search(vector_store, "cats", node_ids=[nodes[1].node_id, nodes[2].node_id])) == [
        "note 1 about cats",
        "note 2 about cats",
    ]
    assert sorted(search(vector_store, "cats", doc_ids=["doc1"])) == ["note 1 about cats", "note 3 about cats"]
    assert len(search(vector_store, "cats", node_ids=[])) == 4  # the retriever's "any node"
    big = MetadataFilters(filters=[MetadataFilter(key="n", value=2, operator=FilterOperator.GTE)])
    assert sorted(search(vector_store, "cats", filters=big, doc_ids=["doc1"])) == ["note 3 about cats"]
    assert search(vector_store, "cats", top_k=2) and len(search(vector_store, "cats", top_k=2)) == 2


def test_many_node_ids_are_split_into_lists(store: MemoryStore) -> None:
    vector_store = MemoryLinkVectorStore(store)
    target = node("the one node")
    vector_store.add([target, node("another node")])
    ids = [f"missing-{i}" for i in range(2500)] + [target.node_id]
    assert [n.node_id for n in vector_store.get_nodes(node_ids=ids)] == [target.node_id]


def test_get_and_delete_nodes(store: MemoryStore) -> None:
    vector_store = MemoryLinkVectorStore(store)
    nodes = [node("alpha", kind="a"), node("beta", kind="b"), node("gamma", kind="b")]
    vector_store.add(nodes)
    kind_b = MetadataFilters(filters=[MetadataFilter(key="kind", value="b")])
    assert [n.get_content() for n in vector_store.get_nodes(filters=kind_b)] == ["beta", "gamma"]
    vector_store.delete_nodes()  # neither ids nor filters: nothing
    vector_store.delete_nodes(node_ids=[])
    assert len(store.list().items) == 3
    vector_store.delete_nodes(node_ids=[nodes[1].node_id, nodes[2].node_id], filters=kind_b)
    assert [n.get_content() for n in vector_store.get_nodes()] == ["alpha"]
    vector_store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="kind", value="a")]))
    assert store.list().items == []


def test_add_is_all_or_nothing(store: MemoryStore) -> None:
    vector_store = MemoryLinkVectorStore(store)
    with pytest.raises(ValidationError, match=r"node 1 was not stored") as caught:
        vector_store.add([node("fine"), node("bad key", **{"a.b": 1}), node("fine too")])
    assert caught.value.field == "nodes[1]"
    assert store.list().items == []


def test_query_by_text_or_embedding_and_the_default_mode(store: MemoryStore) -> None:
    vector_store = MemoryLinkVectorStore(store)
    vector_store.add([node("tomatoes in the garden"), node("roses by the door"), node("tomato soup recipe")])
    by_text = vector_store.query(VectorStoreQuery(query_str="garden tomatoes", similarity_top_k=2))
    embedding = store.embedder.embed(["garden tomatoes"])[0].tolist()
    by_vector = vector_store.query(VectorStoreQuery(query_embedding=embedding, similarity_top_k=2))
    assert by_vector.ids == by_text.ids and len(by_vector.ids or []) == 2
    async_result = asyncio.run(vector_store.aquery(VectorStoreQuery(query_embedding=embedding, similarity_top_k=2)))
    assert async_result.ids == by_text.ids
    with pytest.raises(ValidationError, match="values"):
        vector_store.query(VectorStoreQuery(query_embedding=[0.1] * 256, similarity_top_k=1))
    with pytest.raises(ValidationError, match="query_str or a query_embedding"):
        vector_store.query(VectorStoreQuery(similarity_top_k=1))
    with pytest.raises(ValidationError, match="mmr"):
        vector_store.query(VectorStoreQuery(query_str="x", mode=VectorStoreQueryMode.MMR))
    with pytest.raises(ValidationError, match="sort_by"):
        MemoryLinkVectorStore(store, sort_by="random")  # type: ignore[arg-type]


def test_sort_by_is_passed_to_the_store(store: MemoryStore) -> None:
    vector_store = MemoryLinkVectorStore(store, sort_by="relevance")
    vector_store.add([node("sort me by relevance")])
    result = vector_store.query(VectorStoreQuery(query_str="sort me", similarity_top_k=1))
    hit = store.search("sort me", sort_by="relevance", top_k=1, mode="vector").hits[0]  # a dense query
    assert result.similarities == [pytest.approx(hit.score)]
    assert hit.score != hit.similarity


def test_async_methods_match_the_sync_ones(store: MemoryStore) -> None:
    async def scenario() -> None:
        vector_store = MemoryLinkVectorStore(AsyncMemoryStore(store), user_id="ann")
        assert vector_store.client is store
        nodes = [node("async tea", "d1", k=1), node("async coffee", "d2", k=2)]
        assert await vector_store.async_add(nodes) == [n.node_id for n in nodes]
        result = await vector_store.aquery(VectorStoreQuery(query_str="tea", similarity_top_k=1))
        assert result.ids == [nodes[0].node_id]
        assert [n.node_id for n in await vector_store.aget_nodes(node_ids=[nodes[1].node_id])] == [nodes[1].node_id]
        await vector_store.adelete("d1")
        assert [n.get_content() for n in await vector_store.aget_nodes()] == ["async coffee"]
        await vector_store.adelete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="k", value=2)]))
        assert await vector_store.aget_nodes() == []
        await vector_store.async_add(nodes)
        await vector_store.aclear()
        assert await vector_store.aget_nodes() == []
        with pytest.raises(ValidationError):
            await vector_store.async_add([node("x", **{"bad.key": 1})])

    asyncio.run(scenario())


def test_async_methods_run_off_the_event_loop() -> None:
    import threading

    threads: list[int] = []

    class RecordingEmbedder(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            threads.append(threading.get_ident())
            return super().embed(texts)

    embedder = RecordingEmbedder()

    async def scenario() -> int:
        async with await AsyncMemoryStore.open(None, embedder=embedder) as store:
            vector_store = MemoryLinkVectorStore(store)
            await vector_store.async_add([node("off the loop")])
            await vector_store.aquery(VectorStoreQuery(query_str="loop"))
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert len(threads) == 2 and loop_thread not in threads


def test_embedding_bridge_matches_the_store() -> None:
    embedder = HashingEmbedder()
    bridge = MemoryLinkEmbedding(embedder)
    assert bridge.model_name == embedder.name
    assert bridge.get_text_embedding("hello world") == pytest.approx(embedder.embed(["hello world"])[0].tolist())
    assert bridge.get_query_embedding("hi") == pytest.approx(embedder.embed(["hi"])[0].tolist())
    assert len(bridge.get_text_embedding_batch(["a", "b", "c"])) == 3
    assert asyncio.run(bridge.aget_query_embedding("hi")) == pytest.approx(bridge.get_query_embedding("hi"))
    assert asyncio.run(bridge.aget_text_embedding_batch(["a", "b"])) == bridge.get_text_embedding_batch(["a", "b"])


def test_adding_a_stored_node_id_replaces_it(store: MemoryStore) -> None:
    vector_store = MemoryLinkVectorStore(store, user_id="ann")
    first = node("the first version", "doc")
    other_scope = MemoryLinkVectorStore(store, user_id="bob")
    other_scope.add([TextNode(id_=first.node_id, text="bob's node with the same id")])
    vector_store.add([first, node("a neighbour")])
    vector_store.add([TextNode(id_=first.node_id, text="the second version")])
    assert sorted(m.text for m in store.list(user_id="ann").items) == ["a neighbour", "the second version"]
    assert [m.text for m in store.list(user_id="bob").items] == ["bob's node with the same id"]
    with pytest.raises(ValidationError):  # a refused batch replaces nothing
        vector_store.add([TextNode(id_=first.node_id, text="third"), node("bad", **{"x.y": 1})])
    assert sorted(m.text for m in store.list(user_id="ann").items) == ["a neighbour", "the second version"]

    async def again() -> list[str]:
        await vector_store.async_add([TextNode(id_=first.node_id, text="the async version")])
        return sorted(n.get_content() for n in await vector_store.aget_nodes())

    assert asyncio.run(again()) == ["a neighbour", "the async version"]
