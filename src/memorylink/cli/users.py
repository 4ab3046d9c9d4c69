"""``memorylink users``: login accounts of the REST server (the OAuth2 password flow).

Accounts live sealed in the store, so these commands work with the server stopped or
running. Every change is written to the server's audit log with the actor ``cli``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from memorylink.cli._errors import CliUsageError
from memorylink.cli._output import Output
from memorylink.cli._state import JsonOpt, state_of

if TYPE_CHECKING:
    from memorylink import MemoryStore
    from memorylink.server.auth import Accounts, AuditLog

__all__ = ["NEW_PASSWORD_VARIABLE", "create_users_app", "new_password", "register_audit"]

NEW_PASSWORD_VARIABLE = "MEMORYLINK_NEW_PASSWORD"


def new_password(environ: Mapping[str, str]) -> str:
    """The new account password: ``$MEMORYLINK_NEW_PASSWORD``, else a hidden prompt (asked twice) on a terminal."""
    value = environ.get(NEW_PASSWORD_VARIABLE)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CliUsageError(f"no password given: set {NEW_PASSWORD_VARIABLE} (it is only prompted for on a terminal)")
    prompted: str = typer.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    return prompted


def accounts_of(store: MemoryStore) -> tuple[Accounts, AuditLog]:
    """The server's accounts and audit log in ``store`` (imported here: they need the server extra)."""
    from memorylink.server.auth import Accounts, AuditLog

    return Accounts(store.app_data, limits=store.settings.limits), AuditLog(store.app_data)


def create_users_app() -> typer.Typer:
    """The ``users`` command group."""
    app = typer.Typer(
        help="Login accounts of the REST server: admins manage everyone, users only their own data.",
        no_args_is_help=True,
    )

    @app.command("add")
    def add(
        ctx: typer.Context,
        username: Annotated[str, typer.Argument(metavar="NAME", help="The login name.")],
        admin: Annotated[bool, typer.Option("--admin", help="Make an admin (manages users, keys, webhooks).")] = False,
        user_id: Annotated[
            str | None, typer.Option("--user-id", "-u", help="The user_id the account acts as (default: NAME).")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Create an account; the password comes from $MEMORYLINK_NEW_PASSWORD or a prompt."""
        state = state_of(ctx)
        password = new_password(state.environ)
        with state.open() as store:
            accounts, audit = accounts_of(store)
            user = accounts.add_user(username, password, role="admin" if admin else "user", user_id=user_id)
            audit.record(actor="cli", action="user.added", target=f"user:{user.username}", details={"role": user.role})
        out = Output(as_json=as_json)
        if as_json:
            out.json(user)
        else:
            out.line(f"added {user.role} {user.username} (acting as user_id {user.user_id})")

    @app.command("list")
    def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
        """List accounts (never their passwords)."""
        with state_of(ctx).open() as store:
            users = accounts_of(store)[0].users()
        out = Output(as_json=as_json)
        if as_json:
            out.json(users)
            return
        out.rows(
            ["username", "user_id", "role", "created", "password changed"],
            (
                [
                    u.username,
                    u.user_id,
                    u.role,
                    u.created_at.isoformat(timespec="seconds"),
                    u.password_changed_at.isoformat(timespec="seconds"),
                ]
                for u in users
            ),
        )

    @app.command("remove")
    def remove(
        ctx: typer.Context, username: Annotated[str, typer.Argument(metavar="NAME", help="The login name.")]
    ) -> None:
        """Remove an account: its tokens stop working and its API keys are revoked (exit code 1 if none)."""
        with state_of(ctx).open() as store:
            accounts, audit = accounts_of(store)
            revoked = accounts.remove_user(username)
            audit.record(
                actor="cli", action="user.removed", target=f"user:{username}", details={"revoked_keys": revoked}
            )
        suffix = f"; revoked {len(revoked)} API key(s): {', '.join(revoked)}" if revoked else ""
        Output().line(f"removed {username}{suffix}")

    @app.command("passwd")
    def passwd(
        ctx: typer.Context, username: Annotated[str, typer.Argument(metavar="NAME", help="The login name.")]
    ) -> None:
        """Set a new password ($MEMORYLINK_NEW_PASSWORD or a prompt); older tokens stop working."""
        state = state_of(ctx)
        password = new_password(state.environ)
        with state.open() as store:
            accounts, audit = accounts_of(store)
            accounts.set_password(username, password)
            audit.record(actor="cli", action="user.password_changed", target=f"user:{username}")
        Output().line(f"changed the password of {username}")

    return app


def register_audit(app: typer.Typer) -> None:
    """Add the top-level ``audit`` command."""

    @app.command("audit")
    def audit(
        ctx: typer.Context,
        limit: Annotated[int, typer.Option("--limit", "-n", help="Entries at most (newest first).")] = 50,
        as_json: JsonOpt = False,
    ) -> None:
        """Show the server's audit log, newest first: logins, users, keys, admins' webhook changes."""
        with state_of(ctx).open() as store:
            page = accounts_of(store)[1].page(limit=limit)
        out = Output(as_json=as_json)
        if as_json:
            out.json(page.items)
            return
        out.rows(
            ["time", "actor", "action", "target", "outcome", "request id"],
            (
                [e.time.isoformat(timespec="seconds"), e.actor, e.action, e.target, e.outcome, e.request_id]
                for e in page.items
            ),
        )
