"""How results reach the terminal: rich tables for people, JSON (``--json``) for scripts.

Only the CLI writes to stdout; the library never does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from memorylink import BatchResult, ImportResult, Memory, MemoryVersion, Page, SearchResult, StoreStats
from memorylink._display import metadata_label, scope_label, short
from memorylink._inspect import StoreCheck

__all__ = ["Output"]

_TEXT_WIDTH = 72


def _short(text: str) -> str:
    return short(text, _TEXT_WIDTH)


class Output:
    """Writes one command's results; ``as_json`` switches every method to JSON on stdout."""

    def __init__(self, *, as_json: bool = False, console: Console | None = None) -> None:
        self.as_json = as_json
        self.console = console or Console(highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, highlight=False)

    # -- primitives -------------------------------------------------------------------

    def json(self, value: BaseModel | Sequence[BaseModel] | dict[str, Any] | list[Any]) -> None:
        if isinstance(value, BaseModel):
            text = value.model_dump_json(indent=2)
        elif isinstance(value, list | tuple) and all(isinstance(item, BaseModel) for item in value):
            text = json.dumps([item.model_dump(mode="json") for item in value], indent=2, ensure_ascii=False)
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        self.console.print(text, markup=False)

    def note(self, text: str) -> None:
        """A remark for people (stderr), never mixed into JSON output."""
        self.err.print(text, markup=False)

    # -- memories ---------------------------------------------------------------------

    def memory(self, memory: Memory) -> None:
        if self.as_json:
            self.json(memory)
            return
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        table.add_row("id", memory.id)
        table.add_row("text", memory.text)
        table.add_row("tags", ", ".join(memory.tags) or "-")
        table.add_row("metadata", metadata_label(memory.metadata) or "-")
        table.add_row("scope", scope_label(memory))
        table.add_row("created", memory.created_at.isoformat(timespec="seconds"))
        table.add_row("updated", f"{memory.updated_at.isoformat(timespec='seconds')} (version {memory.version})")
        self.console.print(table)

    def memories(self, page: Page[Memory]) -> None:
        if self.as_json:
            self.json(page)
            return
        if not page.items:
            self.note("no memories")
            return
        table = Table(title=None)
        table.add_column("id", no_wrap=True)
        table.add_column("created", no_wrap=True)
        table.add_column("tags")
        table.add_column("text", overflow="fold")
        for memory in page.items:
            table.add_row(
                memory.id, memory.created_at.strftime("%Y-%m-%d %H:%M"), ", ".join(memory.tags), _short(memory.text)
            )
        self.console.print(table)
        if page.next_cursor:
            self.note(f"more: --cursor {page.next_cursor}")

    def search(self, result: SearchResult) -> None:
        if self.as_json:
            self.json(result)
            return
        if not result.hits:
            self.note(f"no memory matched ({result.total} candidates in scope)")
            return
        table = Table()
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("sim", justify="right", no_wrap=True)
        table.add_column("id", no_wrap=True)
        table.add_column("tags")
        table.add_column("text", overflow="fold")
        for hit in result.hits:
            table.add_row(
                f"{hit.score:.3f}",
                f"{hit.similarity:.3f}",
                hit.memory.id,
                ", ".join(hit.memory.tags),
                _short(hit.memory.text),
            )
            for related in hit.related:
                table.add_row(
                    "", f"{related.similarity:.3f}", f"  ↳ {related.memory.id}", "", _short(related.memory.text)
                )
        self.console.print(table)
        self.note(f"{len(result.hits)} of {result.total} candidates in {result.query_time_ms:.1f} ms")

    def history(self, versions: Iterable[MemoryVersion]) -> None:
        items = list(versions)
        if self.as_json:
            self.json(items)
            return
        table = Table()
        table.add_column("version", justify="right")
        table.add_column("changed", no_wrap=True)
        table.add_column("tags")
        table.add_column("text", overflow="fold")
        for version in items:
            table.add_row(
                str(version.version),
                version.changed_at.isoformat(timespec="seconds"),
                ", ".join(version.tags),
                _short(version.text),
            )
        self.console.print(table)

    def batch(self, result: BatchResult | ImportResult) -> None:
        if self.as_json:
            self.json(result)
            return
        if isinstance(result, ImportResult):
            self.line(f"imported {result.imported}, skipped {result.skipped}, failed {result.failed}")
            for problem in result.errors:
                message = problem.error.message
                self.note(message if message.startswith("line ") else f"line {problem.line}: {message}")
            return
        self.line(f"added {result.succeeded}, failed {result.failed}")
        for item in result.items:
            if item.error is not None:
                self.note(f"item {item.index}: {item.error.message}")

    # -- maintenance ------------------------------------------------------------------

    def stats(self, stats: StoreStats) -> None:
        if self.as_json:
            self.json(stats)
            return
        self.pairs(stats.model_dump())

    def check(self, report: StoreCheck) -> None:
        if self.as_json:
            self.json(report)
            return
        table = Table()
        table.add_column("check")
        table.add_column("ok")
        table.add_column("detail", overflow="fold")
        for item in report.checks:
            table.add_row(item.name, "ok" if item.ok else "FAILED", item.detail)
        self.console.print(table)

    def pairs(self, values: dict[str, Any]) -> None:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in values.items():
            table.add_row(key, "-" if value is None else str(value))
        self.console.print(table)

    def rows(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        table = Table()
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*("-" if cell is None else str(cell) for cell in row))
        self.console.print(table)
