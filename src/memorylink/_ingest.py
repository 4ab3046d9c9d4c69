"""MemoryStore.ingest: files, docs and code as chunk memories (the engine is memorylink.ingest)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from memorylink._core import StoreCore
from memorylink.ingest.chunking import DEFAULT_CHUNK_SIZE
from memorylink.ingest.engine import DEFAULT_MAX_FILE_BYTES, PathsArg, ingest_paths, sizes_within
from memorylink.ingest.models import IngestReport
from memorylink.models import check_scope_id, validate_metadata, validate_tags

if TYPE_CHECKING:
    from memorylink.ingest.engine import IngestTarget


class StoreIngest(StoreCore):
    """The ingest part of MemoryStore."""

    def ingest(
        self,
        paths: PathsArg,
        *,
        user_id: str | None = None,
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
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Store files and directories (text, Markdown, source code) as searchable chunk memories.

        Each file is cut along its structure (Markdown sections, paragraphs, Python functions
        and classes, definitions in other languages, windows of lines as a fallback) into
        chunks of at most ``chunk_size`` characters (and never more than
        ``limits.max_text_length``); each chunk is a memory tagged ``ingested`` whose metadata
        says where it came from (``root``, ``source``, ``start_line``, ``end_line``,
        ``language``, ``heading_path`` / ``symbol``, hashes). See docs/ingest.md.

        Re-ingesting is incremental: unchanged files are not touched (no writes, no events),
        changed files have their chunks replaced, and the chunks of files no longer found under
        a re-ingested directory are deleted (``prune=False`` keeps them). The engine uses only
        ``list``, ``add_many`` and ``delete_many`` (:func:`memorylink.ingest.ingest_paths`), so
        the remote client ingests the same way.

        Args:
            paths: Files and/or directories. A directory is walked recursively (``.gitignore``
                files respected, hidden files and ``.git`` skipped, symlinks never followed out
                of it); a file is ingested relative to its parent directory.
            user_id, agent_id, run_id: The scope of the chunks (``user_id`` defaults to
                ``settings.default_user_id``); re-ingest compares with chunks of exactly this scope.
            tags: Added to every chunk, besides ``ingested``.
            metadata: Added to every chunk's metadata (the keys ingest writes are reserved).
            include: ``.gitignore``-style patterns; when given, only matching files are read.
            exclude: ``.gitignore``-style patterns of files and directories to leave out.
            respect_gitignore: Apply ``.gitignore`` files.
            include_hidden: Also read files and directories whose name starts with ``.``.
            prune: Delete the chunks of files no longer found under a re-ingested directory.
            chunk_size: Characters a chunk may hold at most.
            max_file_bytes: Larger files are skipped (reported as ``too large``).
            on_progress: Called as ``on_progress(files_done, files_total)``.

        Raises:
            ValidationError: A path does not exist, bad tags / metadata / scope, a bad size.
        """
        self._check_open()
        limits = self.settings.limits
        checked_tags = validate_tags(list(tags), limits)
        checked_metadata = validate_metadata(metadata, limits) if metadata is not None else None
        user = check_scope_id("user_id", user_id, limits) or self.settings.default_user_id
        return ingest_paths(
            cast("IngestTarget", self),  # the MemoryStore this mixin is part of
            paths,
            user_id=user,
            agent_id=check_scope_id("agent_id", agent_id, limits),
            run_id=check_scope_id("run_id", run_id, limits),
            tags=checked_tags,
            metadata=checked_metadata,
            include=include,
            exclude=exclude,
            respect_gitignore=respect_gitignore,
            include_hidden=include_hidden,
            prune=prune,
            chunk_size=chunk_size,
            max_file_bytes=max_file_bytes,
            on_progress=on_progress,
            **sizes_within(limits),
        )
