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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from memorylink.client._base import API, Call, model_reader
from memorylink.config import Limits

if TYPE_CHECKING:
    from memorylink.ingest.engine import IngestTarget, PathsArg
    from memorylink.ingest.models import IngestReport

__all__ = ["IngestJob", "whoami_call"]

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

        return ingest_paths(target, self.paths, user_id=user_id, **self.options, **sizes_within(_LIMITS))
