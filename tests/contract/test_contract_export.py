"""Contract: a plaintext export, from either backend, imports into a local store with ids and history kept."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder


def test_plaintext_export_round_trips_through_import(store: Any, tmp_path: Path) -> None:
    first = store.add("first", tags=["t"], metadata={"k": 1}, user_id="alice")
    store.add("second", user_id="bob")
    edited = store.update(first.id, text="first, edited")
    path = tmp_path / "export.jsonl"
    assert store.export(path, plaintext=True) == 2
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert (header["format"], header["encrypted"], header["embedder"]) == (
        "memorylink.export",
        False,
        HashingEmbedder().name,
    )
    assert [json.loads(line)["text"] for line in lines[1:]] == ["first, edited", "second"]  # oldest first
    with MemoryStore.open(None, embedder=HashingEmbedder()) as fresh:
        result = fresh.import_(path)
        assert (result.imported, result.failed) == (2, 0)
        assert fresh.get(first.id) == edited  # same id, text, tags, metadata, timestamps and version


def test_export_in_scope_to_a_stream(store: Any) -> None:
    store.add("mine", user_id="alice")
    store.add("theirs", user_id="bob")
    out = io.StringIO()
    assert store.export(out, plaintext=True, user_id="alice") == 1
    assert [json.loads(line)["user_id"] for line in out.getvalue().splitlines()[1:]] == ["alice"]


def test_export_pages_within_a_small_max_page_size(make_store: Any) -> None:
    from memorylink import Limits, Settings

    small = make_store(Settings(limits=Limits(max_page_size=20)))
    result = small.add_many([f"note {i}" for i in range(45)])
    assert result.succeeded == 45
    out = io.StringIO()
    assert small.export(out, plaintext=True) == 45
    assert len(out.getvalue().splitlines()) == 46  # the header, then every memory once
