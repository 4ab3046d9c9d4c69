"""store.ingest: chunk memories and their metadata, incremental and interrupted re-ingest, scopes, errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from memorylink import AsyncMemoryStore, Limits, MemoryStore, Settings
from memorylink.errors import ValidationError
from memorylink.events.models import Event
from memorylink.ingest import INGEST_TAG, IngestTarget, ingest_paths
from memorylink.models import BatchResult, Memory, Page

APP = '''"""The app."""


def greet(name):
    return f"hello {name}"


class Greeter:
    def wave(self):
        return "wave"
'''
README = "# Project\n\n## Usage\n\nRun the app.\n"


def project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(APP)
    (root / "README.md").write_text(README)
    (root / "notes.txt").write_text("First note.\n\nSecond note.\n")
    return root


def chunks(store: MemoryStore, **scope: Any) -> list[Memory]:
    page = store.list(filter={"tags": {"any": [INGEST_TAG]}}, limit=1_000, order="created_asc", **scope)
    return sorted(page.items, key=lambda m: (m.metadata["source"], m.metadata["chunk_index"]))


def recorder(store: MemoryStore) -> list[Event]:
    seen: list[Event] = []
    store.events.subscribe(seen.append)
    return seen


def state(store: MemoryStore) -> list[tuple[str, int, str]]:
    return [(m.metadata["source"], m.metadata["start_line"], m.text) for m in chunks(store)]


def test_ingest_stores_chunks_with_their_metadata(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    report = store.ingest(root, tags=["docs"], metadata={"project": "demo"})
    assert (report.files_seen, report.files_added, report.chunks_added) == (3, 3, 5)
    assert report.ok and report.changed and report.roots == [root.resolve().as_posix()]
    stored = chunks(store)
    by_symbol = {m.metadata.get("symbol"): m for m in stored}
    greet = by_symbol["greet"]
    assert greet.text == 'def greet(name):\n    return f"hello {name}"'
    assert greet.tags == [INGEST_TAG, "docs"]
    assert greet.user_id == "default"
    assert greet.metadata == {
        "project": "demo",
        "root": root.resolve().as_posix(),
        "source": "src/app.py",
        "language": "python",
        "kind": "function",
        "symbol": "greet",
        "start_line": 4,
        "end_line": 5,
        "chunk_index": 1,
        "chunk_count": 3,
        "chunk_sha256": hashlib.sha256(greet.text.encode()).hexdigest(),
        "file_sha256": hashlib.sha256(APP.encode()).hexdigest(),
        "ingest_options": greet.metadata["ingest_options"],
    }
    assert len(greet.metadata["ingest_options"]) == 16
    assert by_symbol["Greeter"].metadata["start_line"] == 8
    readme = next(m for m in stored if m.metadata["source"] == "README.md")
    assert readme.metadata["heading_path"] == ["Project", "Usage"]
    assert readme.text == README.strip()


def test_a_second_run_over_unchanged_files_writes_nothing(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    store.ingest(root)
    before = state(store)
    events = recorder(store)
    report = store.ingest(root)
    assert events == []
    assert (report.files_unchanged, report.chunks_added, report.chunks_deleted, report.changed) == (3, 0, 0, False)
    assert state(store) == before


def test_an_edited_file_has_its_chunks_replaced(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    store.ingest(root)
    old_ids = {m.id for m in chunks(store) if m.metadata["source"] == "src/app.py"}
    (root / "src" / "app.py").write_text(APP.replace("hello", "good morning"))
    events = recorder(store)
    report = store.ingest(root)
    assert (report.files_replaced, report.files_unchanged, report.chunks_added, report.chunks_deleted) == (1, 2, 3, 3)
    app = [m for m in chunks(store) if m.metadata["source"] == "src/app.py"]
    assert not old_ids & {m.id for m in app}
    assert any("good morning" in m.text for m in app) and not any("hello" in m.text for m in app)
    kinds = [e.type for e in events]
    assert kinds.count("memory.created") == 3 and kinds.count("memory.deleted") == 3


def test_a_removed_file_loses_its_chunks_unless_prune_is_off(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    store.ingest(root)
    (root / "notes.txt").unlink()
    kept = store.ingest(root, prune=False)
    assert kept.files_removed == 0 and any(m.metadata["source"] == "notes.txt" for m in chunks(store))
    report = store.ingest(root)
    assert (report.files_removed, report.chunks_deleted) == (1, 1)
    assert {m.metadata["source"] for m in chunks(store)} == {"README.md", "src/app.py"}


def test_a_single_file_is_ingested_relative_to_its_directory(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    store.ingest(root)
    (root / "notes.txt").write_text("Changed note.\n")
    report = store.ingest(root / "notes.txt")  # the same root and source as the directory's chunks
    assert (report.files_seen, report.files_replaced, report.files_removed) == (1, 1, 0)
    assert [m.text for m in chunks(store) if m.metadata["source"] == "notes.txt"] == ["Changed note."]
    assert len(chunks(store)) == 5  # the other files were not pruned by a file ingest


def test_skipped_files_are_reported(store: MemoryStore, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / "blob.dat").write_bytes(b"ab\x00cd")
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (root / "big.txt").write_text("x" * 2_000)
    (root / "empty.md").write_text("\n\n")
    (root / "ok.txt").write_text("fine")
    report = store.ingest(root, max_file_bytes=1_000)
    assert {s.path.rsplit("/", 1)[1]: s.reason for s in report.skipped} == {
        "image.png": "not text",
        "blob.dat": "binary",
        "latin1.txt": "binary (not UTF-8)",
        "big.txt": "too large (2000 bytes; the limit max_file_bytes is 1000)",
        "empty.md": "empty",
    }
    assert (report.files_seen, report.files_added) == (6, 1)


def test_no_chunk_exceeds_the_store_text_limit(open_store: Callable[..., MemoryStore], tmp_path: Path) -> None:
    store = open_store(settings=Settings(limits=Limits(max_text_length=120)))
    root = tmp_path / "proj"
    root.mkdir()
    body = "\n".join(f"    total += {n}  # step {n}" for n in range(60))
    (root / "long.py").write_text(f"def long():\n    total = 0\n{body}\n    return total\n")
    (root / "wide.txt").write_text("word " * 300)
    report = store.ingest(root, chunk_size=10_000)
    assert report.ok
    stored = chunks(store)
    assert stored and all(len(m.text) <= 120 for m in stored)
    parts = [m.metadata["part"] for m in stored if m.metadata["source"] == "long.py"]
    assert parts == list(range(1, len(parts) + 1)) and len(parts) > 1


def test_scopes_are_ingested_and_compared_separately(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    store.ingest(root, user_id="alice")
    store.ingest(root, user_id="alice", agent_id="helper")
    bob = store.ingest(root, user_id="bob")
    assert bob.files_added == 3  # alice's chunks do not count as bob's
    (root / "notes.txt").unlink()
    report = store.ingest(root, user_id="alice")
    assert (report.files_removed, report.chunks_deleted) == (1, 1)
    assert len(chunks(store, user_id="bob")) == 5
    assert len([m for m in chunks(store, user_id="alice") if m.agent_id == "helper"]) == 5


def test_bad_arguments_change_nothing(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    events = recorder(store)
    with pytest.raises(ValidationError) as missing:
        store.ingest([root, tmp_path / "nope"])
    assert missing.value.field == "paths"
    with pytest.raises(ValidationError) as reserved:
        store.ingest(root, metadata={"source": "mine"})
    assert reserved.value.field == "metadata.source"
    with pytest.raises(ValidationError) as size:
        store.ingest(root, chunk_size=0)
    assert size.value.field == "chunk_size"
    with pytest.raises(ValidationError):
        store.ingest([])
    assert events == [] and chunks(store) == []


def test_a_file_whose_chunks_are_refused_fails_alone_and_keeps_its_old_chunks(
    open_store: Callable[..., MemoryStore], tmp_path: Path
) -> None:
    store = open_store(settings=Settings(limits=Limits(max_metadata_bytes=1_000)))
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nshort\n")
    (root / "b.md").write_text("# B\n\nshort\n")
    store.ingest(root)
    deep = "".join(f"{'#' * level} {'heading ' * 20}{level}\n\n" for level in range(1, 7))
    (root / "b.md").write_text(deep + "text\n")  # its heading path overflows max_metadata_bytes
    (root / "a.md").write_text("# A\n\nlonger now\n")
    report = store.ingest(root)
    assert [(e.path.rsplit("/", 1)[1], e.error.code) for e in report.errors] == [("b.md", "limit_exceeded")]
    assert report.files_replaced == 1
    assert [m.text for m in chunks(store) if m.metadata["source"] == "b.md"] == ["# B\n\nshort"]
    assert [m.text for m in chunks(store) if m.metadata["source"] == "a.md"] == ["# A\n\nlonger now"]


class Flaky:
    """An IngestTarget over a store that fails the n-th add_many / delete_many call (a crash)."""

    def __init__(self, store: MemoryStore, *, fail_add: int | None = None, fail_delete: int | None = None) -> None:
        self.store = store
        self.fail_add = fail_add
        self.fail_delete = fail_delete
        self.adds = 0
        self.deletes = 0

    def list(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        return self.store.list(
            user_id=user_id, agent_id=agent_id, run_id=run_id, filter=filter, limit=limit, cursor=cursor
        )

    def add_many(self, items: Sequence[dict[str, Any]]) -> BatchResult:
        self.adds += 1
        if self.adds == self.fail_add:
            raise KeyboardInterrupt
        return self.store.add_many(items)

    def delete_many(
        self,
        ids: Iterable[str] | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> int:
        self.deletes += 1
        if self.deletes == self.fail_delete:
            raise KeyboardInterrupt
        return self.store.delete_many(ids, user_id=user_id, agent_id=agent_id, run_id=run_id)


@pytest.mark.parametrize(("fail_add", "fail_delete"), [(1, None), (2, None), (None, 1)])
def test_an_interrupted_re_ingest_is_finished_by_the_next_run(
    open_store: Callable[..., MemoryStore], tmp_path: Path, fail_add: int | None, fail_delete: int | None
) -> None:
    root = project(tmp_path / "proj")
    expected_store = open_store("expected")
    store = open_store()
    store.ingest(root)
    (root / "src" / "app.py").write_text(APP.replace("hello", "hi") + "\n\ndef extra():\n    return 1\n")
    (root / "README.md").write_text(README + "\nMore.\n")
    expected_store.ingest(root)
    target: IngestTarget = Flaky(store, fail_add=fail_add, fail_delete=fail_delete)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths(target, root, user_id="default", batch_size=2)  # small batches: a crash mid-file
    report = store.ingest(root)
    assert report.ok and report.files_unchanged + report.files_replaced == 3
    assert state(store) == state(expected_store)
    again = store.ingest(root)
    assert not again.changed


def test_progress_is_reported_per_file(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    calls: list[tuple[int, int]] = []
    store.ingest(root, on_progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3) and all(total == 3 for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_the_async_twin_ingests(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")

    async def run() -> int:
        report = await AsyncMemoryStore(store).ingest(root)
        return report.chunks_added

    assert anyio.run(run) == 5


def test_a_file_given_by_path_is_read_even_if_hidden_or_ignored(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    (root / ".gitignore").write_text("notes.txt\n")
    (root / ".env.example").write_text("TOKEN=changeme\n")
    walked = store.ingest(root)
    assert {m.metadata["source"] for m in chunks(store)} == {"README.md", "src/app.py"}
    assert walked.files_seen == 2
    given = store.ingest([root / "notes.txt", root / ".env.example"])
    assert (given.files_added, given.roots) == (2, [root.resolve().as_posix()])
    assert {m.metadata["source"] for m in chunks(store)} >= {"notes.txt", ".env.example"}


def test_files_now_ignored_excluded_or_skipped_lose_their_chunks(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    store.ingest(root)
    (root / ".gitignore").write_text("notes.txt\n")
    (root / "README.md").write_text("# Project\n\n" + "Long line of text.\n" * 200)
    report = store.ingest(root, exclude=["src/"], max_file_bytes=1_000)
    assert report.files_removed == 3 and [s.reason.split(" ")[0] for s in report.skipped] == ["too"]
    assert chunks(store) == []


def test_a_file_that_cannot_be_read_fails_alone(
    store: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "proj")
    store.ingest(root)
    (root / "notes.txt").write_text("Edited.\n")
    (root / "README.md").write_text("# Project\n\nEdited too.\n")
    real = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path.name == "notes.txt":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = store.ingest(root)
    assert [(e.path.rsplit("/", 1)[1], e.error.code) for e in report.errors] == [("notes.txt", "io_error")]
    assert "Permission denied" in report.errors[0].error.message
    assert report.files_replaced == 1 and report.files_removed == 0
    assert [m.text for m in chunks(store) if m.metadata["source"] == "notes.txt"] == ["First note.\n\nSecond note."]


def test_events_of_a_first_ingest(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    events = recorder(store)
    store.ingest(root)
    kinds = [e.type for e in events]
    assert kinds.count("memory.created") == 5 and kinds.count("batch.completed") == 1
    assert set(kinds) == {"memory.created", "batch.completed"}


def test_new_tags_metadata_or_chunk_size_rewrite_unchanged_files(store: MemoryStore, tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    store.ingest(root)
    retagged = store.ingest(root, tags=["v2"])
    assert (retagged.files_replaced, retagged.files_unchanged) == (3, 0)
    assert all(m.tags == [INGEST_TAG, "v2"] for m in chunks(store))
    assert store.ingest(root, tags=["v2"]).files_unchanged == 3
    assert store.ingest(root, tags=["v2"], metadata={"team": "docs"}).files_replaced == 3
    resized = store.ingest(root, tags=["v2"], metadata={"team": "docs"}, chunk_size=40)
    assert resized.files_replaced == 3 and len(chunks(store)) > 5
    assert all(m.metadata["team"] == "docs" for m in chunks(store))
