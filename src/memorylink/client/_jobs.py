"""The remote store methods that take more than one request: ``export`` and ``ingest``, sans-I/O.

Like :class:`~memorylink.client._base.Calls`, :class:`Jobs` has the store's exact signature for
each and checks the arguments; it returns a job that RemoteStore runs in the caller's thread
and AsyncRemoteStore in a worker thread (``_sync.py`` / ``_async.py``), so both take the same
arguments by construction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

from memorylink.client._export import ExportJob, check_plaintext
from memorylink.client._ingest import IngestJob
from memorylink.ingest.chunking import DEFAULT_CHUNK_SIZE
from memorylink.ingest.engine import DEFAULT_MAX_FILE_BYTES

if TYPE_CHECKING:
    from memorylink.ingest.engine import PathsArg

__all__ = ["Jobs"]


class Jobs:
    """Builds the job of every multi-request remote store method; no I/O."""

    def export(
        self,
        destination: str | os.PathLike[str] | IO[str],
        *,
        plaintext: bool = False,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> ExportJob:
        """Write the memories in scope as a plaintext JSON Lines export, as ``MemoryStore.export(plaintext=True)``.

        Pages through ``list`` (oldest first); ``MemoryStore.import_`` reads the file. Only
        ``plaintext=True`` is possible here: an encrypted export needs the store key, which
        never leaves the server (a ValidationError naming ``plaintext`` says so).
        """
        check_plaintext(plaintext)
        return ExportJob(destination, {"user_id": user_id, "agent_id": agent_id, "run_id": run_id})

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
    ) -> IngestJob:
        """Store files and directories as chunk memories on the server, as :meth:`MemoryStore.ingest` does.

        The files are read here and cut here; their chunks go to the server in batches, and
        re-ingesting replaces only what changed (the engine compares with the stored chunks
        through ``list``). Without ``user_id`` the chunks belong to the credential's user.
        Chunks are cut to the default ``limits.max_text_length``; see docs/client.md.
        """
        options = {
            "agent_id": agent_id,
            "run_id": run_id,
            "tags": list(tags),
            "metadata": metadata,
            "include": include,
            "exclude": exclude,
            "respect_gitignore": respect_gitignore,
            "include_hidden": include_hidden,
            "prune": prune,
            "chunk_size": chunk_size,
            "max_file_bytes": max_file_bytes,
            "on_progress": on_progress,
        }
        return IngestJob(paths, user_id, options)
