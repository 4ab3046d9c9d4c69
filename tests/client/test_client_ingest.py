"""Remote ingest: the engine run over the client, sync and async (from a worker thread), with one argument list."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memorylink import MemoryStore
from memorylink.client import AsyncRemoteStore
from memorylink.client._jobs import Jobs
from memorylink.config import Limits
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.ingest.engine import DEFAULT_BATCH_SIZE, DEFAULT_PAGE_SIZE, ingest_paths, sizes_within
from memorylink.models import BatchItemResult, BatchResult, Memory, Page
from stream_helpers import serving


class RecordingTarget:
    """An IngestTarget that stores nothing and records what the engine asked of it."""

    def __init__(self) -> None:
        self.lists: list[dict[str, Any]] = []
        self.batches: list[list[dict[str, Any]]] = []

    def list(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filter: Any = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        self.lists.append({"user_id": user_id, "agent_id": agent_id, "run_id": run_id, "limit": limit})
        return Page(items=[])

    def add_many(self, items: Sequence[dict[str, Any]]) -> BatchResult:
        self.batches.append(list(items))
        results = [BatchItemResult(index=i, id=f"m{len(self.batches)}-{i}") for i in range(len(items))]
        return BatchResult(succeeded=len(items), failed=0, items=results)

    def delete_many(self, ids: Iterable[str] | None = None, **scope: Any) -> int:
        return 0


def test_the_ingest_job_hands_every_argument_to_the_engine() -> None:
    builder = inspect.signature(Jobs.ingest).parameters
    engine = inspect.signature(ingest_paths).parameters
    job = Jobs().ingest("notes")
    assert set(job.options) == set(builder) - {"self", "paths", "user_id"}
    assert set(job.options) <= set(engine)
    assert {name: builder[name].default for name in job.options} == {name: engine[name].default for name in job.options}


def test_a_remote_ingest_job_runs_with_its_scope_options_and_the_default_limits(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\n" + "Alice prefers window seats. " * 800 + "\n")
    progress: list[tuple[int, int]] = []
    job = Jobs().ingest(
        tmp_path,
        agent_id="planner",
        run_id="r1",
        tags=iter(["docs"]),
        metadata={"team": "travel"},
        chunk_size=100_000,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    target = RecordingTarget()
    report = job.run(target, "alice")
    chunks = [item for batch in target.batches for item in batch]
    assert report.files_added == 1 and report.chunks_added == len(chunks) > 1
    assert {(c["user_id"], c["agent_id"], c["run_id"]) for c in chunks} == {("alice", "planner", "r1")}
    assert all(c["tags"] == ["ingested", "docs"] and c["metadata"]["team"] == "travel" for c in chunks)
    # A chunk_size above the server's text limit is cut to the library's default limit.
    assert max(len(c["text"]) for c in chunks) <= Limits().max_text_length < 100_000
    assert {call["limit"] for call in target.lists} == {min(DEFAULT_PAGE_SIZE, Limits().max_page_size)}
    assert progress[-1] == (1, 1)


@given(
    text=st.integers(min_value=1, max_value=100_000),
    batch=st.integers(min_value=1, max_value=20_000),
    page=st.integers(min_value=1, max_value=5_000),
)
def test_sizes_within_never_exceed_the_limits_nor_the_engine_defaults(text: int, batch: int, page: int) -> None:
    sizes = sizes_within(Limits(max_text_length=text, max_batch_size=batch, max_page_size=page))
    assert sizes["max_text_length"] == text
    assert sizes["batch_size"] == min(batch, DEFAULT_BATCH_SIZE)
    assert sizes["page_size"] == min(page, DEFAULT_PAGE_SIZE)


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


def test_ingest_over_a_server_with_smaller_batches_and_pages(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from memorylink import Settings
    from memorylink.client import RemoteStore
    from memorylink.server import ServerSettings, create_app

    for number in range(4):  # 4 files of 3 chunks: batches of 50 and pages of 200 exceed the server's
        sections = "".join(f"# Part {part}\n\nnote {number}.{part} " + "word " * 60 + "\n\n" for part in range(3))
        (tmp_path / f"f{number}.md").write_text(sections)
    small = Settings(limits=Limits(max_batch_size=4, max_page_size=5))
    with (
        MemoryStore.open(None, embedder=HashingEmbedder(), settings=small) as served,
        serving(create_app(served, ServerSettings(no_auth=True))) as live,
        RemoteStore(live.url) as store,
    ):
        first = store.ingest(tmp_path, chunk_size=400)
        assert first.ok, first.errors
        chunks = first.chunks_added
        assert chunks > small.limits.max_batch_size and first.files_added == 4
        assert served.stats().memories == chunks
        again = store.ingest(tmp_path, chunk_size=400)  # lists every stored chunk, by pages of 5
        assert (again.files_unchanged, again.chunks_added, again.chunks_deleted) == (4, 0, 0)
        for number in range(3):
            (tmp_path / f"f{number}.md").unlink()
        pruned = store.ingest(tmp_path, chunk_size=400)  # deletes the removed files' chunks in batches of 4
        assert pruned.ok and pruned.files_removed == 3
        assert served.stats().memories == chunks - pruned.chunks_deleted > 0


def test_server_sized_learns_the_maximum_once() -> None:
    from memorylink.client._ingest import ServerSized
    from memorylink.errors import LimitExceededError

    class Small(RecordingTarget):
        refusals = 0

        def add_many(self, items: Sequence[dict[str, Any]]) -> BatchResult:
            if len(items) > 2:
                Small.refusals += 1
                raise LimitExceededError("too many", limit="max_batch_size", maximum=2, actual=len(items))
            return super().add_many(items)

    target = Small()
    sized = ServerSized(target)
    first = sized.add_many([{"text": f"t{n}"} for n in range(5)])
    second = sized.add_many([{"text": f"u{n}"} for n in range(3)])
    assert [item.index for item in first.items] == [0, 1, 2, 3, 4] and first.succeeded == 5
    assert second.succeeded == 3
    assert Small.refusals == 1  # the second call was cut up front
    assert [len(batch) for batch in target.batches] == [2, 2, 1, 2, 1]
