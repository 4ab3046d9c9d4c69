"""``memorylink webhooks``: manage signed webhook endpoints and watch their deliveries."""

from __future__ import annotations

import contextlib
import threading
from typing import Annotated

import typer

from memorylink.cli._errors import ExitCode
from memorylink.cli._output import Output
from memorylink.cli._state import JsonOpt, state_of

__all__ = ["create_webhooks_app"]


def create_webhooks_app() -> typer.Typer:
    """The ``webhooks`` command group."""
    app = typer.Typer(
        help="Signed webhook endpoints: every change is delivered at least once, with retries.",
        no_args_is_help=True,
    )

    @app.command("add")
    def add(
        ctx: typer.Context,
        url: Annotated[str, typer.Argument(help="Where to POST events (http or https).")],
        event: Annotated[
            list[str] | None,
            typer.Option("--event", "-e", help="An event name or prefix such as memory.* (repeatable); default: all."),
        ] = None,
        user_id: Annotated[str | None, typer.Option("--user-id", "-u", help="Only this user's events.")] = None,
        agent_id: Annotated[str | None, typer.Option("--agent-id", "-a", help="Only this agent's events.")] = None,
        secret: Annotated[
            str | None, typer.Option("--secret", help="A whsec_ signing secret (generated if omitted).")
        ] = None,
        timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request.")] = 10.0,
        retries: Annotated[
            int | None, typer.Option("--retries", help="Attempts per event before dead-lettering.")
        ] = None,
        include_text: Annotated[
            bool, typer.Option("--include-text", help="Put memory texts in the payloads (off by default).")
        ] = False,
        description: Annotated[str | None, typer.Option("--description", help="A note for people.")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Register an endpoint; its signing secret is printed this once."""
        with state_of(ctx).open() as store:
            created = store.webhooks.add(
                url,
                events=event or None,
                user_id=user_id,
                agent_id=agent_id,
                secret=secret,
                timeout_s=timeout,
                retry={"max_attempts": retries} if retries is not None else None,
                include_text=include_text,
                description=description,
            )
        out = Output(as_json=as_json)
        if as_json:
            out.json(created)
        else:
            out.line(f"added webhook {created.id} for {created.url}")
            out.line(f"signing secret (shown once): {created.secret}")

    @app.command("list")
    def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
        """List endpoints (without their secrets)."""
        with state_of(ctx).open() as store:
            endpoints = store.webhooks.list()
        out = Output(as_json=as_json)
        if as_json:
            out.json(endpoints)
            return
        out.rows(
            ["id", "url", "events", "scope", "enabled", "secret"],
            (
                [
                    e.id,
                    e.url,
                    ", ".join(e.events) if e.events is not None else "all",
                    e.user_id or "any",
                    "yes" if e.enabled else "no",
                    e.secret_hint,
                ]
                for e in endpoints
            ),
        )

    @app.command("remove")
    def remove(
        ctx: typer.Context, webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The endpoint's id.")]
    ) -> None:
        """Remove an endpoint; it gets nothing more (exit code 1 if there was none)."""
        with state_of(ctx).open() as store:
            removed = store.webhooks.remove(webhook_id)
        Output().line(f"removed {webhook_id}" if removed else f"no webhook {webhook_id}")
        if not removed:
            raise typer.Exit(ExitCode.NOT_FOUND)

    @app.command("test")
    def test(
        ctx: typer.Context,
        webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The endpoint's id.")],
        as_json: JsonOpt = False,
    ) -> None:
        """Send one signed test event now and show the receiver's answer (exit code 4 if not delivered)."""
        with state_of(ctx).open() as store:
            result = store.webhooks.test(webhook_id)
        delivered = result.outcome.value == "delivered"
        out = Output(as_json=as_json)
        if as_json:
            out.json(
                {
                    "delivered": delivered,
                    "status": result.status,
                    "error": result.error,
                    "duration_ms": result.duration_ms,
                }
            )
        else:
            status = f"HTTP {result.status}" if result.status is not None else "no response"
            out.line(f"{'delivered' if delivered else 'not delivered'}: {status} in {result.duration_ms:.0f} ms")
            if result.error and not delivered:
                out.note(result.error)
        if not delivered:
            raise typer.Exit(ExitCode.ERROR)

    @app.command("deliveries")
    def deliveries(
        ctx: typer.Context,
        webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The endpoint's id.")],
        state: Annotated[
            str | None, typer.Option("--state", help="Only pending, delivered or dead deliveries.")
        ] = None,
        limit: Annotated[int, typer.Option("--limit", "-n", help="Rows at most.")] = 50,
        as_json: JsonOpt = False,
    ) -> None:
        """Recent delivery records of an endpoint: state, attempts, last status and error."""
        with state_of(ctx).open() as store:
            rows = store.webhooks.deliveries(webhook_id, state=state, limit=limit)
        out = Output(as_json=as_json)
        if as_json:
            out.json(rows)
            return
        out.rows(
            ["event", "type", "state", "attempts", "status", "error", "updated"],
            (
                [
                    d.event_id,
                    d.event_type,
                    d.state,
                    d.attempts,
                    d.last_status,
                    d.last_error,
                    d.updated_at.isoformat(timespec="seconds"),
                ]
                for d in rows
            ),
        )

    @app.command("deliver")
    def deliver(
        ctx: typer.Context,
        seconds: Annotated[
            float | None, typer.Option("--seconds", help="Stop after this long (default: until Ctrl-C).")
        ] = None,
    ) -> None:
        """Run the delivery worker in the foreground (short commands leave delivery to long-running ones)."""
        with state_of(ctx).open(deliver=True):
            Output().note("delivering webhook events; Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait(seconds)

    return app
