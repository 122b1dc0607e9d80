"""``sessions search``: full text over every message, one row per session (see
:mod:`chatcli.session.search` for what a query means; the spec is in
:mod:`chatcli.commands.sessions_table`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.commands.projects import all_projects
from chatcli.commands.spec import UsageError
from chatcli.session.search import InvalidQuery, SearchQuery

if TYPE_CHECKING:
    from chatcli.commands.context import CommandContext
    from chatcli.commands.spec import ParsedArgs
    from chatcli.session.all_projects import ProjectsSearchResult
    from chatcli.session.outcomes import SearchResult, StatusChoice
    from chatcli.session.search import SearchSort

__all__ = ["search_sessions"]


def search_sessions(ctx: CommandContext, args: ParsedArgs) -> SearchResult | ProjectsSearchResult:
    """``sessions search TEXT``: full text over every message (``--all-projects``: of every
    known project)."""
    status: StatusChoice = "all"
    if args.flag("active"):
        status = "active"
    elif args.flag("archived"):
        status = "archived"
    usage = f'{ctx.prefix}sessions search WORDS… | "a phrase" | prefix*'
    try:
        query = SearchQuery.parse(args.required("text"))
    except InvalidQuery as exc:
        raise UsageError(f"the search cannot be read: {exc}", usage) from None
    sort: SearchSort = "relevance" if args.text("sort") == "relevance" else "recent"
    if args.flag("all_projects"):
        if args.flag("trash"):
            raise UsageError("--trash searches this project's trash only: leave out --all-projects", usage)
        return all_projects(ctx).search(
            query,
            limit=args.number("limit") or 20,
            sort=sort,
            status=status,
            every_hit=args.flag("messages"),
            should_stop=ctx.cancelled.is_set,
            tags=args.texts("tag"),
        )
    return ctx.service.search(
        query,
        limit=args.number("limit") or 20,
        status=status,
        sort=sort,
        every_hit=args.flag("messages"),
        should_stop=ctx.cancelled.is_set,
        trash=args.flag("trash"),
        tags=args.texts("tag"),
    )
