"""AsyncRemoteStore.ingest: the sync ingest engine driven from a worker thread over the async client."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from memorylink import MemoryStore
from memorylink.client import AsyncRemoteStore
from memorylink.embedders.hashing import HashingEmbedder
from stream_helpers import serving


def test_async_ingest_matches_a_local_ingest(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from memorylink.server import create_app
    from memorylink.server.auth import AuthService

    (tmp_path / "a.md").write_text("# A\n\nAlice prefers window seats.\n\n# B\n\nBob likes trains.\n")
    (tmp_path / "b.txt").write_text("plain notes about peanuts\n")
    with MemoryStore.open(None, embedder=HashingEmbedder()) as local:
        expected = local.ingest(tmp_path, user_id="alice")
    with MemoryStore.open(None, embedder=HashingEmbedder()) as served, serving(create_app(served)) as live:
        key = AuthService(served).accounts.create_key(scopes=["read", "write"], user_id="alice").key
        progress: list[tuple[int, int]] = []

        async def main() -> None:
            async with AsyncRemoteStore(live.url, api_key=key) as store:
                report = await store.ingest(tmp_path, on_progress=lambda done, total: progress.append((done, total)))
                assert (report.files_added, report.chunks_added) == (expected.files_added, expected.chunks_added)
                again = await store.ingest(tmp_path)
                assert again.files_unchanged == 2 and again.chunks_added == 0

        anyio.run(main)
        texts = sorted(m.text for m in served.list(user_id="alice", limit=100).items)
    assert len(texts) == expected.chunks_added
    assert progress[-1] == (2, 2)


def test_bad_tags_fail_the_chunks_in_the_report(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from memorylink.client import RemoteStore
    from memorylink.server import ServerSettings, create_app

    (tmp_path / "a.md").write_text("# A\n\nhello\n")
    with (
        MemoryStore.open(None, embedder=HashingEmbedder()) as served,
        serving(create_app(served, ServerSettings(no_auth=True))) as live,
        RemoteStore(live.url) as store,
    ):
        report = store.ingest(tmp_path, tags=["x" * 1000])
        assert not report.ok and report.chunks_added == 0
        assert report.errors[0].error.details["limit"] == "max_tag_length"
        assert served.list().items == []
