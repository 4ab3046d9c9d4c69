"""Documents <-> memories, and how LangChain document ids map onto memorylink ids.

memorylink makes its own ids (13 base32 characters that sort by creation time), so a
document id given by the caller (``ids=["doc-1"]`` or ``Document(id="doc-1")``) is kept in
the memory's metadata under :data:`ID_KEY`. A document's id is that value when present,
else the memory's own id. Lookups (``get_by_ids``, ``delete``, upserts) accept both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.documents import Document

from memorylink.errors import ValidationError
from memorylink.ids import decode_id
from memorylink.models import Memory, SearchHit

__all__ = ["ID_KEY", "Pending", "doc_id", "hit_document", "is_memory_id", "prepare", "to_document"]

ID_KEY = "langchain_id"
"""The metadata key that holds a caller-given LangChain document id (hidden from documents)."""


@dataclass(frozen=True)
class Pending:
    """One text to write: its metadata as given, and the caller's id (None: let the store choose)."""

    text: str
    metadata: dict[str, Any]
    caller_id: str | None


def prepare(
    texts: Iterable[str], metadatas: Sequence[Mapping[str, Any]] | None, ids: Sequence[str | None] | None
) -> list[Pending]:
    """Pair texts with their metadata and ids, checking lengths, id types and duplicate ids."""
    text_list = list(texts)
    if metadatas is not None and len(metadatas) != len(text_list):
        raise ValidationError(f"{len(metadatas)} metadatas for {len(text_list)} texts", field="metadatas")
    if ids is not None and len(ids) != len(text_list):
        raise ValidationError(f"{len(ids)} ids for {len(text_list)} texts", field="ids")
    seen: set[str] = set()
    pending: list[Pending] = []
    for position, text in enumerate(text_list):
        metadata = dict(metadatas[position]) if metadatas is not None else {}
        if ID_KEY in metadata:
            raise ValidationError(
                f"metadata key {ID_KEY!r} is reserved for the document id; pass the id as ids= or Document.id",
                field=f"metadatas[{position}].{ID_KEY}",
            )
        caller_id = ids[position] if ids is not None else None
        if caller_id is not None:
            if not isinstance(caller_id, str) or not caller_id:
                raise ValidationError(f"ids[{position}] must be a non-empty string", field=f"ids[{position}]")
            if caller_id in seen:
                raise ValidationError(f"id {caller_id!r} is given twice in one call", field=f"ids[{position}]")
            seen.add(caller_id)
        pending.append(Pending(text, metadata, caller_id))
    return pending


def doc_id(memory: Memory) -> str:
    """The LangChain id of a memory: the caller's id if it was given one, else its own."""
    given = memory.metadata.get(ID_KEY)
    return given if isinstance(given, str) else memory.id


def is_memory_id(value: str) -> bool:
    """Whether ``value`` is spelled like a memorylink id (it may still name no memory)."""
    try:
        decode_id(value)
    except ValidationError:
        return False
    return True


def to_document(memory: Memory) -> Document:
    """The memory as a LangChain document: its text, its metadata (without :data:`ID_KEY`), its id."""
    metadata = {k: v for k, v in memory.metadata.items() if k != ID_KEY}
    return Document(id=doc_id(memory), page_content=memory.text, metadata=metadata)


def hit_document(hit: SearchHit) -> Document:
    """A search hit as a document whose metadata also carries the memory's fields under ``"memorylink"``."""
    memory = hit.memory
    document = to_document(memory)
    document.metadata["memorylink"] = {
        "memory_id": memory.id,
        "tags": list(memory.tags),
        "user_id": memory.user_id,
        "agent_id": memory.agent_id,
        "run_id": memory.run_id,
        "created_at": memory.created_at.isoformat(),
        "updated_at": memory.updated_at.isoformat(),
        "similarity": hit.similarity,
        "score": hit.score,
    }
    return document
