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
    refuses such a batch or page whole, naming its maximum. That maximum is then kept, so
    the refused call and every later one are made in parts of that size (an ``add_many``'s
    results keep their input indexes).
    """

    def __init__(self, target: IngestTarget) -> None:
        self._target = target
        self._max_page: int | None = None  # learned from the server's refusals
        self._max_batch: int | None = None

    def list(self, **arguments: Any) -> Page[Memory]:
        limit = int(arguments.get("limit") or 0)
        if self._max_page is not None and limit > self._max_page:
            arguments = {**arguments, "limit": self._max_page}
        try:
            return self._target.list(**arguments)
        except LimitExceededError as error:
            smaller = _smaller_maximum(error, "max_page_size", int(arguments.get("limit") or 0))
            if smaller is None:
                raise
            self._max_page = smaller
            return self._target.list(**{**arguments, "limit": smaller})

    def add_many(self, items: Sequence[dict[str, Any]]) -> BatchResult:
        size = self._known_batch(len(items))
        if size is None:
            try:
                return self._target.add_many(items)
            except LimitExceededError as error:
                size = self._learn_batch(error, len(items))
        parts = [(start, self._target.add_many(items[start : start + size])) for start in range(0, len(items), size)]
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
        if ids is None:
            return self._target.delete_many(None, **scope)
        listed = list(ids)
        size = self._known_batch(len(listed))
        if size is None:
            try:
                return self._target.delete_many(listed, **scope)
            except LimitExceededError as error:
                size = self._learn_batch(error, len(listed))
        parts = (listed[start : start + size] for start in range(0, len(listed), size))
        return sum(self._target.delete_many(part, **scope) for part in parts)

    def _known_batch(self, count: int) -> int | None:
        """The part size for ``count`` items when a smaller server maximum is already known, else None."""
        return self._max_batch if self._max_batch is not None and count > self._max_batch else None

    def _learn_batch(self, error: LimitExceededError, count: int) -> int:
        """Keep the server's ``max_batch_size`` from its refusal of ``count`` items; re-raise any other refusal."""
        maximum = _smaller_maximum(error, "max_batch_size", count)
        if maximum is None:
            raise error
        self._max_batch = maximum
        return maximum
