"""``memorylink ingest``: files, docs and code into the store, incrementally (over ``store.ingest``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from memorylink.cli._errors import ExitCode
from memorylink.cli._output import Output
from memorylink.cli._parsing import parse_meta
from memorylink.cli._state import JsonOpt, state_of
from memorylink.ingest import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_FILE_BYTES, IngestReport

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ingest command to ``app``."""

    @app.command()
    def ingest(
        ctx: typer.Context,
        paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Files and directories to ingest.")],
        tag: Annotated[
            list[str] | None, typer.Option("--tag", "-t", help="A tag for every chunk (repeatable).")
        ] = None,
        meta: Annotated[
            list[str] | None, typer.Option("--meta", "-m", help="Metadata key=value for every chunk (repeatable).")
        ] = None,
        include: Annotated[
            list[str] | None,
            typer.Option("--include", "-i", help="Only files matching this .gitignore-style pattern (repeatable)."),
        ] = None,
        exclude: Annotated[
            list[str] | None,
            typer.Option("--exclude", "-x", help="Leave out files / directories matching this pattern (repeatable)."),
        ] = None,
        no_gitignore: Annotated[bool, typer.Option("--no-gitignore", help="Do not apply .gitignore files.")] = False,
        hidden: Annotated[bool, typer.Option("--hidden", help="Also read files and directories named .*")] = False,
        no_prune: Annotated[
            bool,
            typer.Option("--no-prune", help="Keep the chunks of files no longer found under a re-ingested directory."),
        ] = False,
        chunk_size: Annotated[
            int, typer.Option("--chunk-size", min=1, help="Characters a chunk may hold at most.")
        ] = DEFAULT_CHUNK_SIZE,
        max_file_bytes: Annotated[
            int, typer.Option("--max-file-bytes", min=1, help="Skip files larger than this.")
        ] = DEFAULT_MAX_FILE_BYTES,
        user_id: Annotated[
            str | None, typer.Option("--user-id", "-u", envvar="MEMORYLINK_USER_ID", help="Scope of the chunks.")
        ] = None,
        agent_id: Annotated[str | None, typer.Option("--agent-id", "-a", help="Agent scope of the chunks.")] = None,
        run_id: Annotated[str | None, typer.Option("--run-id", "-r", help="Run scope of the chunks.")] = None,
        progress: Annotated[
            bool | None, typer.Option("--progress/--no-progress", help="Show a progress bar (default: on a terminal).")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Ingest text, Markdown and source files as searchable chunks; unchanged files are skipped.

        Directories are walked recursively (.gitignore respected, hidden files and .git
        skipped). Re-running updates changed files, drops the chunks of deleted ones and
        writes nothing for the rest. Exit code 5 when some files failed.
        """
        show = sys.stderr.isatty() if progress is None else progress
        with state_of(ctx).open() as store, _progress(show) as advance:
            report = store.ingest(
                paths,
                user_id=user_id,
                agent_id=agent_id,
                run_id=run_id,
                tags=tag or (),
                metadata=parse_meta(meta),
                include=include,
                exclude=exclude,
                respect_gitignore=not no_gitignore,
                include_hidden=hidden,
                prune=not no_prune,
                chunk_size=chunk_size,
                max_file_bytes=max_file_bytes,
                on_progress=advance,
            )
        _print(Output(as_json=as_json), report)
        if report.errors:
            raise typer.Exit(ExitCode.PARTIAL)


def _print(out: Output, report: IngestReport) -> None:
    if out.as_json:
        out.json(report)
        return
    out.line(
        f"{report.files_seen} files: {report.files_added} added, {report.files_replaced} replaced, "
        f"{report.files_unchanged} unchanged, {report.files_removed} removed, {len(report.skipped)} skipped, "
        f"{len(report.errors)} failed; {report.chunks_added} chunks added, {report.chunks_deleted} deleted"
    )
    for skipped in report.skipped:
        out.note(f"skipped {skipped.path}: {skipped.reason}")
    for failed in report.errors:
        out.note(f"failed {failed.path}: {failed.error.message}")


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A files progress bar with rate and ETA on stderr."""
    if not show:
        yield None
        return
    console = Console(stderr=True, force_terminal=True) if not sys.stderr.isatty() else Console(stderr=True)
    started = time.monotonic()
    columns = (
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("ingest", total=None, rate="")

        def advance(done: int, total: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done, total=total, rate=f"{done / elapsed:,.1f} files/s")

        yield advance
