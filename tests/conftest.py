"""Shared fixtures: stores on the deterministic hashing embedder (no model needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memorylink import MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

KEY = bytes(range(32))
OTHER_KEY = bytes(reversed(range(32)))


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def open_store(tmp_path: Path, embedder: HashingEmbedder) -> Iterator[Callable[..., MemoryStore]]:
    """Open stores under tmp_path (raw key by default, so no KDF cost); all closed afterwards."""
    opened: list[MemoryStore] = []

    def factory(name: str = "store", **kwargs: object) -> MemoryStore:
        kwargs.setdefault("embedder", embedder)
        if "passphrase" not in kwargs:
            kwargs.setdefault("key", KEY)
        store = MemoryStore.open(tmp_path / name, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store()


@pytest.fixture
def memory_store(embedder: HashingEmbedder) -> Iterator[MemoryStore]:
    """An in-memory store (no directory)."""
    with MemoryStore.open(None, embedder=embedder, settings=Settings()) as store:
        yield store
