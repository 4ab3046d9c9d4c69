"""Commands on memories: add, get, list, update, delete, history, search."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from memorylink.cli._errors import CliUsageError, ExitCode
from memorylink.cli._output import Output
from memorylink.cli._parsing import parse_meta, parse_where, read_text_argument
from memorylink.cli._state import JsonOpt, state_of
from memorylink.errors import NotFoundError

__all__ = ["register"]

UserOpt = Annotated[
    str | None,
    typer.Option("--user-id", "-u", envvar="MEMORYLINK_USER_ID", help="Scope: only this user's memories."),
]
AgentOpt = Annotated[str | None, typer.Option("--agent-id", "-a", help="Scope: only this agent's memories.")]
RunOpt = Annotated[str | None, typer.Option("--run-id", "-r", help="Scope: only this run's memories.")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", "-t", help="A tag (repeat for several).")]
MetaOpt = Annotated[
    list[str] | None,
    typer.Option("--meta", "-m", help="Metadata key=value (repeatable); JSON values such as 42 or true are typed."),
]
WhereOpt = Annotated[
    str | None,
    typer.Option("--where", "-w", help="A filter in the filter language, as JSON (@file or - for stdin)."),
]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Created at or after (ISO date or datetime).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Created before (ISO date or datetime).")]
AnyTagOpt = Annotated[list[str] | None, typer.Option("--tag", "-t", help="Having any of these tags.")]
MatchMetaOpt = Annotated[list[str] | None, typer.Option("--meta", "-m", help="Metadata key=value to match.")]


def _selection(
    where: str | None,
    tag: list[str] | None,
    meta: list[str] | None,
    since: str | None,
    until: str | None,
    scope: tuple[str | None, str | None, str | None],
) -> dict[str, Any]:
    """The filter, shortcuts and scope keywords that list and search share."""
    user_id, agent_id, run_id = scope
    return {
        "filter": parse_where(where),
        "tags": tag,
        "metadata": parse_meta(meta),
        "date_range": (since, until) if since or until else None,
        "user_id": user_id,
        "agent_id": agent_id,
        "run_id": run_id,
    }


def register(app: typer.Typer) -> None:
    """Add the memory commands to ``app``."""

    @app.command()
    def add(
        ctx: typer.Context,
        text: Annotated[str | None, typer.Argument(help="The memory's text; omit it or give - to read stdin.")] = None,
        tag: TagOpt = None,
        meta: MetaOpt = None,
        user_id: UserOpt = None,
        agent_id: AgentOpt = None,
        run_id: RunOpt = None,
        dedupe: Annotated[
            bool,
            typer.Option("--dedupe", help="Keep a memory of this scope with the same or a near-identical text."),
        ] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Store one memory and print its id."""
        content = read_text_argument(text)
        metadata = parse_meta(meta)
        with state_of(ctx).open() as store:
            newest = store.list(limit=1, user_id=user_id, agent_id=agent_id, run_id=run_id).items if dedupe else []
            memory = store.add(
                content,
                tags=tag or (),
                metadata=metadata,
                user_id=user_id,
                agent_id=agent_id,
                run_id=run_id,
                dedupe=dedupe,
            )
        out = Output(as_json=as_json)
        if newest and memory.id <= newest[0].id:  # ids sort by creation: an existing memory came back
            out.note(f"a memory with this text exists: {memory.id} (nothing stored)")
        if as_json:
            out.memory(memory)
        else:
            out.line(memory.id)

    @app.command()
    def get(
        ctx: typer.Context,
        memory_id: Annotated[str, typer.Argument(metavar="ID", help="The memory's id.")],
        user_id: UserOpt = None,
        agent_id: AgentOpt = None,
        run_id: RunOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Show one memory (exit code 1 if there is none in scope)."""
        with state_of(ctx).open() as store:
            memory = store.get(memory_id, user_id=user_id, agent_id=agent_id, run_id=run_id)
        if memory is None:
            raise NotFoundError(memory_id)
        Output(as_json=as_json).memory(memory)

    @app.command("list")
    def list_(
        ctx: typer.Context,
        where: WhereOpt = None,
        tag: AnyTagOpt = None,
        meta: MatchMetaOpt = None,
        since: SinceOpt = None,
        until: UntilOpt = None,
        order: Annotated[
            Literal["created_desc", "created_asc", "updated_desc", "updated_asc"],
            typer.Option("--order", help="Sort order."),
        ] = "created_desc",
        limit: Annotated[int, typer.Option("--limit", "-n", help="Memories per page.")] = 20,
        cursor: Annotated[str | None, typer.Option("--cursor", help="Continue after this page cursor.")] = None,
        user_id: UserOpt = None,
        agent_id: AgentOpt = None,
        run_id: RunOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List memories, newest first, one page at a time (the next page's cursor goes to stderr)."""
        with state_of(ctx).open() as store:
            page = store.list(
                order=order,
                limit=limit,
                cursor=cursor,
                **_selection(where, tag, meta, since, until, (user_id, agent_id, run_id)),
            )
        Output(as_json=as_json).memories(page)
        if not page.items:
            raise typer.Exit(ExitCode.NOT_FOUND)

    @app.command()
    def search(
        ctx: typer.Context,
        query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
        top_k: Annotated[int, typer.Option("--top-k", "-k", help="Hits at most.")] = 10,
        threshold: Annotated[
            float | None, typer.Option("--threshold", help="Drop hits below this similarity (0-1).")
        ] = None,
        sort: Annotated[
            Literal["relevance", "similarity", "date"],
            typer.Option("--sort", help="relevance (similarity blended with recency), similarity, or date."),
        ] = "relevance",
        where: WhereOpt = None,
        tag: AnyTagOpt = None,
        meta: MatchMetaOpt = None,
        since: SinceOpt = None,
        until: UntilOpt = None,
        similar: Annotated[bool, typer.Option("--similar", help="Attach each hit's nearest neighbours.")] = False,
        mode: Annotated[
            Literal["hybrid", "vector", "keyword"],
            typer.Option("--mode", help="hybrid (words and meaning), vector (meaning) or keyword (words, BM25)."),
        ] = "hybrid",
        mmr: Annotated[bool, typer.Option("--mmr", help="Diversify: near-duplicates do not fill the top.")] = False,
        user_id: UserOpt = None,
        agent_id: AgentOpt = None,
        run_id: RunOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Find memories by words and meaning (exit code 1 when nothing matches)."""
        with state_of(ctx).open() as store:
            result = store.search(
                query,
                top_k=top_k,
                threshold=threshold,
                sort_by=sort,
                include_similar=similar,
                mode=mode,
                mmr=mmr,
                **_selection(where, tag, meta, since, until, (user_id, agent_id, run_id)),
            )
        Output(as_json=as_json).search(result)
        if not result.hits:
            raise typer.Exit(ExitCode.NOT_FOUND)

    @app.command()
    def update(
        ctx: typer.Context,
        memory_id: Annotated[str, typer.Argument(metavar="ID", help="The memory's id.")],
        text: Annotated[str | None, typer.Option("--text", help="New text (re-embeds the memory).")] = None,
        tag: Annotated[
            list[str] | None, typer.Option("--tag", "-t", help="Replace the tags with these (repeatable).")
        ] = None,
        clear_tags: Annotated[bool, typer.Option("--clear-tags", help="Remove every tag.")] = False,
        meta: Annotated[
            list[str] | None, typer.Option("--meta", "-m", help="Replace the metadata with these key=value pairs.")
        ] = None,
        clear_meta: Annotated[bool, typer.Option("--clear-meta", help="Remove all metadata.")] = False,
        user_id: UserOpt = None,
        agent_id: AgentOpt = None,
        run_id: RunOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Change a memory's text, tags or metadata; the old version stays in its history."""
        if text is None and tag is None and meta is None and not clear_tags and not clear_meta:
            raise CliUsageError("nothing to change: give --text, --tag, --meta, --clear-tags or --clear-meta")
        if tag and clear_tags:
            raise CliUsageError("--tag and --clear-tags contradict each other")
        if meta and clear_meta:
            raise CliUsageError("--meta and --clear-meta contradict each other")
        tags = [] if clear_tags else tag
        metadata = {} if clear_meta else parse_meta(meta)
        with state_of(ctx).open() as store:
            memory = store.update(
                memory_id, text=text, tags=tags, metadata=metadata, user_id=user_id, agent_id=agent_id, run_id=run_id
            )
        Output(as_json=as_json).memory(memory)

    @app.command()
    def delete(
        ctx: typer.Context,
        memory_ids: Annotated[list[str] | None, typer.Argument(metavar="[ID]...", help="Ids to delete.")] = None,
        where: Annotated[
            str | None, typer.Option("--where", "-w", help="Delete every memory matching this filter (JSON).")
        ] = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Needed with --where: confirm a bulk delete.")] = False,
        user_id: UserOpt = None,
        agent_id: AgentOpt = None,
        run_id: RunOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Delete memories (and their history) by id or by filter; exit code 1 if none was deleted."""
        if not memory_ids and where is None:
            raise CliUsageError("give one or more IDs, or --where with --yes")
        if memory_ids and where is not None:
            raise CliUsageError("give IDs or --where, not both")
        if where is not None and not yes:
            raise CliUsageError("--where deletes every matching memory: add --yes to confirm")
        with state_of(ctx).open() as store:
            if where is not None:
                deleted = store.delete_many(
                    filter=parse_where(where), user_id=user_id, agent_id=agent_id, run_id=run_id
                )
            else:
                deleted = store.delete_many(memory_ids, user_id=user_id, agent_id=agent_id, run_id=run_id)
        out = Output(as_json=as_json)
        if as_json:
            out.json({"deleted": deleted})
        else:
            out.line(f"deleted {deleted}")
        if deleted == 0:
            raise typer.Exit(ExitCode.NOT_FOUND)

    @app.command()
    def history(
        ctx: typer.Context,
        memory_id: Annotated[str, typer.Argument(metavar="ID", help="The memory's id.")],
        user_id: UserOpt = None,
        agent_id: AgentOpt = None,
        run_id: RunOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Every version of a memory, oldest first."""
        with state_of(ctx).open() as store:
            versions = store.history(memory_id, user_id=user_id, agent_id=agent_id, run_id=run_id)
        Output(as_json=as_json).history(versions)
