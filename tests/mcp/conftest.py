"""MCP fixtures: stores on the hashing embedder (see tests/conftest.py), both in-process client modes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memorylink import Limits, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

SMALL_LIMITS = Limits(max_text_length=200, max_tags=3, max_top_k=20, max_batch_size=5, max_page_size=10)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["legacy", "auto"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both ways the SDK client talks to an in-process server: JSON-RPC over memory streams
    after an initialize handshake ("legacy"), and the 2026 per-request path ("auto")."""
    return str(request.param)


@pytest.fixture
def small_store(embedder: HashingEmbedder) -> Iterator[MemoryStore]:
    """An in-memory store with small limits, so limit errors are cheap to provoke."""
    with MemoryStore.open(None, embedder=embedder, settings=Settings(limits=SMALL_LIMITS)) as store:
        yield store
