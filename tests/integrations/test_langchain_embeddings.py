"""The embeddings bridge: LangChain Embeddings as a memorylink Embedder, and back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("langchain_core")

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from memorylink import EmbedderMismatchError, MemoryStore, ValidationError
from memorylink.embedders.base import Embedder
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.integrations.langchain import LangChainEmbedder, MemoryLinkEmbeddings


class Fixed(Embeddings):
    """Returns the rows it was given, whatever the texts."""

    def __init__(self, rows: list[list[float]], model: str = "fixed-1") -> None:
        self.rows = rows
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.rows[: len(texts)]

    def embed_query(self, text: str) -> list[float]:
        return self.rows[0]


def test_langchain_embeddings_become_unit_float32_rows() -> None:
    embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=12), name="fake-12", dimension=12)
    assert isinstance(embedder, Embedder)
    vectors = embedder.embed(["a", "b", "a"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 12) and vectors.flags.c_contiguous
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(vectors[0], vectors[2])
    assert embedder.embed([]).shape == (0, 12)
    assert (embedder.name, embedder.dimension) == ("fake-12", 12)


def test_name_and_dimension_defaults() -> None:
    embedder = LangChainEmbedder(Fixed([[3.0, 4.0]]))
    assert (embedder.name, embedder.dimension) == ("langchain/Fixed/fixed-1", 2)
    assert embedder.embed(["x"]).tolist() == [[pytest.approx(0.6), pytest.approx(0.8)]]
    assert LangChainEmbedder(DeterministicFakeEmbedding(size=3)).name == "langchain/DeterministicFakeEmbedding"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1.0, 0.0, 0.0]], "shape"),
        ([[0.0, 0.0]], "all-zero"),
        ([[float("nan"), 1.0]], "non-finite"),
        ([], "0 vectors for 1 texts"),
    ],
)
def test_bad_model_output_is_a_clear_error(rows: list[list[float]], message: str) -> None:
    embedder = LangChainEmbedder(Fixed(rows), name="fixed", dimension=2)
    with pytest.raises(ValidationError, match=message):
        embedder.embed(["x"])


def test_the_store_records_the_name_and_refuses_another(tmp_path: Path) -> None:
    fake = DeterministicFakeEmbedding(size=8)
    path = tmp_path / "s"
    with MemoryStore.open(path, key=bytes(32), embedder=LangChainEmbedder(fake, name="fake-8")) as store:
        store.add("hello")
    assert MemoryStore.describe(path).embedder == "fake-8"
    with pytest.raises(EmbedderMismatchError):
        MemoryStore.open(path, key=bytes(32), embedder=LangChainEmbedder(fake, name="another-8"))


def test_memorylink_embedder_as_langchain_embeddings() -> None:
    embeddings = MemoryLinkEmbeddings(HashingEmbedder())
    documents = embeddings.embed_documents(["red apples", "green pears"])
    assert len(documents) == 2 and all(isinstance(x, float) for x in documents[0]) and len(documents[0]) == 384
    assert np.linalg.norm(documents[0]) == pytest.approx(1.0, abs=1e-6)
    assert embeddings.embed_query("red apples") == documents[0]
    assert asyncio.run(embeddings.aembed_documents(["red apples", "green pears"])) == documents
    assert asyncio.run(embeddings.aembed_query("green pears")) == documents[1]


def test_round_trip_keeps_vectors() -> None:
    inner = HashingEmbedder()
    back = LangChainEmbedder(MemoryLinkEmbeddings(inner), name=inner.name, dimension=inner.dimension)
    assert np.allclose(back.embed(["same text"]), inner.embed(["same text"]), atol=1e-6)


def test_default_is_all_minilm() -> None:
    # Building it loads no model: the name and dimension are known up front.
    embeddings = MemoryLinkEmbeddings()
    assert embeddings.embedder.dimension == 384 and "all-MiniLM-L6-v2" in embeddings.embedder.name
