"""``sessions search``: full text over every message, one row per session (see
:mod:`chatcli.session.search` for what a query means)."""

from __future__ import annotations

from chatcli.commands.context import CommandContext
from chatcli.commands.labels import TAG_FILTER
from chatcli.commands.projects import ALL_PROJECTS, all_projects
from chatcli.commands.spec import Arg, Command, Option, ParsedArgs, UsageError
from chatcli.session.all_projects import ProjectsSearchResult
from chatcli.session.outcomes import SearchResult, StatusChoice
from chatcli.session.search import InvalidQuery, SearchQuery, SearchSort

__all__ = ["SEARCH_COMMAND", "search_sessions"]


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


SEARCH_COMMAND = Command(
    ("sessions", "search"),
    "Search the text of every message of every session",
    search_sessions,
    args=(Arg("text", "text", 'words (all must match), "exact phrases", prefix*', rest=True),),
    options=(
        Option(("-n", "--limit"), "limit", "show at most N sessions (default 20)", kind="int", metavar="N"),
        Option(("--messages",), "messages", "list every matching message, not one row per session"),
        Option(("--sort",), "sort", "order (default recent)", kind="choice", choices=("recent", "relevance")),
        Option(("--active",), "active", "only active sessions"),
        Option(("--archived",), "archived", "only archived sessions"),
        Option(("--trash",), "trash", "search the sessions in the trash instead"),
        TAG_FILTER,
        ALL_PROJECTS,
    ),
    aliases=("grep",),
    details="Case and accents are ignored; text in Chinese, Japanese, Korean or Thai matches "
    "anywhere inside words. On the command line, --tsv prints tab-separated values, one record "
    "a line (see the README).",
    examples=(
        "sessions search retry backoff",
        'sessions search "connection reset" --messages',
        "sessions search dock* --sort relevance",
        "sessions search retry --all-projects",
    ),
)
