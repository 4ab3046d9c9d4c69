"""End to end: LlamaIndex's VectorStoreIndex over MemoryLinkVectorStore, with networking blocked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.vector_stores import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters
from llamaindex_helpers import block_network

from memorylink import AsyncMemoryStore, MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.integrations.llamaindex import MemoryLinkEmbedding, MemoryLinkVectorStore

DOCS = [
    Document(
        text="Alice prefers window seats on long flights", metadata={"topic": "travel", "year": 2024}, id_="seats"
    ),
    Document(text="The Q4 planning meeting moved to Thursday", metadata={"topic": "work", "year": 2023}, id_="meeting"),
    Document(text="Bob books aisle seats on short flights", metadata={"topic": "travel", "year": 2022}, id_="aisle"),
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    block_network(monkeypatch)


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as opened:
        yield opened


def make_index(store: MemoryStore | AsyncMemoryStore, **scope: str) -> VectorStoreIndex:
    vector_store = MemoryLinkVectorStore(store, **scope)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=MemoryLinkEmbedding.from_store(store))
    for doc in DOCS:
        index.insert(doc)
    return index


def test_the_network_is_blocked() -> None:
    import socket

    with pytest.raises(OSError, match="network blocked"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)


def test_insert_and_retrieve(store: MemoryStore) -> None:
    index = make_index(store, user_id="ann")
    hits = index.as_retriever(similarity_top_k=2).retrieve("which seats on long flights?")
    assert [hit.node.ref_doc_id for hit in hits] == ["seats", "aisle"]
    assert hits[0].node.get_content() == DOCS[0].text
    assert hits[0].node.metadata == {"topic": "travel", "year": 2024}
    assert hits[0].score is not None and 0 < hits[0].score <= 1
    assert hits[0].score >= (hits[1].score or 0)
    # the nodes are memories of the scope's user, searchable by any front-end
    assert {m.text for m in store.list(user_id="ann").items} == {doc.text for doc in DOCS}


def test_retrieve_with_metadata_filters(store: MemoryStore) -> None:
    index = make_index(store)
    travel_2023_on = MetadataFilters(
        filters=[
            MetadataFilter(key="topic", value="travel"),
            MetadataFilter(key="year", value=2023, operator=FilterOperator.GTE),
        ]
    )
    hits = index.as_retriever(similarity_top_k=5, filters=travel_2023_on).retrieve("seats on flights")
    assert [hit.node.ref_doc_id for hit in hits] == ["seats"]
    either = MetadataFilters(
        filters=[MetadataFilter(key="topic", value="work"), MetadataFilter(key="year", value=2022)],
        condition=FilterCondition.OR,
    )
    hits = index.as_retriever(similarity_top_k=5, filters=either).retrieve("seats on flights")
    assert {hit.node.ref_doc_id for hit in hits} == {"meeting", "aisle"}


def test_async_retrieve_with_metadata_filters(store: MemoryStore) -> None:
    async def scenario() -> list[str | None]:
        index = make_index(AsyncMemoryStore(store))
        filters = MetadataFilters(filters=[MetadataFilter(key="year", value=[2022, 2023], operator=FilterOperator.IN)])
        hits = await index.as_retriever(similarity_top_k=5, filters=filters).aretrieve("seats on flights")
        return [hit.node.ref_doc_id for hit in hits]

    assert asyncio.run(scenario()) == ["aisle", "meeting"]


def test_async_insert_and_delete(store: MemoryStore) -> None:
    async def scenario() -> list[str]:
        vector_store = MemoryLinkVectorStore(store)
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=MemoryLinkEmbedding.from_store(store))
        for doc in DOCS:
            await index.ainsert(doc)
        await index.adelete_ref_doc("meeting")
        hits = await index.as_retriever(similarity_top_k=5).aretrieve("meeting on Thursday")
        return sorted(str(hit.node.ref_doc_id) for hit in hits)

    assert asyncio.run(scenario()) == ["aisle", "seats"]


def test_delete_a_document(store: MemoryStore) -> None:
    index = make_index(store)
    index.delete_ref_doc("seats")
    hits = index.as_retriever(similarity_top_k=5).retrieve("window seats")
    assert "seats" not in {hit.node.ref_doc_id for hit in hits}
    assert len(store.list().items) == 2


def test_query_engine_with_mock_llm(store: MemoryStore) -> None:
    index = make_index(store)
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
    response = engine.query("Which seats does Alice prefer?")
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["seats"]
    # MockLLM echoes its prompt: the retrieved text reached the LLM
    assert "Alice prefers window seats" in str(response)


def test_scopes_keep_indexes_apart(store: MemoryStore) -> None:
    make_index(store, user_id="ann")
    bob = VectorStoreIndex.from_vector_store(
        MemoryLinkVectorStore(store, user_id="bob"), embed_model=MemoryLinkEmbedding.from_store(store)
    )
    assert bob.as_retriever(similarity_top_k=5).retrieve("window seats") == []
    bob.insert(Document(text="Bob's own window seat note", id_="bob-note"))
    assert [h.node.ref_doc_id for h in bob.as_retriever(similarity_top_k=5).retrieve("window seats")] == ["bob-note"]
    assert store.list(user_id="ann").items and len(store.list(user_id="bob").items) == 1


def test_an_index_over_a_reopened_store(tmp_path: Path) -> None:
    key = bytes(range(32))
    with MemoryStore.open(tmp_path / "s", key=key, embedder=HashingEmbedder()) as store:
        make_index(store, user_id="ann")
    with MemoryStore.open(tmp_path / "s", key=key) as store:  # the recorded embedder comes back
        index = VectorStoreIndex.from_vector_store(
            MemoryLinkVectorStore(store, user_id="ann"), embed_model=MemoryLinkEmbedding.from_store(store)
        )
        hits = index.as_retriever(similarity_top_k=1).retrieve("window seats on long flights")
        assert [hit.node.ref_doc_id for hit in hits] == ["seats"]
        assert hits[0].node.metadata == {"topic": "travel", "year": 2024}
    raw = b"".join(p.read_bytes() for p in (tmp_path / "s").iterdir() if p.is_file())
    assert b"window seats" not in raw and b"travel" not in raw  # nodes are encrypted at rest
