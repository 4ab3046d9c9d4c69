"""Store-level commands: init, stats, doctor, rotate-key, export, import, demo."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from memorylink import MemoryStore
from memorylink.cli._errors import ExitCode
from memorylink.cli._output import Output
from memorylink.cli._state import NEW_PASSPHRASE_VARIABLE, JsonOpt, read_key_file, state_of
from memorylink.embedders.known import EMBEDDER_CHOICES

__all__ = ["register"]

EmbedderChoice = Literal["minilm", "minilm-onnx", "hashing"]


def register(app: typer.Typer) -> None:
    """Add the store-level commands to ``app``."""

    @app.command()
    def init(
        ctx: typer.Context,
        embedder: Annotated[
            EmbedderChoice,
            typer.Option(
                "--embedder",
                "-e",
                help="The embedding model, recorded with the store: "
                + "; ".join(f"{name}: {text}" for name, text in EMBEDDER_CHOICES.items()),
            ),
        ] = "minilm",
        as_json: JsonOpt = False,
    ) -> None:
        """Create a store, encrypted under a passphrase (prompted, or $MEMORYLINK_PASSPHRASE) or a key file."""
        state = state_of(ctx)
        with state.create(embedder) as store:
            info = store.describe(state.store_path)
        out = Output(as_json=as_json)
        if as_json:
            out.json(info)
        else:
            out.line(f"created {info.path} (embedder {info.embedder}, {info.key_kind} key {info.key_id})")

    @app.command()
    def stats(ctx: typer.Context, as_json: JsonOpt = False) -> None:
        """Counts, sizes and identity of the store."""
        with state_of(ctx).open() as store:
            result = store.stats()
        Output(as_json=as_json).stats(result)

    @app.command()
    def doctor(ctx: typer.Context, as_json: JsonOpt = False) -> None:
        """Check the store: schema, embedder, every record's integrity, index vs storage, webhook outbox."""
        with state_of(ctx).open() as store:
            report = store.check()
        Output(as_json=as_json).check(report)
        if not report.ok:
            raise typer.Exit(ExitCode.ERROR)

    @app.command("rotate-key")
    def rotate_key(
        ctx: typer.Context,
        new_key_file: Annotated[
            Path | None,
            typer.Option("--new-key-file", help="Re-encrypt under the raw key in this file (else a new passphrase)."),
        ] = None,
    ) -> None:
        """Re-encrypt the whole store under a new passphrase ($MEMORYLINK_NEW_PASSPHRASE or prompted) or key."""
        state = state_of(ctx)
        with state.open() as store:
            if new_key_file is not None:
                key_id = store.rotate_key(key=read_key_file(new_key_file, store=state.store_path))
            else:
                passphrase = state.environ.get(NEW_PASSPHRASE_VARIABLE) or state.prompt_passphrase(
                    "New passphrase", confirm=True
                )
                key_id = store.rotate_key(passphrase=passphrase)
        Output().line(f"re-encrypted under key {key_id}; open the store with the new key from now on")

    @app.command()
    def export(
        ctx: typer.Context,
        destination: Annotated[str, typer.Argument(metavar="PATH", help="A JSON Lines file, or - for stdout.")],
        plaintext: Annotated[
            bool, typer.Option("--plaintext", help="Write readable JSON instead of records sealed under the key.")
        ] = False,
        user_id: Annotated[str | None, typer.Option("--user-id", "-u", help="Only this user's memories.")] = None,
        agent_id: Annotated[str | None, typer.Option("--agent-id", "-a")] = None,
        run_id: Annotated[str | None, typer.Option("--run-id", "-r")] = None,
    ) -> None:
        """Export memories as JSON Lines (encrypted under the store's key unless --plaintext)."""
        with state_of(ctx).open() as store:
            if destination == "-":
                count = store.export(sys.stdout, plaintext=plaintext, user_id=user_id, agent_id=agent_id, run_id=run_id)
                sys.stdout.flush()
            else:
                count = store.export(
                    destination, plaintext=plaintext, user_id=user_id, agent_id=agent_id, run_id=run_id
                )
        Output().note(f"exported {count} memories" + ("" if plaintext else " (encrypted)"))

    @app.command("import")
    def import_(
        ctx: typer.Context,
        source: Annotated[str, typer.Argument(metavar="PATH", help="A memorylink export (JSON Lines); - for stdin.")],
        on_conflict: Annotated[
            Literal["skip", "replace", "new_id"],
            typer.Option("--on-conflict", help="For an id that exists: skip it, replace it, or store a copy."),
        ] = "skip",
        source_key_file: Annotated[
            Path | None,
            typer.Option("--source-key-file", help="The exporting store's raw key, if it differs from this one's."),
        ] = None,
        progress: Annotated[
            bool | None, typer.Option("--progress/--no-progress", help="Show a progress bar (default: on a terminal).")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Import an export; a bad line is reported with its line number and the rest still imported.

        An encrypted export is opened with this store's key, or with --source-key-file /
        $MEMORYLINK_IMPORT_PASSPHRASE when it came from a store with another key.
        Exit code 5 when some lines failed.
        """
        state = state_of(ctx)
        secret: dict[str, bytes | str] = {}
        if source_key_file is not None:
            secret["key"] = read_key_file(source_key_file)
        elif state.environ.get("MEMORYLINK_IMPORT_PASSPHRASE"):
            secret["passphrase"] = state.environ["MEMORYLINK_IMPORT_PASSPHRASE"]
        total = None if source == "-" else _count_lines(Path(source))
        show = sys.stderr.isatty() if progress is None else progress
        # Without a source key, an encrypted export is opened with this store's passphrase (re-derived
        # under the export's salt) or key; asked for once, for both.
        own = state.secret(kind=MemoryStore.describe(state.store_path).key_kind) if state.exists() else {}
        secret = secret or own
        with state.open(secret=own) as store, _progress(show, total) as advance:
            handle = sys.stdin if source == "-" else source
            result = store.import_(handle, on_conflict=on_conflict, on_progress=advance, **secret)  # type: ignore[arg-type]
        Output(as_json=as_json).batch(result)
        if result.failed:
            raise typer.Exit(ExitCode.PARTIAL)

    @app.command()
    def demo(
        ctx: typer.Context,
        embedder: Annotated[EmbedderChoice, typer.Option("--embedder", "-e", help="The model to use.")] = "minilm",
    ) -> None:
        """Store a dozen memories in a throwaway encrypted store and run a few filtered searches."""
        from memorylink.cli._demo import run_demo

        run_demo(Output(), embedder)


def _count_lines(path: Path) -> int | None:
    """Memory lines in an export (all lines but the header), counted cheaply for the progress bar."""
    try:
        with path.open("rb") as handle:
            return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)
    except OSError:
        return None  # the import reports it


@contextmanager
def _progress(show: bool, total: int | None) -> Iterator[object]:
    """A progress bar with rate and ETA on stderr; ``advance(done, _)`` moves it."""
    if not show:
        yield None
        return
    console = Console(stderr=True, force_terminal=True) if not sys.stderr.isatty() else Console(stderr=True)
    started = time.monotonic()
    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("import", total=total, rate="")

        def advance(done: int, _: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done, rate=f"{done / elapsed:,.0f} lines/s")

        yield advance
        bar.update(task, completed=bar.tasks[0].completed if total is None else total)
