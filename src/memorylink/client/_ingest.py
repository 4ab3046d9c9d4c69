"""RemoteStore.ingest: the ingest engine (:mod:`memorylink.ingest`) run over a remote store.

The engine needs only ``list``, ``add_many`` and ``delete_many``, which the remote store
has; files are read on the caller's machine and their chunks stored on the server. Two
things a local store knows are not sent by the server, so the client decides them:

* the user the chunks belong to, when no ``user_id`` is given: the credential's own user
  (``GET /api/v1/auth/me``), which is where the server stores a write that names none;
* the limits chunks must fit: the library's default ``Limits`` (a server configured with a
  smaller ``max_text_length`` refuses the longer chunks, each reported in the report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pydantic

from memorylink.client._base import API, Call, model_reader
from memorylink.config import Limits

if TYPE_CHECKING:
    from memorylink.ingest.engine import IngestTarget, PathsArg
    from memorylink.ingest.models import IngestReport

__all__ = ["ingest_over", "whoami_call"]

_LIMITS = Limits()


class _Whoami(pydantic.BaseModel):
    user_id: str


_WHOAMI = model_reader(pydantic.TypeAdapter(_Whoami))


def whoami_call() -> Call[_Whoami]:
    """``GET /api/v1/auth/me``: the user the credential acts as."""
    return Call("GET", f"{API}/auth/me", _WHOAMI)


def ingest_over(
    target: IngestTarget,
    paths: PathsArg,
    *,
    user_id: str,
    agent_id: str | None,
    run_id: str | None,
    tags: Iterable[str],
    metadata: Mapping[str, Any] | None,
    include: Iterable[str] | None,
    exclude: Iterable[str] | None,
    respect_gitignore: bool,
    include_hidden: bool,
    prune: bool,
    chunk_size: int,
    max_file_bytes: int,
    on_progress: Callable[[int, int], None] | None,
) -> IngestReport:
    """Run the ingest engine with ``target`` (a remote store, or a blocking view of one) as the store."""
    from memorylink.ingest.engine import ingest_paths

    return ingest_paths(
        target,
        paths,
        user_id=user_id,
        agent_id=agent_id,
        run_id=run_id,
        tags=list(tags),
        metadata=metadata,
        include=include,
        exclude=exclude,
        respect_gitignore=respect_gitignore,
        include_hidden=include_hidden,
        prune=prune,
        chunk_size=chunk_size,
        max_text_length=_LIMITS.max_text_length,
        max_file_bytes=max_file_bytes,
        batch_size=min(256, _LIMITS.max_batch_size),
        page_size=min(500, _LIMITS.max_page_size),
        on_progress=on_progress,
    )
