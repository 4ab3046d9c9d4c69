"""Ingest files, docs and code into a store: structure-aware chunking, incremental re-ingest.

``store.ingest(paths)`` (and ``memorylink ingest PATH...``) is the usual door; this
package holds its parts, usable alone:

* :func:`chunk_text`: split one file's text into :class:`Chunk` objects by its structure.
* :func:`walk`: the ``.gitignore``-aware directory walk.
* :func:`ingest_paths`: the engine, over any :class:`IngestTarget` (a store or a remote client).
* :class:`IngestReport`: what an ingest found and changed.

See docs/ingest.md.
"""

from memorylink.ingest.chunking import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP_LINES, Chunk, chunk_text
from memorylink.ingest.engine import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_FILE_BYTES,
    INGEST_TAG,
    RESERVED_METADATA_KEYS,
    IngestTarget,
    ingest_paths,
)
from memorylink.ingest.languages import language_of
from memorylink.ingest.models import FileError, IngestReport, SkippedFile
from memorylink.ingest.walk import WalkEntry, walk

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_OVERLAP_LINES",
    "INGEST_TAG",
    "RESERVED_METADATA_KEYS",
    "Chunk",
    "FileError",
    "IngestReport",
    "IngestTarget",
    "SkippedFile",
    "WalkEntry",
    "chunk_text",
    "ingest_paths",
    "language_of",
    "walk",
]
