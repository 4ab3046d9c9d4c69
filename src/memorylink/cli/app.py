"""The ``memorylink`` command: a thin layer over MemoryStore (typer + rich)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from memorylink._version import __version__
from memorylink.cli import ingest, maintenance, mcp_command, memories, serve
from memorylink.cli._errors import report_error
from memorylink.cli._state import CliState
from memorylink.cli.keys import create_keys_app
from memorylink.cli.users import create_users_app, register_audit
from memorylink.cli.webhooks import create_webhooks_app

__all__ = ["create_app", "main"]


def create_app() -> typer.Typer:
    """Build the CLI application (a new one per call: no module-level state)."""
    app = typer.Typer(
        name="memorylink",
        help="memorylink: an encrypted, local-first memory store for AI agents, searched by meaning.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        store: Annotated[
            Path | None,
            typer.Option(
                "--store",
                "-s",
                help="The store directory (env MEMORYLINK_STORE; default: a per-user data directory).",
                show_default=False,
            ),
        ] = None,
        key_file: Annotated[
            Path | None,
            typer.Option(
                "--key-file",
                help="A file holding the store's raw 32-byte key (env MEMORYLINK_KEY_FILE); "
                "else $MEMORYLINK_PASSPHRASE or a prompt.",
            ),
        ] = None,
        debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
        version: Annotated[
            bool,
            typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
        ] = False,
    ) -> None:
        if debug:
            import logging

            logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        ctx.obj = CliState(store_option=store, key_file_option=key_file, debug=debug, environ=dict(os.environ))

    memories.register(app)
    maintenance.register(app)
    ingest.register(app)
    app.add_typer(create_webhooks_app(), name="webhooks")
    app.add_typer(create_users_app(), name="users")
    app.add_typer(create_keys_app(), name="keys")
    register_audit(app)
    mcp_command.register(app)
    serve.register(app)
    return app


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"memorylink {__version__}")
        raise typer.Exit()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``memorylink`` console script and ``python -m memorylink``."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("MEMORYLINK_DEBUG") == "1"
    try:
        # Standalone mode: typer reports usage errors (exit 2) and handles --help and completion.
        create_app()(args=args, prog_name="memorylink")
    except SystemExit:
        raise
    except (Exception, KeyboardInterrupt) as error:  # the one place errors become exit codes
        sys.exit(report_error(error, debug=debug))
