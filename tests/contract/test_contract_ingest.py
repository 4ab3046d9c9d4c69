"""Contract: ingesting files, and re-ingesting them incrementally, gives the same store on every backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memorylink import ValidationError


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    travel = "# Travel\n\nAlice prefers window seats on long flights.\n\n## Hotels\n\nNear the river.\n"
    (root / "travel.md").write_text(travel)
    (root / "health.md").write_text("# Health\n\nBob is allergic to peanuts.\n")
    (root / "code.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    return root


def chunks(store: Any) -> list[Any]:
    return list(store.list(limit=500, tags=["ingested"]).items)


def test_ingest_stores_chunks_with_their_source(store: Any, docs: Path) -> None:
    report = store.ingest(docs, tags=["kb"], metadata={"project": "demo"})
    assert report.ok and (report.files_seen, report.files_added) == (3, 3)
    stored = chunks(store)
    assert len(stored) == report.chunks_added > 0
    assert {m.metadata["source"] for m in stored} == {"travel.md", "health.md", "code.py"}
    assert all(m.user_id == "default" and "kb" in m.tags and m.metadata["project"] == "demo" for m in stored)
    hit = store.search("window seats", top_k=1, tags=["ingested"]).hits[0]
    assert hit.memory.metadata["source"] == "travel.md"


def test_reingest_changes_only_what_changed(store: Any, docs: Path) -> None:
    first = store.ingest(docs)
    unchanged = store.ingest(docs)
    assert (unchanged.files_unchanged, unchanged.chunks_added, unchanged.chunks_deleted) == (3, 0, 0)
    (docs / "health.md").write_text("# Health\n\nBob is allergic to peanuts and shellfish.\n")
    (docs / "code.py").unlink()
    changed = store.ingest(docs)
    assert (changed.files_replaced, changed.files_removed, changed.files_unchanged) == (1, 1, 1)
    sources = {m.metadata["source"] for m in chunks(store)}
    assert sources == {"travel.md", "health.md"}
    assert len(chunks(store)) == first.chunks_added - changed.chunks_deleted + changed.chunks_added
    assert any("shellfish" in m.text for m in chunks(store))


def test_ingest_in_a_users_scope(store: Any, docs: Path) -> None:
    store.ingest(docs / "travel.md", user_id="alice", agent_id="kb")
    assert {(m.user_id, m.agent_id) for m in chunks(store)} == {("alice", "kb")}
    assert store.list(user_id="bob").items == []


def test_ingest_a_missing_path(store: Any, tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        store.ingest(tmp_path / "nowhere")
    with pytest.raises(ValidationError) as caught:
        store.ingest([])
    assert caught.value.field == "paths"
