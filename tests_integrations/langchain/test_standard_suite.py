"""langchain-tests' standard VectorStoreIntegrationTests (sync and async) against MemoryLinkVectorStore.

Run by ``nox -s langchain`` (the suite needs ``asyncio_mode = auto`` and brings its own pytest
plugins, so it lives outside ``tests/``). The store embeds with the suite's own
``get_embeddings()`` fake, through LangChainEmbedder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from memorylink import AsyncMemoryStore, MemoryStore
from memorylink.integrations.langchain import LangChainEmbedder, MemoryLinkVectorStore

EMBEDDER_NAME = "langchain-tests/deterministic-fake-6"


class TestInMemoryStore(VectorStoreIntegrationTests):
    """A throwaway in-memory store, unscoped, built from a sync MemoryStore."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[MemoryLinkVectorStore]:  # type: ignore[override]
        embedder = LangChainEmbedder(self.get_embeddings(), name=EMBEDDER_NAME, dimension=6)
        store = MemoryStore.open(None, embedder=embedder)
        try:
            yield MemoryLinkVectorStore(store)
        finally:
            store.close()


class TestScopedOnDiskAsyncStore(VectorStoreIntegrationTests):
    """An encrypted store on disk, given as an AsyncMemoryStore, scoped to one user.

    Another user already holds documents with the very ids the suite uses ("1", "2", "3",
    "foo"): the suite passes only if scoping keeps them out of every read, upsert and delete.
    """

    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[MemoryLinkVectorStore]:  # type: ignore[override]
        embedder = LangChainEmbedder(self.get_embeddings(), name=EMBEDDER_NAME, dimension=6)
        store = AsyncMemoryStore(MemoryStore.open(tmp_path / "store", key=bytes(range(32)), embedder=embedder))
        try:
            other = MemoryLinkVectorStore(store, user_id="bob", agent_id="suite")
            other.add_documents(
                [Document(page_content=text, metadata={"owner": "bob"}) for text in ("foo", "bar", "baz", "new foo")],
                ids=["1", "2", "3", "foo"],
            )
            yield MemoryLinkVectorStore(store, user_id="alice", agent_id="suite")
            assert len(other.get_by_ids(["1", "2", "3", "foo"])) == 4
        finally:
            store.sync.close()
