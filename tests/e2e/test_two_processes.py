"""Two processes on one store: each sees the other's writes and neither corrupts it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memorylink import IndexSettings, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

sys.path.insert(0, str(Path(__file__).parent))
from worker import assert_indexed, token

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("worker.py")
KEY = bytes([1]) * 32


def run_worker(directory: Path, *args: str) -> list[dict[str, object]]:
    completed = subprocess.run(
        [sys.executable, str(WORKER), str(directory), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return [json.loads(line) for line in completed.stdout.splitlines()]


def test_memory_added_by_another_process_is_found(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder()) as store:
        store.add("seed memory so the store exists")
        reports = run_worker(tmp_path / "s", "add", "3")
        added = [r["id"] for r in reports if r.get("op") == "add"]
        assert len(added) == 3
        memory = store.get(added[1])
        assert memory is not None
        hits = store.search(memory.text, top_k=3, sort_by="similarity").hits
        assert hits[0].memory.id == added[1]
        assert store.stats().memories == 4
        # and the other way round: the worker finds what this process added
        mine = store.add("a note written by the parent process about tulips")
        found = run_worker(tmp_path / "s", "search", "0", "0", "tulips parent note")
        assert found[1]["ids"][0] == mine.id  # type: ignore[index]


def test_keyword_search_sees_another_process_writes(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder()) as store:
        store.add("seed memory so the store exists")
        assert store.search(token(1), mode="keyword").hits == []
        added = [r["id"] for r in run_worker(tmp_path / "s", "add", "3") if r.get("op") == "add"]
        # each worker memory has two words of its own: keyword search finds exactly it
        for n, memory_id in enumerate(added):
            assert [h.memory.id for h in store.search(token(n), mode="keyword").hits] == [memory_id]
            assert_indexed(store, memory_id)
        mine = store.add(f"parent memory {token(7, 'parent')}")
        found = run_worker(tmp_path / "s", "search", "0", "0", token(7, "parent"))
        assert found[1]["ids"][0] == mine.id  # type: ignore[index]


def test_concurrent_writers_and_checkpoints(tmp_path: Path) -> None:
    settings = Settings(index=IndexSettings(checkpoint_after_changes=150))
    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder(), settings=settings) as store:
        store.add("first")
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), str(tmp_path / "s"), "add", "400"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        mine = [store.add(f"parent memory {n} {token(n, 'parent')}").id for n in range(400)]
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        theirs = [json.loads(line)["id"] for line in out.splitlines() if '"op"' in line]
        assert len(theirs) == 400
        stats = store.stats()
        assert stats.memories == 801
        assert stats.index_entries == 801
        for memory_id in mine + theirs:
            assert_indexed(store, memory_id)
    with MemoryStore.open(tmp_path / "s", key=KEY, embedder=HashingEmbedder()) as reopened:
        assert reopened.stats().index_entries == 801
        for memory_id in mine[::40] + theirs[::40]:
            assert_indexed(reopened, memory_id)
