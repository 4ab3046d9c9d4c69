"""MemoryStore writes: add, add_many, add_messages, update, delete, delete_many."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import pydantic

from memorylink._core import _ID_RETRIES, StoreCore, _scope_of
from memorylink._records import Body
from memorylink.errors import (
    MemoryLinkError,
    NotFoundError,
    ValidationError,
)
from memorylink.events.models import Event
from memorylink.filters import Filter
from memorylink.ids import decode_id, encode_id
from memorylink.models import (
    BatchItemResult,
    BatchResult,
    ErrorInfo,
    Memory,
    Message,
    NewMemory,
    check_batch_size,
    pydantic_error_to_validation,
    trusted,
    validate_metadata,
    validate_new_memory,
    validate_tags,
    validate_text,
)
from memorylink.storage.base import MemoryRow, Op

if TYPE_CHECKING:
    from memorylink._reads import StoreReads

ProgressCallback = Callable[[int, int], None]
_DUPLICATE_POOL = 5  # nearest memories checked for an identical text before the threshold decides


class StoreWrites(StoreCore):
    """The write half of MemoryStore."""

    # -- writes ----------------------------------------------------------------------------

    def add(
        self,
        text: str,
        *,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        dedupe: bool = False,
    ) -> Memory:
        """Store one memory and return it.

        With ``dedupe=True``, a memory of exactly the same scope (user, agent and run) whose
        text is identical, or whose cosine similarity is at least ``settings.dedupe_threshold``,
        is returned instead and nothing is stored (no ``memory.created`` event).

        Raises:
            ValidationError: The text, tags, metadata or scope break a rule or a limit
                (the error names the field and the limit).
        """
        self._check_open()
        item = validate_new_memory(
            {
                "text": text,
                "tags": _listed(tags),
                "metadata": metadata,
                "user_id": user_id,
                "agent_id": agent_id,
                "run_id": run_id,
            },
            self.settings.limits,
            default_user_id=self.settings.default_user_id,
        )
        vector = self._embed([item.text])
        if dedupe:
            existing = self._duplicate_in_store(item, vector[0])
            if existing is not None:
                return existing
        row, body = self._write_new([item], vector)[0]
        return self._codec.to_memory(row, body)

    def _duplicate_in_store(self, item: NewMemory, vector: npt.NDArray[np.float32]) -> Memory | None:
        """The stored memory of ``item``'s exact scope that ``item`` duplicates, if any."""
        exact_scope = {
            "agent_id": item.agent_id if item.agent_id is not None else {"exists": False},
            "run_id": item.run_id if item.run_id is not None else {"exists": False},
        }
        # A plain vector search in the item's scope (so a subscriber to memory.searched sees it).
        hits = (
            cast("StoreReads", self)
            .search_by_vector(
                vector, top_k=_DUPLICATE_POOL, sort_by="similarity", filter=exact_scope, user_id=item.user_id
            )
            .hits
        )
        for hit in hits:
            if hit.memory.text == item.text:
                return hit.memory
        if hits and hits[0].similarity >= self.settings.dedupe_threshold:
            return hits[0].memory
        return None

    def add_many(
        self,
        items: Iterable[NewMemory | Mapping[str, Any] | str],
        *,
        on_progress: ProgressCallback | None = None,
        dedupe: bool = False,
    ) -> BatchResult:
        """Store many memories: one embedding pass, one transaction per chunk.

        A bad item fails alone: its result carries its index and the reason, and the
        others are stored. ``on_progress(done, total)`` is called after each chunk.

        With ``dedupe=True`` each item is checked as by ``add(..., dedupe=True)``, against the
        store and against the items before it in the batch: a duplicate is not stored, and
        its result has the id of the memory it duplicates and ``deduplicated=True``.

        Raises:
            LimitExceededError: More items than ``limits.max_batch_size``.
        """
        self._check_open()
        return self._add_many(list(items), {}, on_progress, dedupe=dedupe)

    def _add_many(
        self,
        batch: list[NewMemory | Mapping[str, Any] | str],
        prefailed: dict[int, MemoryLinkError],
        on_progress: ProgressCallback | None,
        *,
        dedupe: bool = False,
    ) -> BatchResult:
        check_batch_size(len(batch), self.settings.limits)
        results: list[BatchItemResult | None] = [None] * len(batch)
        valid: list[tuple[int, NewMemory]] = []
        for position, raw in enumerate(batch):
            if position in prefailed:
                results[position] = BatchItemResult(index=position, error=ErrorInfo(**prefailed[position].to_dict()))
                continue
            try:
                valid.append(
                    (
                        position,
                        validate_new_memory(raw, self.settings.limits, default_user_id=self.settings.default_user_id),
                    )
                )
            except MemoryLinkError as error:
                results[position] = BatchItemResult(index=position, error=ErrorInfo(**error.to_dict()))
        chunk = self.settings.write_chunk_size
        done = len(batch) - len(valid)
        for start in range(0, len(valid), chunk):
            part = valid[start : start + chunk]
            vectors = self._embed([item.text for _, item in part])
            duplicates: dict[int, str | int] = {}  # batch position -> existing id, or the position it repeats
            if dedupe:
                duplicates = self._duplicates_in_part(part, vectors)
            keep = [offset for offset, (position, _) in enumerate(part) if position not in duplicates]
            written = self._write_new([part[offset][1] for offset in keep], vectors[keep]) if keep else []
            for offset, (row, _body) in zip(keep, written, strict=True):
                position = part[offset][0]
                results[position] = trusted(
                    BatchItemResult,
                    {"index": position, "id": encode_id(row.id), "error": None, "deduplicated": False},
                )
            for position, original in duplicates.items():
                earlier = results[original] if isinstance(original, int) else None
                existing_id = original if isinstance(original, str) else (earlier.id if earlier else None)
                results[position] = trusted(
                    BatchItemResult, {"index": position, "id": existing_id, "error": None, "deduplicated": True}
                )
            done += len(part)
            if on_progress is not None:
                on_progress(done, len(batch))
        if on_progress is not None and not valid:
            on_progress(len(batch), len(batch))
        final = [r for r in results if r is not None]
        result = BatchResult(
            succeeded=sum(1 for r in final if r.ok), failed=sum(1 for r in final if not r.ok), items=final
        )
        # One memory.error per rejected item (its position and why; never its text), then the summary.
        failures: list[tuple[str, tuple[str | None, str | None, str | None], dict[str, Any]]] = [
            (
                "memory.error",
                (None, None, None),
                {"operation": "add_many", "index": item.index, **item.error.model_dump()},
            )
            for item in final
            if item.error is not None
        ]
        summary = {"succeeded": result.succeeded, "failed": result.failed, "ids": result.ids}
        self._emit_all([*failures, ("batch.completed", (None, None, None), summary)])
        return result

    def _duplicates_in_part(
        self, part: list[tuple[int, NewMemory]], vectors: npt.NDArray[np.float32]
    ) -> dict[int, str | int]:
        """Items of one write chunk that repeat a stored memory (its id) or an earlier item (its position)."""
        found: dict[int, str | int] = {}
        threshold = self.settings.dedupe_threshold
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        units = vectors / norms[:, None]
        kept: list[int] = []  # offsets in part of the items that will be stored
        for offset, (position, item) in enumerate(part):
            scope = (item.user_id, item.agent_id, item.run_id)
            earlier = None
            for other in kept:
                candidate = part[other][1]
                if (candidate.user_id, candidate.agent_id, candidate.run_id) != scope:
                    continue
                if candidate.text == item.text or float(units[offset] @ units[other]) >= threshold:
                    earlier = part[other][0]
                    break
            if earlier is not None:
                found[position] = earlier
                continue
            existing = self._duplicate_in_store(item, vectors[offset])
            if existing is not None:
                found[position] = existing.id
                continue
            kept.append(offset)
        return found

    def update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Memory:
        """Change a memory's text, tags and/or metadata (each replaced whole); keeps history.

        Re-embeds only when the text changes. The scope arguments restrict which memory
        may be updated (a memory outside them is "not found").

        Raises:
            NotFoundError: No such memory in scope.
            ValidationError: Bad new values.
        """
        self._check_open()
        limits = self.settings.limits
        new_text = validate_text(text, limits) if text is not None else None
        new_tags = validate_tags(_listed(tags), limits) if tags is not None else None
        new_metadata = validate_metadata(metadata, limits) if metadata is not None else None
        scope = self._scope(user_id, agent_id, run_id)
        vector: npt.NDArray[np.float32] | None = None
        for _ in range(_ID_RETRIES):
            row, body = self._load_row(memory_id, scope)
            changed = Body(
                new_text if new_text is not None else body.text,
                tuple(new_tags) if new_tags is not None else body.tags,
                new_metadata if new_metadata is not None else body.metadata,
                body.user_id,
                body.agent_id,
                body.run_id,
            )
            if changed == body:
                return self._codec.to_memory(row, body)
            text_changed = changed.text != body.text
            if text_changed and vector is None:
                vector = self._embed([changed.text])[0]
            now_ms = max(int(time.time() * 1000), row.updated_at)
            new_row = self._codec.memory_row(row.id, changed, updated_at=now_ms, version=row.version + 1)
            fields = [
                name
                for name, before, after in (
                    ("text", body.text, changed.text),
                    ("tags", body.tags, changed.tags),
                    ("metadata", body.metadata, changed.metadata),
                )
                if before != after
            ]
            with self._storage.transaction():
                if not self._storage.update_memory(new_row, row.version):
                    continue  # changed by someone else meanwhile: re-read and apply again
                self._storage.insert_history([self._codec.history_row(row.id, row.version, row.updated_at, body)])
                if text_changed:
                    assert vector is not None
                    seq = self._storage.append_changes([(row.id, Op.PUT, self._codec.seal_vector(row.id, vector))])
                else:
                    seq = self._storage.append_changes([(row.id, Op.TOUCH, None)])
                events = self._stage(partial(self._updated_events, memory_id, new_row, changed, fields))
            self._state.note_write({seq: vector} if vector is not None else None, {seq: (new_row, changed)})
            self._publish(events)
            self._state.maybe_checkpoint()
            return self._codec.to_memory(new_row, changed)
        raise MemoryLinkError(f"memory {memory_id!r} kept changing under concurrent updates; try again")

    def _updated_events(
        self, memory_id: str, row: MemoryRow, body: Body, fields: list[str]
    ) -> list[tuple[Event, dict[str, Any] | None]]:
        data = {"id": memory_id, "version": row.version, "changed": fields}
        return [(self._event("memory.updated", _scope_of(body), data), {"text": body.text})]

    def delete(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> bool:
        """Delete a memory and its history. Returns False if there was none (in scope)."""
        self._check_open()
        scope = self._scope(user_id, agent_id, run_id)
        try:
            _, body = self._load_row(memory_id, scope)
        except NotFoundError:
            return False
        label = decode_id(memory_id)
        return bool(self._delete_labels([label], {label: _scope_of(body)}))

    def delete_many(
        self,
        ids: Iterable[str] | None = None,
        *,
        filter: Mapping[str, Any] | Filter | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Delete the given ids, or every memory matching ``filter`` in scope; returns the exact count.

        With neither ids nor filter nor a scope nothing is deleted (pass ``filter={}`` to
        delete everything on purpose).
        """
        self._check_open()
        scope = self._scope(user_id, agent_id, run_id)
        if ids is not None and filter is not None:
            raise ValidationError("give ids or filter, not both", field="filter")
        scopes: dict[int, tuple[str | None, str | None, str | None]] = {}
        if ids is not None:
            wanted = [decode_id(i) for i in ids]
            check_batch_size(len(wanted), self.settings.limits, what="ids", field="ids")
            rows = self._storage.get_memories(wanted)
            for label, row in rows.items():
                owner = _scope_of(self._codec.open_row(row))
                if scope.contains(*owner):
                    scopes[label] = owner
            labels = [label for label in wanted if label in scopes]
        else:
            if filter is None and scope.is_empty():
                return 0
            parsed = Filter.parse(filter)
            catalog = self._catalog()
            with self._state.lock.read():
                candidates = catalog.candidates(scope, parsed)
                labels = list(catalog.entries) if candidates is None else candidates.tolist()
                for label in labels:
                    entry = catalog.entries.get(label)
                    if entry is not None:
                        scopes[label] = (entry.user_id, entry.agent_id, entry.run_id)
        return len(self._delete_labels(labels, scopes))

    def add_messages(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """Store a conversation as memories of one run, in turn order.

        Each message (``{"role": ..., "content": ...}``) becomes a memory whose metadata has
        ``role`` and ``turn`` (0-based). ``run_id`` defaults to a fresh id, returned in every
        memory; read the conversation back with ``list(run_id=..., order="created_asc")``.
        """
        self._check_open()
        run = run_id if run_id is not None else f"run-{encode_id(self._ids.next())}"
        items: list[NewMemory | Mapping[str, Any] | str] = []
        prefailed: dict[int, MemoryLinkError] = {}
        for turn, raw in enumerate(messages):
            try:
                message = raw if isinstance(raw, Message) else Message.model_validate(raw)
            except pydantic.ValidationError as error:
                prefailed[turn] = pydantic_error_to_validation(error)
                items.append("")
                continue
            items.append(
                {
                    "text": message.content,
                    "tags": _listed(tags),
                    "metadata": {**(metadata or {}), "role": message.role, "turn": turn},
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "run_id": run,
                }
            )
        return self._add_many(items, prefailed, None)


def _listed(tags: object) -> object:
    """``tags`` as a list when it is an iterable of any kind; anything else as given, for the check to name."""
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Iterable):
        return tags
    return list(tags)
