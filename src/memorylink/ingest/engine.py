"""The ingest engine: files in, chunk memories out, over any store with ``list`` / ``add_many`` / ``delete_many``.

It uses nothing but those three public methods (:class:`IngestTarget`), so the local
:class:`~memorylink.MemoryStore` and a remote client of a memorylink server run the same
engine and store the same chunks.

How re-ingest stays incremental and safe to interrupt: every chunk records the sha256 of
its whole file (``file_sha256``), its position (``chunk_index``) and the file's chunk count
(``chunk_count``), and a digest of the options that shaped it (``ingest_options``: tags,
metadata, chunk size, chunker version). A file whose complete set of chunks for its current
hash and options is already stored is left alone (no writes, no events). A changed file gets its new chunks added
first and its old ones deleted after, so a run killed midway leaves the old chunks, the
new ones, or both, and the next run finishes the job: a complete set for the current
hash wins and the others are deleted; an incomplete set is replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from memorylink.errors import ValidationError
from memorylink.ingest.chunking import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP_LINES, chunk_text
from memorylink.ingest.languages import BINARY_EXTENSIONS, language_of
from memorylink.ingest.models import FileError, IngestReport, SkippedFile
from memorylink.ingest.walk import WalkEntry, walk
from memorylink.models import BatchResult, ErrorInfo, Memory, Page

if TYPE_CHECKING:
    from memorylink.config import Limits

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_FILE_BYTES",
    "INGEST_TAG",
    "RESERVED_METADATA_KEYS",
    "IngestTarget",
    "PathsArg",
    "StoreSizes",
    "ingest_paths",
    "sizes_within",
]

logger = logging.getLogger(__name__)

INGEST_TAG = "ingested"
"""Tag on every chunk ingest stores (besides the caller's tags)."""
DEFAULT_MAX_FILE_BYTES = 1_048_576
"""Files larger than this (bytes) are skipped as ``too large`` (the ``max_file_bytes`` argument)."""
DEFAULT_BATCH_SIZE = 256
"""Chunks per ``add_many`` call (one embedding pass each)."""
DEFAULT_PAGE_SIZE = 500
"""Stored chunks per ``list`` call when re-ingest reads what a root already has."""
CHUNKER_VERSION = 1
"""Part of every chunk's ``ingest_options``: bumped when chunking changes, so re-ingest redoes every file."""
RESERVED_METADATA_KEYS = frozenset(
    {
        "root",
        "source",
        "language",
        "kind",
        "symbol",
        "heading_path",
        "part",
        "start_line",
        "end_line",
        "chunk_index",
        "chunk_count",
        "chunk_sha256",
        "file_sha256",
        "ingest_options",
    }
)
"""Metadata keys ingest writes on each chunk; caller metadata may not use them."""

PathsArg = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
ProgressCallback = Callable[[int, int], None]


class IngestTarget(Protocol):
    """The store methods ingest needs (``MemoryStore`` and the remote client both have them)."""

    def list(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]: ...

    def add_many(self, items: Sequence[dict[str, Any]]) -> BatchResult: ...

    def delete_many(
        self,
        ids: Iterable[str] | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> int: ...


class StoreSizes(TypedDict):
    """The size arguments of :func:`ingest_paths` that a store's limits decide."""

    max_text_length: int
    batch_size: int
    page_size: int


def sizes_within(limits: Limits) -> StoreSizes:
    """Sizes for ingesting into a store with ``limits``: chunks it accepts, batches and pages it allows.

    ``MemoryStore.ingest`` passes its own limits; the remote client, the library's defaults.
    """
    return {
        "max_text_length": limits.max_text_length,
        "batch_size": min(DEFAULT_BATCH_SIZE, limits.max_batch_size),
        "page_size": min(DEFAULT_PAGE_SIZE, limits.max_page_size),
    }


@dataclass
class _Stored:
    """The chunks a file has in the store."""

    ids: list[str] = field(default_factory=list)
    by_hash: dict[str, set[tuple[int, int]]] = field(default_factory=dict)  # version -> {(index, count)}
    ids_by_hash: dict[str, list[str]] = field(default_factory=dict)

    def complete(self, file_hash: str) -> bool:
        """Whether every chunk of this version (file hash and options) is stored, each once."""
        found = self.by_hash.get(file_hash)
        if not found or len(self.ids_by_hash[file_hash]) != len(found):
            return False
        counts = {count for _, count in found}
        if len(counts) != 1:
            return False
        return {index for index, _ in found} == set(range(counts.pop()))


@dataclass
class _Pending:
    display: str
    items: list[dict[str, Any]]
    old_ids: list[str]


@dataclass
class _Run:
    target: IngestTarget
    scope: dict[str, str | None]
    batch_size: int
    report: dict[str, Any]
    skipped: list[SkippedFile]
    errors: list[FileError]
    done: int = 0
    total: int = 0
    on_progress: ProgressCallback | None = None
    pending: list[_Pending] = field(default_factory=list)

    def progress(self, count: int = 1) -> None:
        self.done += count
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def delete(self, ids: Sequence[str], *, counted: bool = True) -> int:
        deleted = 0
        for start in range(0, len(ids), self.batch_size):
            deleted += self.target.delete_many(ids=list(ids[start : start + self.batch_size]), **self.scope)
        if counted:
            self.report["chunks_deleted"] += deleted
        return deleted

    def queue(self, pending: _Pending) -> None:
        self.pending.append(pending)
        if sum(len(p.items) for p in self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        items = [item for pending in batch for item in pending.items]
        results: list[tuple[str | None, ErrorInfo | None]] = []
        for start in range(0, len(items), self.batch_size):
            outcome = self.target.add_many(items[start : start + self.batch_size])
            results.extend((item.id, item.error) for item in outcome.items)
        position = 0
        stale: list[str] = []
        for pending in batch:
            mine = results[position : position + len(pending.items)]
            position += len(pending.items)
            new_ids = [memory_id for memory_id, _ in mine if memory_id is not None]
            failures = [error for _, error in mine if error is not None]
            if failures:
                # Keep the old chunks; drop the new ones that made it, so the next run retries whole.
                self.delete(new_ids, counted=False)
                self.errors.append(FileError(path=pending.display, error=failures[0]))
            else:
                self.report["chunks_added"] += len(new_ids)
                self.report["files_replaced" if pending.old_ids else "files_added"] += 1
                stale.extend(pending.old_ids)
        self.delete(stale)
        self.progress(len(batch))


def ingest_paths(
    target: IngestTarget,
    paths: PathsArg,
    *,
    user_id: str,
    agent_id: str | None = None,
    run_id: str | None = None,
    tags: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    respect_gitignore: bool = True,
    include_hidden: bool = False,
    prune: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_text_length: int | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    page_size: int = DEFAULT_PAGE_SIZE,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest files and directories into ``target`` (see :meth:`memorylink.MemoryStore.ingest`).

    This is the engine behind ``MemoryStore.ingest``; it uses only ``target.list``,
    ``target.add_many`` and ``target.delete_many``, so any :class:`IngestTarget` works
    (the remote client passes itself). ``user_id`` must be the resolved user (no default
    is applied here), and ``max_text_length`` the store's limit, which no chunk exceeds.

    Raises:
        ValidationError: A path does not exist, or a bad argument (named in the error).
    """
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not given:
        raise ValidationError("give at least one file or directory to ingest", field="paths")
    for name, value in (("chunk_size", chunk_size), ("max_file_bytes", max_file_bytes), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"{name} must be a positive integer", field=name)
    extra = dict(metadata or {})
    clash = sorted(RESERVED_METADATA_KEYS & set(extra))
    if clash:
        raise ValidationError(
            f"metadata key {clash[0]!r} is written by ingest on every chunk; choose another name",
            field=f"metadata.{clash[0]}",
        )
    all_tags = list(dict.fromkeys([INGEST_TAG, *tags]))
    max_chars = min(chunk_size, max_text_length) if max_text_length is not None else chunk_size
    # What else shapes a file's chunks: a change to any of it rewrites unchanged files too.
    shape = {"version": CHUNKER_VERSION, "tags": all_tags, "metadata": extra, "max_chars": max_chars}
    options = hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:16]
    include_patterns = list(include or ())
    exclude_patterns = list(exclude or ())

    # Roots first (every path checked before anything is written), then their files.
    roots: dict[Path, tuple[str, bool, dict[str, WalkEntry]]] = {}
    for raw in given:
        path = Path(raw)
        if not path.exists():
            raise ValidationError(f"{path} does not exist", field="paths")
        if path.is_dir():
            root, display, prune_root = path.resolve(), str(path), prune
            entries = list(
                walk(
                    path,
                    include=include_patterns,
                    exclude=exclude_patterns,
                    respect_gitignore=respect_gitignore,
                    include_hidden=include_hidden,
                )
            )
        else:
            resolved = path.resolve()
            root, display, prune_root = resolved.parent, str(path.parent), False
            entries = [WalkEntry(resolved, resolved.name)]
        _, _, known = roots.setdefault(root, (display, False, {}))
        for entry in entries:
            known.setdefault(entry.relative, entry)
        roots[root] = (roots[root][0], roots[root][1] or prune_root, known)

    scope = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
    counters = dict.fromkeys(("files_seen", "files_added", "files_replaced", "files_unchanged", "files_removed"), 0) | {
        "chunks_added": 0,
        "chunks_deleted": 0,
    }
    run = _Run(
        target=target,
        scope=scope,
        batch_size=batch_size,
        report=counters,
        skipped=[],
        errors=[],
        total=sum(len(files) for _, _, files in roots.values()),
        on_progress=on_progress,
    )
    for root, (display, prune_root, files) in roots.items():
        stored = _stored_chunks(target, root.as_posix(), scope, page_size)
        for relative, entry in sorted(files.items()):
            counters["files_seen"] += 1
            shown = (Path(display) / relative).as_posix()
            outcome = _ingest_file(
                run,
                entry,
                shown,
                root.as_posix(),
                stored.pop(relative, None),
                max_chars,
                max_file_bytes,
                all_tags,
                extra,
                options,
            )
            if outcome is not None:
                run.progress()
        if run.pending:
            run.flush()
        if prune_root:
            for _, gone in sorted(stored.items()):
                if gone.ids:
                    run.delete(gone.ids)
                    counters["files_removed"] += 1
                    logger.debug("ingest: removed the chunks of a file no longer under the root")
    return IngestReport(roots=[root.as_posix() for root in roots], skipped=run.skipped, errors=run.errors, **counters)


def _stored_chunks(target: IngestTarget, root: str, scope: dict[str, str | None], page_size: int) -> dict[str, _Stored]:
    """The chunks ingest stored under ``root`` in exactly this scope, by source path."""
    found: dict[str, _Stored] = {}
    cursor: str | None = None
    wanted = {"metadata.root": root, "metadata.file_sha256": {"exists": True}}
    while True:
        page = target.list(filter=wanted, limit=page_size, cursor=cursor, **scope)
        for memory in page.items:
            if (memory.user_id, memory.agent_id, memory.run_id) != (
                scope["user_id"],
                scope["agent_id"],
                scope["run_id"],
            ):
                continue  # a narrower scope's chunks (list matches any agent / run when they are None)
            meta = memory.metadata
            source = meta.get("source")
            if not isinstance(source, str):
                continue
            entry = found.setdefault(source, _Stored())
            entry.ids.append(memory.id)
            file_hash, index, count = meta.get("file_sha256"), meta.get("chunk_index"), meta.get("chunk_count")
            if isinstance(file_hash, str) and isinstance(index, int) and isinstance(count, int):
                version = f"{file_hash}/{meta.get('ingest_options')}"
                entry.by_hash.setdefault(version, set()).add((index, count))
                entry.ids_by_hash.setdefault(version, []).append(memory.id)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _ingest_file(
    run: _Run,
    entry: WalkEntry,
    shown: str,
    root: str,
    stored: _Stored | None,
    max_chars: int,
    max_file_bytes: int,
    tags: list[str],
    extra: dict[str, Any],
    options: str,
) -> bool | None:
    """Handle one file; True when it is settled now, None when its chunks wait in the batch."""
    old_ids = stored.ids if stored is not None else []

    def skip(reason: str) -> bool:
        run.skipped.append(SkippedFile(path=shown, reason=reason))
        if old_ids:  # it no longer yields chunks: drop what an earlier run stored
            run.delete(old_ids)
            run.report["files_removed"] += 1
        return True

    if entry.skipped is not None:
        return skip(entry.skipped)
    if entry.path.suffix.lower() in BINARY_EXTENSIONS:
        return skip("not text")
    try:
        size = entry.path.stat().st_size
        if size > max_file_bytes:
            return skip(f"too large ({size} bytes; the limit max_file_bytes is {max_file_bytes})")
        data = entry.path.read_bytes()
    except OSError as error:
        run.errors.append(
            FileError(path=shown, error=ErrorInfo(code="io_error", message=f"cannot read: {error.strerror or error}"))
        )
        return True
    if b"\x00" in data:
        return skip("binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return skip("binary (not UTF-8)")
    file_hash = hashlib.sha256(data).hexdigest()
    version = f"{file_hash}/{options}"
    if stored is not None and stored.complete(version):
        current = set(stored.ids_by_hash[version])
        leftovers = [i for i in stored.ids if i not in current]
        if leftovers:  # an interrupted replace: the new chunks are all there, the old ones not yet gone
            run.delete(leftovers)
            run.report["files_replaced"] += 1
        else:
            run.report["files_unchanged"] += 1
        return True
    language = language_of(entry.relative)
    chunks = chunk_text(text, language, max_chars=max_chars, overlap_lines=DEFAULT_OVERLAP_LINES)
    if not chunks:
        return skip("empty")
    items: list[dict[str, Any]] = []
    for index, chunk in enumerate(chunks):
        meta: dict[str, Any] = {
            **extra,
            "root": root,
            "source": entry.relative,
            "language": language,
            "kind": chunk.kind,
            "start_line": chunk.start_line,
            "end_line": chunk.end_line,
            "chunk_index": index,
            "chunk_count": len(chunks),
            "chunk_sha256": hashlib.sha256(chunk.text.encode()).hexdigest(),
            "file_sha256": file_hash,
            "ingest_options": options,
        }
        if chunk.symbol is not None:
            meta["symbol"] = chunk.symbol
        if chunk.heading_path:
            meta["heading_path"] = list(chunk.heading_path)
        if chunk.part is not None:
            meta["part"] = chunk.part
        items.append({"text": chunk.text, "tags": tags, "metadata": meta, **run.scope})
    run.queue(_Pending(shown, items, old_ids))
    return None
