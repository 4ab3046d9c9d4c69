"""A small RAG program on LlamaIndex over an encrypted memorylink store; runs offline.

It indexes a few team documents into a throwaway store on disk (encrypted under a raw key),
answers questions with a query engine on LlamaIndex's MockLLM (no API key, no network),
filters by metadata, and prints each answer's sources. By default it embeds with the
dependency-free hashing embedder; `--embedder minilm` (or `minilm-onnx`) uses the real model.

    pip install "memorylink[llamaindex]"
    python examples/llamaindex_rag.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

from memorylink import MemoryStore
from memorylink.embedders.known import EMBEDDER_CHOICES, embedder_named
from memorylink.integrations.llamaindex import MemoryLinkEmbedding, MemoryLinkVectorStore

DOCUMENTS = [
    ("deploys", "Deploys to production happen on Tuesdays after the load test passes.", "runbook", 2024),
    ("oncall", "The on-call engineer carries the pager for one week, handing over on Mondays.", "runbook", 2024),
    ("vpn", "Connect to the VPN with the hardware key before opening the admin console.", "security", 2023),
    ("passwords", "The staging database password rotates every 30 days.", "security", 2022),
    ("offsite", "The team offsite is in Porto in October; book trains, not flights.", "travel", 2024),
]

QUESTIONS = [
    ("When do deploys to production happen?", None),
    ("How often does the database password rotate?", None),
    ("What do I need before opening the admin console?", MetadataFilter(key="topic", value="security")),
    ("What changed recently?", MetadataFilter(key="year", value=2024, operator=FilterOperator.GTE)),
]


def build_index(store: MemoryStore) -> VectorStoreIndex:
    vector_store = MemoryLinkVectorStore(store, user_id="team")
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=MemoryLinkEmbedding.from_store(store))
    for doc_id, text, topic, year in DOCUMENTS:
        index.insert(Document(text=text, metadata={"topic": topic, "year": year}, id_=doc_id))
    return index


def answer(index: VectorStoreIndex, question: str, where: MetadataFilter | None) -> None:
    filters = MetadataFilters(filters=[where]) if where is not None else None
    engine = index.as_query_engine(llm=MockLLM(max_tokens=4), similarity_top_k=2, filters=filters)
    response = engine.query(question)
    condition = f"  [where {where.key} {where.operator.value} {where.value}]" if where is not None else ""
    print(f"\nQ: {question}{condition}")
    # MockLLM(max_tokens=n) answers with n placeholder words; a real LLM would answer from the sources.
    print(f"A (MockLLM): {str(response).strip()}")
    for source in response.source_nodes:
        print(f"   source {source.node.ref_doc_id:<10} score {source.score or 0:.2f}  {source.node.get_content()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", choices=list(EMBEDDER_CHOICES), default="hashing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "rag-store"
        with MemoryStore.open(path, key=os.urandom(32), embedder=embedder_named(args.embedder)) as store:
            index = build_index(store)
            print(f"indexed {len(DOCUMENTS)} documents into {path.name} ({store.embedder.name})")
            for question, where in QUESTIONS:
                answer(index, question, where)
            index.delete_ref_doc("passwords")
            remaining = store.list(user_id="team", limit=50).items
            print(f"\ndeleted 'passwords'; {len(remaining)} documents remain")


if __name__ == "__main__":
    main()
