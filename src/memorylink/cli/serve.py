"""``memorylink serve``: the REST server over this store (uvicorn)."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from memorylink.cli._errors import CliUsageError
from memorylink.cli._output import Output
from memorylink.cli._state import state_of

if TYPE_CHECKING:
    import uvicorn

    from memorylink import MemoryStore

__all__ = ["register"]

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command()
    def serve(
        ctx: typer.Context,
        host: Annotated[
            str, typer.Option("--host", envvar="MEMORYLINK_HOST", help="Address to bind (--no-auth: loopback only).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", envvar="MEMORYLINK_PORT", help="Port to bind.")] = 8080,
        no_auth: Annotated[
            bool,
            typer.Option("--no-auth", help="Serve without credentials, every caller an admin (loopback only)."),
        ] = False,
        no_auth_user: Annotated[
            str, typer.Option("--no-auth-user", help="The user_id --no-auth callers act as.")
        ] = "default",
        cors_origin: Annotated[
            list[str] | None,
            typer.Option("--cors-origin", help="An origin browsers may call the API from (repeatable)."),
        ] = None,
        max_body_bytes: Annotated[
            int, typer.Option("--max-body-bytes", min=1, help="Largest request body accepted (else 413).")
        ] = 1024 * 1024,
        metrics_public: Annotated[
            bool, typer.Option("--metrics-public", help="Serve /metrics without credentials.")
        ] = False,
        private_webhook_urls: Annotated[
            Literal["admins", "everyone"],
            typer.Option(
                "--private-webhook-urls",
                help="Who may point a webhook at a loopback, private or link-local address: admins or everyone.",
            ),
        ] = "admins",
        log_level: Annotated[str, typer.Option("--log-level", help=f"One of {', '.join(LOG_LEVELS)}.")] = "info",
        log_json: Annotated[
            bool, typer.Option("--log-json", help="Log one JSON object per line (request fields as keys).")
        ] = False,
        malloc_trim_s: Annotated[
            float,
            typer.Option(
                "--malloc-trim-s",
                min=0,
                help="Give freed C heap pages back to the OS this often (glibc; 0: never).",
            ),
        ] = 10.0,
        malloc_arenas: Annotated[
            int,
            typer.Option(
                "--malloc-arenas",
                min=0,
                help="At most this many glibc malloc arenas (0: glibc's default; MALLOC_ARENA_MAX wins).",
            ),
        ] = 2,
    ) -> None:
        """Run the REST API (docs at /docs) until interrupted; each request needs an API key or a token."""
        try:
            import uvicorn

            from memorylink.server import ServerSettings, create_app
            from memorylink.server.heap import MallocTrimmer, limit_malloc_arenas
            from memorylink.server.settings import is_loopback
            from memorylink.server.streams import StreamingServer
        except ImportError as error:
            raise CliUsageError(str(error)) from None
        if log_level not in LOG_LEVELS:
            raise CliUsageError(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
        if no_auth and not is_loopback(host):
            raise CliUsageError(
                f"--no-auth serves every caller as an admin; it is refused on {host!r}, which other machines "
                "can reach. Bind 127.0.0.1, or create an API key (`memorylink keys create`) and drop --no-auth"
            )
        settings = ServerSettings(
            host=host,
            port=port,
            no_auth=no_auth,
            no_auth_user_id=no_auth_user,
            cors_origins=list(cors_origin or []),
            max_body_bytes=max_body_bytes,
            metrics_public=metrics_public,
            private_webhook_urls=private_webhook_urls,
        )
        _log_to_stderr(log_level, as_json=log_json)
        if malloc_arenas:
            limit_malloc_arenas(malloc_arenas)  # before the store's and the server's threads start
        out = Output()
        state = state_of(ctx)
        # The event feed (SSE, WebSocket) reads the outbox, so this process always writes it. No
        # memory map: a long-running server's RSS would grow with the file (docs/server.md, "Memory").
        with state.open(deliver=True, outbox="always", mmap_bytes=0) as store:
            if not no_auth and _no_credentials_yet(store):
                out.note(
                    "no users or API keys yet, so nobody can sign in; create an admin key (the server may keep "
                    "running): `memorylink keys create --user-id admin --scope admin`, or an account for the "
                    "password flow: `memorylink users add NAME --admin`"
                )
            app = create_app(store, settings)
            where = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
            out.note(f"memorylink REST API at {where}" + (" (no authentication)" if no_auth else ""))
            out.note(f"docs at {where}/docs; store {store.path}")
            config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)
            with MallocTrimmer(malloc_trim_s):
                _server_class(StreamingServer)(config).run()
        # Reached after SIGINT / SIGTERM too: the store above was closed (index snapshot written).


def _server_class(base: type[uvicorn.Server]) -> type[uvicorn.Server]:
    """``base`` (StreamingServer: streams end when shutdown begins) that returns after a signal.

    uvicorn re-raises SIGINT / SIGTERM once it has shut down, which would end the process
    before the store is closed; this server stops the same graceful way and then returns.
    """

    class Server(base):  # type: ignore[misc, valid-type]
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server


# The request log line's extra fields (see memorylink.server.middleware).
REQUEST_FIELDS = ("method", "route", "status", "duration_ms", "request_id")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the request fields when present."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _log_to_stderr(level: str, *, as_json: bool) -> None:
    """Send memorylink's logs (one line per request among them) to stderr, unless logging is set up."""
    logger = logging.getLogger("memorylink")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        formatter = (
            JsonLogFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.setLevel(level.upper())


def _no_credentials_yet(store: MemoryStore) -> bool:
    from memorylink.server.auth import Accounts

    accounts = Accounts(store.app_data, limits=store.settings.limits)
    return not accounts.users() and not accounts.keys(include_revoked=False)
