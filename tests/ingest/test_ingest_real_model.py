"""Semantic code search on an ingested codebase, with the real all-MiniLM-L6-v2 model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from memorylink import MemoryStore

pytestmark = pytest.mark.model

FIXTURE = Path(__file__).parent / "fixtures" / "codebase"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryStore]:
    root = tmp_path_factory.mktemp("codebase") / "codebase"
    shutil.copytree(FIXTURE, root)
    with MemoryStore.open(None) as opened:
        report = opened.ingest(root)
        assert report.ok and report.files_added == 6
        yield opened


@pytest.mark.parametrize(
    ("query", "source", "symbol", "rank"),
    [
        ("where do we retry failed uploads?", "courier/shipping.py", "hand_over", 1),
        ("how is an image thumbnail drawn?", "web/thumbs.js", "paintPreview", 1),
        ("where is the sign-in token kept?", "web/session.js", "Session", 1),
        # MiniLM ranks the upload-with-retries function (similarity 0.375) just above the ledger (0.341).
        ("how do we avoid sending a file twice after a restart?", "courier/ledger.py", "Ledger", 2),
    ],
)
def test_a_question_finds_the_code_that_answers_it(
    store: MemoryStore, query: str, source: str, symbol: str, rank: int
) -> None:
    found = [(h.memory.metadata["source"], h.memory.metadata.get("symbol")) for h in store.search(query, top_k=3).hits]
    assert (source, symbol) in found[:rank], found


def test_a_question_about_the_docs_finds_the_section(store: MemoryStore) -> None:
    best = store.search("which environment variable sets the bucket?", top_k=3).hits[0].memory
    assert best.metadata["source"] == "docs/README.md"
    assert best.metadata["heading_path"] == ["Courier", "Configuration"]
