"""RemoteStore.export: the memories in scope, paged through ``list``, written as a plaintext export.

The file is the format :meth:`MemoryStore.export` writes with ``plaintext=True`` (a header
line, then one memory per line, ids and timestamps kept), so ``MemoryStore.import_`` reads
it. An encrypted export is sealed under the store key, which never leaves the server, so
the client writes plaintext only and says so when asked for more.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from memorylink._exchange import export_memories
from memorylink.errors import LimitExceededError, PermissionDeniedError, ValidationError
from memorylink.models import Memory, Page, StoreStats

__all__ = ["PAGE_SIZE", "ExportJob", "check_plaintext", "export_over"]

PAGE_SIZE = 500
"""Memories per ``list`` request (the default ``limits.max_page_size``; a server that allows fewer says so, and
pages are cut to its maximum)."""


def check_plaintext(plaintext: bool) -> None:
    """Refuse an encrypted export: the client does not have the store key."""
    if not plaintext:
        raise ValidationError(
            "an encrypted export is sealed under the store key, which never leaves the server: export with "
            "plaintext=True here, or run `memorylink export` on the server host",
            field="plaintext",
        )


def export_over(
    list_page: Callable[..., Page[Memory]],
    stats: Callable[[], StoreStats],
    destination: str | os.PathLike[str] | IO[str],
    scope: dict[str, Any],
) -> int:
    """Write every memory ``list_page(**scope, ...)`` returns, oldest first, to ``destination``."""
    try:
        embedder = stats().embedder
    except PermissionDeniedError:  # stats are for admins; the name is informational (import re-embeds)
        embedder = "unknown"

    def memories() -> Iterator[Memory]:
        cursor: str | None = None
        size = PAGE_SIZE
        while True:
            try:
                page = list_page(**scope, order="created_asc", limit=size, cursor=cursor)
            except LimitExceededError as error:
                # A server with a smaller max_page_size names it: page by that instead.
                if error.limit != "max_page_size" or not 0 < error.maximum < size:
                    raise
                size = error.maximum
                continue
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    return export_memories(destination, memories(), cipher=None, kdf=None, embedder=embedder)


@dataclass(frozen=True)
class ExportJob:
    """One ``export`` call of a remote store: where to write, and the scope to page through."""

    destination: str | os.PathLike[str] | IO[str]
    scope: dict[str, Any]

    def run(self, list_page: Callable[..., Page[Memory]], stats: Callable[[], StoreStats]) -> int:
        """Write the export with ``list_page`` and ``stats`` (the store's, or a blocking view's)."""
        return export_over(list_page, stats, self.destination, self.scope)
