"""SIGKILL a process at random moments of add_many / update / delete / rotate_key, then check.

After every kill the store must open, hold every memory whose call returned, and hold
no partial memory (every stored memory decrypts and is searchable). Set
MEMORYLINK_CRASH_ROUNDS to run more rounds than the default.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from memorylink import InvalidKeyError, MemoryStore
from memorylink.embedders.hashing import HashingEmbedder

sys.path.insert(0, str(Path(__file__).parent))
from worker import assert_indexed

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("worker.py")
ROUNDS = int(os.environ.get("MEMORYLINK_CRASH_ROUNDS", "6"))
KEYS = [bytes([n]) * 32 for n in range(1, 4)]


def run_and_kill(directory: Path, mode: str, seconds: float, key_index: int = 0) -> list[dict[str, Any]]:
    """Start the worker, let it work for ``seconds`` after it is ready, SIGKILL it; return its reports."""
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(directory), mode, "1000000", str(key_index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    reports: list[dict[str, Any]] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            report = json.loads(line)
            reports.append(report)
            if report.get("ready"):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(timeout=60), process.stderr.read() if process.stderr else "worker never became ready"
    threading.Event().wait(seconds)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=30)
    return [r for r in reports if "op" in r]


def check_consistent(store: MemoryStore) -> dict[str, Any]:
    """Every stored memory decrypts and is in the index with the embedding of its text."""
    memories = {}
    cursor = None
    while True:
        page = store.list(limit=500, cursor=cursor)
        memories.update({m.id: m for m in page.items})
        cursor = page.next_cursor
        if cursor is None:
            break
    stats = store.stats()
    assert stats.memories == len(memories)
    assert stats.index_entries == len(memories)
    assert len(store._state.keywords) == len(memories)
    for memory_id in memories:
        assert_indexed(store, memory_id)
    return memories


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_kill_during_add_many(tmp_path: Path, round_number: int) -> None:
    random.seed(round_number)
    reports = run_and_kill(tmp_path / "s", "add_many", random.uniform(0.05, 1.5))
    with MemoryStore.open(tmp_path / "s", key=KEYS[0], embedder=HashingEmbedder()) as store:
        memories = check_consistent(store)
        returned = [memory_id for r in reports for memory_id in r["ids"]]
        assert set(returned) <= set(memories)
        # chunks commit whole: memory counts come in multiples of the chunk size (16) per batch of 40
        assert all(memories[i].text.startswith("batch ") for i in returned)


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_kill_during_update(tmp_path: Path, round_number: int) -> None:
    random.seed(100 + round_number)
    with MemoryStore.open(tmp_path / "s", key=KEYS[0], embedder=HashingEmbedder()) as store:
        store.add_many([f"original {i}" for i in range(30)])
    reports = run_and_kill(tmp_path / "s", "update", random.uniform(0.05, 1.5))
    with MemoryStore.open(tmp_path / "s", key=KEYS[0], embedder=HashingEmbedder()) as store:
        memories = check_consistent(store)
        assert len(memories) == 30
        last: dict[str, int] = {}
        for r in reports:
            last[r["id"]] = r["version"]
        for memory_id, version in last.items():
            memory = memories[memory_id]
            assert memory.version in (version, version + 1)  # the in-flight update may have committed
            history = store.history(memory_id)
            assert [v.version for v in history] == list(range(1, memory.version + 1))
            if memory.version > 1:
                assert memory.text == f"version {memory.metadata['n']} of {memory_id}"


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_kill_during_delete(tmp_path: Path, round_number: int) -> None:
    random.seed(200 + round_number)
    with MemoryStore.open(tmp_path / "s", key=KEYS[0], embedder=HashingEmbedder()) as store:
        ids = store.add_many([f"doomed {i}" for i in range(400)]).ids
    reports = run_and_kill(tmp_path / "s", "delete", random.uniform(0.05, 1.0))
    with MemoryStore.open(tmp_path / "s", key=KEYS[0], embedder=HashingEmbedder()) as store:
        memories = check_consistent(store)
        deleted = {r["id"] for r in reports}
        assert not deleted & set(memories)
        assert set(memories) | deleted <= set(ids)
        assert len(set(ids) - set(memories) - deleted) <= 1  # at most the in-flight delete


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_kill_during_rotate_key(tmp_path: Path, round_number: int) -> None:
    random.seed(300 + round_number)
    with MemoryStore.open(tmp_path / "s", key=KEYS[0], embedder=HashingEmbedder()) as store:
        texts = {m.id: m.text for m in (store.add(f"precious {i}") for i in range(60))}
    reports = run_and_kill(tmp_path / "s", "rotate", random.uniform(0.05, 1.5))
    last_key = reports[-1]["key"] if reports else 0
    candidates = [last_key, (last_key + 1) % len(KEYS)]
    opened = None
    for key_index in candidates:
        try:
            opened = MemoryStore.open(tmp_path / "s", key=KEYS[key_index], embedder=HashingEmbedder())
            break
        except InvalidKeyError:
            continue
    assert opened is not None, "the store opens with neither the last nor the in-flight key"
    with opened as store:
        memories = check_consistent(store)
        assert {i: m.text for i, m in memories.items()} == texts
