"""RemoteStore.ingest: the ingest engine (:mod:`memorylink.ingest`) run over a remote store.

The engine needs only ``list``, ``add_many`` and ``delete_many``, which the remote store
has; files are read on the caller's machine and their chunks stored on the server. Two
things a local store knows are not sent by the server, so the client decides them:

* the user the chunks belong to, when no ``user_id`` is given: the credential's own user
  (``GET /api/v1/auth/me``), which is where the server stores a write that names none;
* the limits chunks must fit: the library's default ``Limits`` (a server configured with a
  smaller ``max_text_length`` refuses the longer chunks, each reported in the report). A
  server with a smaller ``max_batch_size`` or ``max_page_size`` names its maximum when it
  refuses a batch or a page, and the batches and pages are then cut to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from memorylink.client._base import API, Call, model_reader
from memorylink.config import Limits
from memorylink.errors import LimitExceededError
from memorylink.models import BatchItemResult, BatchResult

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from memorylink.ingest.engine import IngestTarget, PathsArg
    from memorylink.ingest.models import IngestReport
    from memorylink.models import Memory, Page

__all__ = ["IngestJob", "ServerSized", "whoami_call"]

_LIMITS = Limits()


class _Whoami(pydantic.BaseModel):
    user_id: str


_WHOAMI = model_reader(pydantic.TypeAdapter(_Whoami))


def whoami_call() -> Call[_Whoami]:
    """``GET /api/v1/auth/me``: the user the credential acts as."""
    return Call("GET", f"{API}/auth/me", _WHOAMI)


@dataclass(frozen=True)
class IngestJob:
    """One ``ingest`` call of a remote store: what to read, and the engine arguments.

    Attributes:
        paths: The files and directories.
        user_id: The caller's ``user_id``; None means the credential's user (:func:`whoami_call`).
        options: The other keyword arguments of :func:`~memorylink.ingest.ingest_paths`.
    """

    paths: PathsArg
    user_id: str | None
    options: dict[str, Any]

    def run(self, target: IngestTarget, user_id: str) -> IngestReport:
        """Run the ingest engine with ``target`` (a remote store, or a blocking view of one) as the store."""
        from memorylink.ingest.engine import ingest_paths, sizes_within

        sized = ServerSized(target)
        return ingest_paths(sized, self.paths, user_id=user_id, **self.options, **sizes_within(_LIMITS))


def _smaller_maximum(error: LimitExceededError, limit: str, asked: int) -> int | None:
    """The server's maximum for ``limit`` when ``error`` names one below what was asked, else None."""
    if error.limit == limit and isinstance(error.maximum, int) and 0 < error.maximum < asked:
        return error.maximum
    return None


class ServerSized:
    """A remote store as the ingest engine uses it, with batches and pages cut to the server's limits.

    The client sizes them by the library's default ``Limits``; a server configured lower
    refuses such a batch or page whole, naming its maximum, and the call is then made again
    in parts of that size (an ``add_many``'s results keep their input indexes).
    """

    def __init__(self, target: IngestTarget) -> None:
        self._target = target

    def list(self, **arguments: Any) -> Page[Memory]:
        try:
            return self._target.list(**arguments)
        except LimitExceededError as error:
            smaller = _smaller_maximum(error, "max_page_size", int(arguments.get("limit") or 0))
            if smaller is None:
                raise
            return self._target.list(**{**arguments, "limit": smaller})

    def add_many(self, items: Sequence[dict[str, Any]]) -> BatchResult:
        try:
            return self._target.add_many(items)
        except LimitExceededError as error:
            size = _smaller_maximum(error, "max_batch_size", len(items))
            if size is None:
                raise
        parts = [(start, self.add_many(items[start : start + size])) for start in range(0, len(items), size)]
        results = [
            BatchItemResult.model_validate({**item.model_dump(), "index": start + item.index})
            for start, part in parts
            for item in part.items
        ]
        return BatchResult(
            succeeded=sum(part.succeeded for _, part in parts),
            failed=sum(part.failed for _, part in parts),
            items=results,
        )

    def delete_many(
        self,
        ids: Iterable[str] | None = None,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> int:
        scope = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        listed = None if ids is None else list(ids)
        try:
            return self._target.delete_many(listed, **scope)
        except LimitExceededError as error:
            size = _smaller_maximum(error, "max_batch_size", len(listed or ()))
            if size is None or listed is None:
                raise
        return sum(self.delete_many(listed[start : start + size], **scope) for start in range(0, len(listed), size))
