"""What ``ingest`` reports (pydantic, like the rest of memorylink's shapes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from memorylink.models import ErrorInfo

__all__ = ["FileError", "IngestReport", "SkippedFile"]


class SkippedFile(BaseModel):
    """A file ingest did not read, and why (``binary``, ``too large``, ``not text``, a symlink rule)."""

    model_config = ConfigDict(frozen=True)

    path: str
    reason: str


class FileError(BaseModel):
    """A file whose chunks could not be stored; its previous chunks (if any) were kept."""

    model_config = ConfigDict(frozen=True)

    path: str
    error: ErrorInfo


class IngestReport(BaseModel):
    """What one ``ingest`` call found and changed.

    ``files_seen`` counts every file the walk found; each of them is then exactly one of
    added (new), replaced (changed since the last ingest), unchanged, skipped or failed.
    ``files_removed`` counts files whose chunks were deleted because they are no longer
    found under a re-ingested directory.
    """

    model_config = ConfigDict(frozen=True)

    roots: list[str] = Field(default_factory=list, description="the resolved roots, as recorded in chunk metadata")
    files_seen: int = 0
    files_added: int = 0
    files_replaced: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
    skipped: list[SkippedFile] = Field(default_factory=list)
    errors: list[FileError] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No file failed."""
        return not self.errors

    @property
    def changed(self) -> bool:
        """Whether the call wrote anything."""
        return bool(self.chunks_added or self.chunks_deleted)
