"""Request and response shapes shared by the library and every front-end (pydantic v2)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from memorylink import _display
from memorylink.config import Limits
from memorylink.errors import LimitExceededError, ValidationError

__all__ = [
    "BatchItemResult",
    "BatchResult",
    "ErrorInfo",
    "ImportResult",
    "LineError",
    "Memory",
    "MemoryVersion",
    "Message",
    "NewMemory",
    "Page",
    "SearchHit",
    "SearchResult",
    "SearchMode",
    "SortBy",
    "StoreStats",
    "validate_metadata",
    "validate_new_memory",
]

SortBy = Literal["relevance", "similarity", "date"]
SearchMode = Literal["vector", "keyword", "hybrid"]
ListOrder = Literal["created_desc", "created_asc", "updated_desc", "updated_asc"]
T = TypeVar("T")


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


class Memory(BaseModel):
    """One stored memory. ``id`` sorts by creation time."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    user_id: str
    agent_id: str | None = None
    run_id: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int = Field(1, ge=1)

    _utc = field_validator("created_at", "updated_at")(_aware_utc)

    def __repr__(self) -> str:
        return _display.memory_repr(self)

    def _repr_html_(self) -> str:
        return _display.memory_html(self)


class MemoryVersion(BaseModel):
    """One version of a memory, as kept by ``history()`` (oldest first, current last)."""

    model_config = ConfigDict(frozen=True)

    memory_id: str
    version: int
    text: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    changed_at: datetime

    _utc = field_validator("changed_at")(_aware_utc)


class NewMemory(BaseModel):
    """One item for ``add`` / ``add_many``. Validate with :func:`validate_new_memory`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None


class Message(BaseModel):
    """One chat message for ``add_messages`` (the shape agent frameworks and mem0 pass)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    role: str = Field(min_length=1, max_length=64)
    content: str


class SearchHit(BaseModel):
    """A memory found by a search, with its cosine similarity in [0, 1] and final score."""

    model_config = ConfigDict(frozen=True)

    memory: Memory
    similarity: float
    score: float
    related: list[SearchHit] = Field(default_factory=list)


class SearchResult(BaseModel):
    """The answer to ``search`` / ``similar``."""

    model_config = ConfigDict(frozen=True)

    hits: list[SearchHit]
    total: int = Field(description="memories in scope that matched the filter (the candidate pool)")
    query: str
    query_time_ms: float
    filter: dict[str, Any] | None = None
    sort_by: SortBy = "relevance"
    mode: SearchMode = Field("hybrid", description="how candidates were found and scored")

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def memories(self) -> list[Memory]:
        """The hits' memories, best first."""
        return [hit.memory for hit in self.hits]

    def __repr__(self) -> str:
        return (
            f"SearchResult(query={_display.short(self.query)!r}, hits={len(self.hits)}, total={self.total}, "
            f"sort_by={self.sort_by!r}, query_time_ms={self.query_time_ms:.1f})"
        )

    def _repr_html_(self) -> str:
        return _display.search_html(self)


class ErrorInfo(BaseModel):
    """A JSON-able error: the ``to_dict()`` of a :class:`~memorylink.errors.MemoryLinkError`."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class BatchItemResult(BaseModel):
    """The outcome of one batch item: ``id`` when it succeeded, ``error`` when it failed.

    ``deduplicated`` (``add_many(..., dedupe=True)``): the item was not stored because it
    duplicates the memory ``id`` names.
    """

    model_config = ConfigDict(frozen=True)

    index: int
    id: str | None = None
    error: ErrorInfo | None = None
    deduplicated: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class BatchResult(BaseModel):
    """Per-item results of ``add_many`` (in input order)."""

    model_config = ConfigDict(frozen=True)

    succeeded: int
    failed: int
    items: list[BatchItemResult]

    @property
    def ids(self) -> list[str]:
        """Ids of the stored items, in input order."""
        return [item.id for item in self.items if item.id is not None]

    @property
    def errors(self) -> list[BatchItemResult]:
        return [item for item in self.items if item.error is not None]

    def __repr__(self) -> str:
        failures = ", ".join(f"#{item.index}: {item.error.message}" for item in self.errors if item.error)
        return f"BatchResult(succeeded={self.succeeded}, failed={self.failed}" + (
            f", errors=[{failures}])" if failures else ")"
        )

    def _repr_html_(self) -> str:
        return _display.batch_html(self)


class LineError(BaseModel):
    """A line of an import that was not stored, and why (``line`` is 1-based, the header is line 1)."""

    model_config = ConfigDict(frozen=True)

    line: int
    error: ErrorInfo


class ImportResult(BaseModel):
    """What ``import_`` did: stored ids, and each line that was skipped or failed."""

    model_config = ConfigDict(frozen=True)

    imported: int
    skipped: int
    failed: int
    ids: list[str] = Field(default_factory=list)
    errors: list[LineError] = Field(default_factory=list)


class Page(BaseModel, Generic[T]):
    """One page of ``list()``; pass ``next_cursor`` back to get the next one (None: last page)."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"Page(items={len(self.items)}, next_cursor={self.next_cursor!r})"

    def _repr_html_(self) -> str:
        return _display.page_html(self)


class StoreStats(BaseModel):
    """What ``stats()`` reports."""

    model_config = ConfigDict(frozen=True)

    path: str | None
    memories: int
    users: int
    history_versions: int
    embedder: str
    dimension: int
    index_entries: int
    journal_entries: int
    disk_bytes: int
    key_id: str
    schema_version: int
    outbox_backlog: int = Field(
        0, description="event deliveries still owed to enabled webhook endpoints (outbox events past their position)"
    )

    def _repr_html_(self) -> str:
        return _display.stats_html(self)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
"""C0 and C1 control characters and DEL: refused in scope ids (``SCOPE_ID`` in the REST schema says the same)."""


def check_unicode(value: str, field: str) -> None:
    """Refuse a str UTF-8 cannot encode (a lone surrogate, which JSON can spell as "\\ud800")."""
    try:
        value.encode()
    except UnicodeEncodeError as error:
        raise ValidationError(
            f"{field} is not valid Unicode: a lone surrogate at position {error.start}", field=field
        ) from None


def _check_scope_id(name: str, value: object, limits: Limits, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise ValidationError(f"{name} is required", field=name)
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be a non-empty string", field=name)
    check_unicode(value, name)
    control = _CONTROL.search(value)
    if control is not None:
        # Ids end up in logs, audit entries and headers, where a control character is a forgery tool.
        raise ValidationError(
            f"{name} must not contain control characters (U+{ord(control.group()):04X} at position {control.start()})",
            field=name,
        )
    if len(value) > limits.max_scope_id_length:
        raise LimitExceededError(
            f"{name} is {len(value)} characters; the limit max_scope_id_length is {limits.max_scope_id_length}",
            limit="max_scope_id_length",
            maximum=limits.max_scope_id_length,
            actual=len(value),
            field=name,
        )
    return value


def _check_text(value: object, field: str, limit: str, maximum: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string, not {type(value).__name__}", field=field)
    if not value.strip():
        raise ValidationError(f"{field} must not be empty", field=field)
    check_unicode(value, field)
    if len(value) > maximum:
        raise LimitExceededError(
            f"{field} is {len(value)} characters; the limit {limit} is {maximum}",
            limit=limit,
            maximum=maximum,
            actual=len(value),
            field=field,
        )
    return value


def validate_text(text: object, limits: Limits, *, field: str = "text") -> str:
    """Check a memory text: a non-blank string within ``max_text_length``."""
    return _check_text(text, field, "max_text_length", limits.max_text_length)


def validate_query(query: object, limits: Limits) -> str:
    """Check a search query: a non-blank string within ``max_query_length``."""
    return _check_text(query, "query", "max_query_length", limits.max_query_length)


def validate_tags(tags: object, limits: Limits) -> list[str]:
    """Check tags: strings, each within ``max_tag_length``, at most ``max_tags``; duplicates dropped."""
    if isinstance(tags, str) or not isinstance(tags, (list, tuple, set, frozenset)):
        raise ValidationError("tags must be a list of strings", field="tags")
    seen: dict[str, None] = {}
    for position, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag.strip():
            raise ValidationError(f"tags[{position}] must be a non-empty string", field=f"tags[{position}]")
        check_unicode(tag, f"tags[{position}]")
        if len(tag) > limits.max_tag_length:
            raise LimitExceededError(
                f"tags[{position}] is {len(tag)} characters; the limit max_tag_length is {limits.max_tag_length}",
                limit="max_tag_length",
                maximum=limits.max_tag_length,
                actual=len(tag),
                field=f"tags[{position}]",
            )
        seen.setdefault(tag, None)
    if len(seen) > limits.max_tags:
        raise LimitExceededError(
            f"{len(seen)} tags given; the limit max_tags is {limits.max_tags}",
            limit="max_tags",
            maximum=limits.max_tags,
            actual=len(seen),
            field="tags",
        )
    return list(seen)


def _metadata_depth(value: object, path: str, depth: int) -> int:
    if isinstance(value, Mapping):
        deepest = depth
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{path} keys must be strings", field=path)
            deepest = max(deepest, _metadata_depth(item, f"{path}.{key}", depth + 1))
        return deepest
    if isinstance(value, (list, tuple)):
        deepest = depth
        for position, item in enumerate(value):
            deepest = max(deepest, _metadata_depth(item, f"{path}[{position}]", depth + 1))
        return deepest
    if value is None or isinstance(value, (str, bool, int)):
        return depth
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{path} must be a finite number", field=path)
        return depth
    raise ValidationError(
        f"{path} must be JSON (str, number, bool, null, list, object), not {type(value).__name__}",
        field=path,
    )


def validate_metadata(metadata: object, limits: Limits) -> dict[str, Any]:
    """Check metadata: a JSON object within the key, depth and size limits."""
    if metadata is None or (isinstance(metadata, dict) and not metadata):
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError("metadata must be an object (dict)", field="metadata")
    for key in metadata:
        if not isinstance(key, str) or not key:
            raise ValidationError("metadata keys must be non-empty strings", field="metadata")
        if "." in key:
            raise ValidationError(
                f"metadata key {key!r} must not contain '.' (filters address metadata.<key>)",
                field=f"metadata.{key}",
            )
    if len(metadata) > limits.max_metadata_keys:
        raise LimitExceededError(
            f"metadata has {len(metadata)} keys; the limit max_metadata_keys is {limits.max_metadata_keys}",
            limit="max_metadata_keys",
            maximum=limits.max_metadata_keys,
            actual=len(metadata),
            field="metadata",
        )
    depth = _metadata_depth(metadata, "metadata", 0)
    if depth > limits.max_metadata_depth:
        raise LimitExceededError(
            f"metadata nests {depth} levels; the limit max_metadata_depth is {limits.max_metadata_depth}",
            limit="max_metadata_depth",
            maximum=limits.max_metadata_depth,
            actual=depth,
            field="metadata",
        )
    encoded = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
    check_unicode(encoded, "metadata")
    size = len(encoded.encode())
    if size > limits.max_metadata_bytes:
        raise LimitExceededError(
            f"metadata is {size} bytes as JSON; the limit max_metadata_bytes is {limits.max_metadata_bytes}",
            limit="max_metadata_bytes",
            maximum=limits.max_metadata_bytes,
            actual=size,
            field="metadata",
        )
    detached: dict[str, Any] = json.loads(encoded)  # a plain-JSON copy, from the text just measured
    return detached


_NEW_MEMORY_FIELDS = frozenset(NewMemory.model_fields)


def validate_new_memory(item: object, limits: Limits, *, default_user_id: str) -> NewMemory:
    """Validate one add item (a :class:`NewMemory`, a mapping or a bare string)."""
    if isinstance(item, str):
        item = {"text": item}
    elif isinstance(item, NewMemory):
        item = item.model_dump()
    if not isinstance(item, Mapping):
        raise ValidationError(
            f"an item must be a string, a mapping or a NewMemory, not {type(item).__name__}", field="item"
        )
    unknown = sorted(set(item) - _NEW_MEMORY_FIELDS)
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}", field=str(unknown[0]))
    if "text" not in item:
        raise ValidationError("text is required", field="text")
    text = validate_text(item["text"], limits)
    tags = validate_tags(item.get("tags") or [], limits)
    metadata = validate_metadata(item.get("metadata"), limits)
    user_id = _check_scope_id("user_id", item.get("user_id") or default_user_id, limits, required=True)
    agent_id = _check_scope_id("agent_id", item.get("agent_id"), limits, required=False)
    run_id = _check_scope_id("run_id", item.get("run_id"), limits, required=False)
    values = {"text": text, "tags": tags, "metadata": metadata, "user_id": user_id, "agent_id": agent_id}
    values["run_id"] = run_id
    return trusted(NewMemory, values)


def check_scope_id(name: str, value: object, limits: Limits) -> str | None:
    """Validate an optional user_id / agent_id / run_id argument."""
    return _check_scope_id(name, value, limits, required=False)


def check_batch_size(count: int, limits: Limits, *, what: str = "items", field: str = "items") -> None:
    """Refuse a batch of more than ``limits.max_batch_size`` (``what`` names its elements)."""
    if count > limits.max_batch_size:
        raise LimitExceededError(
            f"{count} {what} given; the limit max_batch_size is {limits.max_batch_size}",
            limit="max_batch_size",
            maximum=limits.max_batch_size,
            actual=count,
            field=field,
        )


def check_top_k(top_k: object, limits: Limits) -> int:
    """Validate ``top_k``: an int in [1, max_top_k]."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValidationError("top_k must be a positive integer", field="top_k")
    if top_k > limits.max_top_k:
        raise LimitExceededError(
            f"top_k is {top_k}; the limit max_top_k is {limits.max_top_k}",
            limit="max_top_k",
            maximum=limits.max_top_k,
            actual=top_k,
            field="top_k",
        )
    return top_k


def pydantic_error_to_validation(error: pydantic.ValidationError) -> ValidationError:
    """Turn pydantic's error into ours, naming the first failing field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return ValidationError(f"{field}: {first['msg']}" if field else first["msg"], field=field)


M = TypeVar("M", bound=BaseModel)


# The slot descriptors BaseModel instances keep their state in; setting them directly is
# half the cost of ``object.__setattr__`` by name (search builds ~20 models per call).
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__
_SET_DICT = BaseModel.__dict__["__dict__"].__set__


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """Build a model from values the library produced itself (already validated), skipping validation.

    The hot path of search and list builds many models from decrypted records; this is
    ``model_construct`` without its default-filling work, for complete value dicts only.
    """
    instance = cls.__new__(cls)
    _SET_DICT(instance, values)
    _SET_FIELDS_SET(instance, set(values))
    _SET_EXTRA(instance, None)
    _SET_PRIVATE(instance, None)
    return instance


def utcnow() -> datetime:
    return datetime.now(UTC)
