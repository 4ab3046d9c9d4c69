"""The audit log: who did which admin or authentication action, when, and how it went.

Entries are sealed in the store's app data like everything else and read newest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from memorylink.app_data import AppData
from memorylink.errors import ValidationError
from memorylink.ids import IdGenerator, encode_id
from memorylink.server.auth.models import AuditEntry, AuditPage

__all__ = ["AUDIT_NAMESPACE", "MAX_AUDIT_PAGE", "AuditLog"]

AUDIT_NAMESPACE = "server.auth.audit"
MAX_AUDIT_PAGE = 500
_MAX_FIELD = 128
_PRUNE_EVERY = 200  # appends between two looks for expired entries
_PRUNE_BATCH = 500
_MAX_SEQ = 2**63 - 1  # SQLite's largest INTEGER
_ID_TRIES = 8


def _clean(value: str | None) -> str | None:
    """Names that come from callers (a username tried at login) are kept short and printable."""
    if value is None:
        return None
    text = "".join(char if char.isprintable() else "?" for char in value)
    return text[:_MAX_FIELD]


class AuditLog:
    """Appends and pages audit entries in ``app_data``.

    Args:
        app_data: The store's :class:`~memorylink.app_data.AppData`.
        clock: Seconds since the epoch.
        retention_days: Entries older than this are pruned, a batch now and then as
            new ones are appended (None: kept forever).
    """

    def __init__(
        self, app_data: AppData, *, clock: Callable[[], float] = time.time, retention_days: float | None = None
    ) -> None:
        self._data = app_data
        self._clock = clock
        self._retention = None if retention_days is None else timedelta(days=retention_days)
        self._ids = IdGenerator()
        self._appended = 0

    def record(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        outcome: Literal["success", "failure"] = "success",
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry (never a password or a key's secret: callers pass names and ids only)."""
        now = self._clock()
        entry = AuditEntry(
            id="aud_" + encode_id(self._ids.next(at_ms=int(now * 1000))),
            time=datetime.fromtimestamp(now, UTC),
            actor=_clean(actor) or "unknown",
            action=action,
            target=_clean(target),
            outcome=outcome,
            request_id=request_id,
            details=dict(details or {}),
        )
        # Another process (the CLI beside a server) may have taken the same id in the same
        # millisecond; an entry is never overwritten, it takes the next free id instead.
        for _ in range(_ID_TRIES):
            if self._data.put_json(AUDIT_NAMESPACE, entry.id, entry.model_dump(mode="json"), only_new=True):
                break
            entry = entry.model_copy(update={"id": "aud_" + encode_id(self._ids.next(at_ms=int(now * 1000)))})
        else:
            raise RuntimeError(f"no free audit entry id after {_ID_TRIES} tries")  # 2^-20 odds each: a bug
        self._appended += 1
        if self._retention is not None and self._appended % _PRUNE_EVERY == 1:
            self.prune(entry.time - self._retention)
        return entry

    def prune(self, before: datetime) -> int:
        """Delete the entries older than ``before``; returns how many."""
        removed = 0
        while True:
            oldest = self._data.entries(AUDIT_NAMESPACE, limit=_PRUNE_BATCH)
            expired = [e for e in oldest if AuditEntry.model_validate(e.json()).time < before]
            for entry in expired:
                removed += int(self._data.delete(AUDIT_NAMESPACE, entry.key))
            if len(expired) < _PRUNE_BATCH:
                return removed

    def page(self, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        """Entries newest first, ``limit`` at a time; ``cursor`` is the previous page's ``next_cursor``.

        Raises:
            ValidationError: ``limit`` outside [1, 500], or a cursor this log did not hand out.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_AUDIT_PAGE:
            raise ValidationError(f"limit must be an integer in [1, {MAX_AUDIT_PAGE}]", field="limit")
        before: int | None = None
        if cursor is not None:
            # Sequence numbers are SQLite integers: 19 digits may still be past the largest one.
            if not cursor.isdigit() or len(cursor) > 19 or int(cursor) > _MAX_SEQ:
                raise ValidationError("cursor is not one this audit log handed out", field="cursor")
            before = int(cursor)
        found = self._data.entries(AUDIT_NAMESPACE, newest_first=True, before_seq=before, limit=limit + 1)
        items = [AuditEntry.model_validate(entry.json()) for entry in found[:limit]]
        next_cursor = str(found[limit - 1].seq) if len(found) > limit else None
        return AuditPage(items=items, next_cursor=next_cursor)

    def count(self) -> int:
        """How many entries the log holds."""
        return self._data.count(AUDIT_NAMESPACE)
