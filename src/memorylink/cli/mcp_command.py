"""``memorylink mcp``: serve the store to agent hosts over the Model Context Protocol."""

from __future__ import annotations

from typing import Annotated

import typer

from memorylink.cli._errors import CliUsageError
from memorylink.cli._output import Output
from memorylink.cli._state import state_of

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``mcp`` command to ``app``."""

    @app.command()
    def mcp(
        ctx: typer.Context,
        http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP instead of stdio.")] = False,
        host: Annotated[str, typer.Option("--host", help="HTTP address (a token is required off loopback).")] = (
            "127.0.0.1"
        ),
        port: Annotated[int, typer.Option("--port", help="HTTP port.")] = 8765,
        token: Annotated[
            str | None,
            typer.Option("--token", envvar="MEMORYLINK_MCP_TOKEN", help="Bearer token HTTP clients must send."),
        ] = None,
        user_id: Annotated[
            str | None,
            typer.Option("--user-id", "-u", envvar="MEMORYLINK_USER_ID", help="The user every tool call is scoped to."),
        ] = None,
        agent_id: Annotated[str | None, typer.Option("--agent-id", "-a", help="The agent calls are scoped to.")] = None,
        admin: Annotated[bool, typer.Option("--admin", help="Let tool calls name any user.")] = False,
    ) -> None:
        """Run an MCP server over this store (stdio by default); tools add, search, list, update and delete."""
        try:
            from memorylink.mcp import create_server, run_server
        except ImportError as error:
            raise CliUsageError(str(error)) from None
        from memorylink.events.env import configure_webhook_from_env

        state = state_of(ctx)
        with state.open(deliver=True) as store:
            created = configure_webhook_from_env(store.webhooks, state.environ)
            secret = getattr(created, "secret", None)
            if secret is not None:
                Output().note(f"webhook {created.id if created else ''} added; signing secret (shown once): {secret}")
            server = create_server(store, user_id=user_id, agent_id=agent_id, admin=admin)
            run_server(server, transport="http" if http else "stdio", host=host, port=port, bearer_token=token)
