"""MemoryStore writes: add, add_many, add_messages, update, delete, delete_many."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

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

ProgressCallback = Callable[[int, int], None]


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
    ) -> Memory:
        """Store one memory and return it.

        Raises:
            ValidationError: The text, tags, metadata or scope break a rule or a limit
                (the error names the field and the limit).
        """
        self._check_open()
        item = validate_new_memory(
            {
                "text": text,
                "tags": list(tags),
                "metadata": metadata,
                "user_id": user_id,
                "agent_id": agent_id,
                "run_id": run_id,
            },
            self.settings.limits,
            default_user_id=self.settings.default_user_id,
        )
        vector = self._embed([item.text])
        row, body = self._write_new([item], vector)[0]
        return self._codec.to_memory(row, body)

    def add_many(
        self,
        items: Iterable[NewMemory | Mapping[str, Any] | str],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Store many memories: one embedding pass, one transaction per chunk.

        A bad item fails alone: its result carries its index and the reason, and the
        others are stored. ``on_progress(done, total)`` is called after each chunk.

        Raises:
            LimitExceededError: More items than ``limits.max_batch_size``.
        """
        self._check_open()
        return self._add_many(list(items), {}, on_progress)

    def _add_many(
        self,
        batch: list[NewMemory | Mapping[str, Any] | str],
        prefailed: dict[int, MemoryLinkError],
        on_progress: ProgressCallback | None,
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
            written = self._write_new([item for _, item in part], vectors)
            for (position, _), (row, _body) in zip(part, written, strict=True):
                results[position] = trusted(
                    BatchItemResult, {"index": position, "id": encode_id(row.id), "error": None}
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
        new_tags = validate_tags(list(tags), limits) if tags is not None else None
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
            self._state.note_write({seq: vector} if vector is not None else None)
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
                    "tags": list(tags),
                    "metadata": {**(metadata or {}), "role": message.role, "turn": turn},
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "run_id": run,
                }
            )
        return self._add_many(items, prefailed, None)
