"""How results look in a notebook (compact HTML tables) and at a prompt (short reprs).

Every value is escaped: memory texts are user data and may hold markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memorylink.models import BatchResult, Memory, Page, SearchResult, StoreStats

__all__ = [
    "batch_html",
    "memory_html",
    "memory_repr",
    "metadata_label",
    "page_html",
    "scope_label",
    "search_html",
    "short",
    "stats_html",
]

_TEXT_WIDTH = 60
_STYLE = "border-collapse:collapse;font-size:0.9em"
_CELL = "padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd"


def short(text: str, width: int = _TEXT_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _table(columns: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None) -> str:
    head = "".join(f'<th style="{_CELL}">{escape(column)}</th>' for column in columns)
    body = "".join(
        "<tr>"
        + "".join(f'<td style="{_CELL}">{escape("" if cell is None else str(cell))}</td>' for cell in row)
        + "</tr>"
        for row in rows
    )
    title = f"<caption style='text-align:left'>{escape(caption)}</caption>" if caption else ""
    return f'<table style="{_STYLE}">{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def scope_label(memory: Memory) -> str:
    """``user [agent=...] [run=...]``."""
    parts = [memory.user_id]
    if memory.agent_id:
        parts.append(f"agent={memory.agent_id}")
    if memory.run_id:
        parts.append(f"run={memory.run_id}")
    return " ".join(parts)


def metadata_label(metadata: dict[str, Any]) -> str:
    """``key=value, ...`` with JSON values."""
    return ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in metadata.items())


def _memory_row(memory: Memory) -> list[Any]:
    return [
        memory.id,
        short(memory.text),
        ", ".join(memory.tags),
        metadata_label(memory.metadata),
        scope_label(memory),
        memory.created_at.strftime("%Y-%m-%d %H:%M"),
    ]


_MEMORY_COLUMNS = ["id", "text", "tags", "metadata", "scope", "created"]


def memory_repr(memory: Memory) -> str:
    """``Memory(id=..., text=..., ...)`` without the datetime noise; unset scope fields left out."""
    fields = [f"id={memory.id!r}", f"text={short(memory.text)!r}"]
    if memory.tags:
        fields.append(f"tags={memory.tags!r}")
    if memory.metadata:
        fields.append(f"metadata={memory.metadata!r}")
    fields.append(f"user_id={memory.user_id!r}")
    if memory.agent_id is not None:
        fields.append(f"agent_id={memory.agent_id!r}")
    if memory.run_id is not None:
        fields.append(f"run_id={memory.run_id!r}")
    fields.append(f"created_at='{memory.created_at.isoformat(timespec='seconds')}'")
    fields.append(f"version={memory.version}")
    return f"Memory({', '.join(fields)})"


def memory_html(memory: Memory) -> str:
    return _table(_MEMORY_COLUMNS, [_memory_row(memory)])


def page_html(page: Page[Any]) -> str:
    from memorylink.models import Memory

    memories = [item for item in page.items if isinstance(item, Memory)]
    more = f"; next_cursor {page.next_cursor}" if page.next_cursor else ""
    return _table(_MEMORY_COLUMNS, (_memory_row(m) for m in memories), f"{len(page.items)} memories{more}")


def search_html(result: SearchResult) -> str:
    caption = (
        f"{result.query!r}: {len(result.hits)} of {result.total} candidates, "
        f"{result.query_time_ms:.1f} ms, sorted by {result.sort_by}"
    )
    rows = (
        [f"{hit.score:.3f}", f"{hit.similarity:.3f}", *_memory_row(hit.memory)[:3], scope_label(hit.memory)]
        for hit in result.hits
    )
    return _table(["score", "similarity", "id", "text", "tags", "scope"], rows, caption)


def batch_html(result: BatchResult) -> str:
    rows = ([item.index, item.id, item.error.message if item.error else "ok"] for item in result.items)
    return _table(["index", "id", "result"], rows, f"{result.succeeded} stored, {result.failed} failed")


def stats_html(stats: StoreStats) -> str:
    return _table(["", ""], stats.model_dump().items())
