"""``memorylink keys``: API keys of the REST server (shown once, stored hashed, revocable)."""

from __future__ import annotations

from typing import Annotated

import typer

from memorylink.cli._errors import CliUsageError
from memorylink.cli._output import Output
from memorylink.cli._state import JsonOpt, state_of
from memorylink.cli.users import accounts_of

__all__ = ["create_keys_app"]


def create_keys_app() -> typer.Typer:
    """The ``keys`` command group."""
    app = typer.Typer(
        help="API keys of the REST server: send one as X-API-Key or Authorization: Bearer.",
        no_args_is_help=True,
    )

    @app.command("create")
    def create(
        ctx: typer.Context,
        user: Annotated[str | None, typer.Option("--user", help="The account (username) the key belongs to.")] = None,
        user_id: Annotated[
            str | None, typer.Option("--user-id", "-u", help="For a key with no account: the user_id it acts as.")
        ] = None,
        scope: Annotated[
            list[str] | None,
            typer.Option("--scope", help="read, write or admin (repeatable; default: read and write)."),
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help="A note for people (what the key is for).")] = None,
        expires_days: Annotated[
            float | None, typer.Option("--expires-days", help="Stop working after this many days (default: never).")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Create a key for an account (--user) or a bare user_id (--user-id); the key is printed this once."""
        if (user is None) == (user_id is None):
            raise CliUsageError("give exactly one of --user NAME or --user-id ID")
        with state_of(ctx).open() as store:
            accounts, audit = accounts_of(store)
            created = accounts.create_key(
                scopes=scope or ("read", "write"),
                username=user,
                user_id=user_id,
                name=name,
                expires_days=expires_days,
                created_by="cli",
            )
            audit.record(
                actor="cli",
                action="key.created",
                target=f"key:{created.id}",
                details={"scopes": created.scopes, "user_id": created.user_id},
            )
        out = Output(as_json=as_json)
        if as_json:
            out.json(created)
        else:
            out.line(f"created key {created.id} for user_id {created.user_id} ({', '.join(created.scopes)})")
            out.line(f"key (shown once): {created.key}")

    @app.command("list")
    def list_(
        ctx: typer.Context,
        user: Annotated[str | None, typer.Option("--user", help="Only this account's keys.")] = None,
        user_id: Annotated[
            str | None, typer.Option("--user-id", "-u", help="Only keys acting as this user_id.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List keys (never their secrets), revoked ones included."""
        with state_of(ctx).open() as store:
            keys = accounts_of(store)[0].keys(username=user, user_id=user_id)
        out = Output(as_json=as_json)
        if as_json:
            out.json(keys)
            return
        out.rows(
            ["id", "name", "user", "user_id", "scopes", "expires", "revoked", "last used"],
            (
                [
                    k.id,
                    k.name,
                    k.username,
                    k.user_id,
                    ", ".join(k.scopes),
                    k.expires_at.isoformat(timespec="seconds") if k.expires_at else "never",
                    k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "no",
                    k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never",
                ]
                for k in keys
            ),
        )

    @app.command("revoke")
    def revoke(
        ctx: typer.Context, key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (after mlk_).")]
    ) -> None:
        """Revoke a key: it stops working at once (exit code 1 if there is no such key)."""
        with state_of(ctx).open() as store:
            accounts, audit = accounts_of(store)
            accounts.revoke_key(key_id)
            audit.record(actor="cli", action="key.revoked", target=f"key:{key_id}")
        Output().line(f"revoked {key_id}")

    return app
