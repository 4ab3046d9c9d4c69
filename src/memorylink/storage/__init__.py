"""Storage: SQLite, the single source of truth."""

from memorylink.storage.base import ChangeRow, HistoryRow, MemoryRow, Op, Storage
from memorylink.storage.sqlite import SqliteStorage

__all__ = ["ChangeRow", "HistoryRow", "MemoryRow", "Op", "SqliteStorage", "Storage"]
