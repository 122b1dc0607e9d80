"""``sessions list`` and ``sessions show``: the read-only handlers, kept apart so that a listing
loads only what it reads (the spec is in :mod:`chatcli.commands.sessions_table`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.commands.projects import all_projects
from chatcli.commands.refs import session_ref
from chatcli.commands.spec import UsageError

if TYPE_CHECKING:
    from chatcli.commands.context import CommandContext
    from chatcli.commands.spec import ParsedArgs
    from chatcli.session.all_projects import ProjectsListResult
    from chatcli.session.outcomes import ListResult, SessionDetail, StatusChoice

__all__ = ["DEFAULT_LIST_LIMIT", "list_sessions", "show_session"]

#: ``sessions list`` shows this many sessions unless told otherwise (``--limit N``, ``--no-limit``):
#: years of sessions must not flood the terminal, and the listing says how many there are in all.
DEFAULT_LIST_LIMIT = 50


def list_sessions(ctx: CommandContext, args: ParsedArgs) -> ListResult | ProjectsListResult:
    """``sessions list`` (``--all-projects``: of every known project)."""
    status: StatusChoice = "active"
    if args.flag("all"):
        status = "all"
    elif args.flag("archived"):
        status = "archived"
    limit = args.number("limit")
    if args.flag("no_limit"):
        if limit is not None:
            raise UsageError(
                "give either --limit N or --no-limit, not both", f"{ctx.prefix}sessions list --limit N"
            )
    elif limit is None:
        limit = DEFAULT_LIST_LIMIT
    if args.flag("all_projects"):
        return all_projects(ctx).list_sessions(
            status=status, search=args.text("search"), limit=limit, tags=args.texts("tag")
        )
    return ctx.service.list_sessions(
        status=status, search=args.text("search"), limit=limit, tags=args.texts("tag")
    )


def show_session(ctx: CommandContext, args: ParsedArgs) -> SessionDetail:
    """``sessions show [ID]`` (in the chat, no ID or ``.`` is the session in use)."""
    ref = session_ref(ctx, args.text("id"), f"{ctx.prefix}sessions show ID")
    return ctx.service.show(ref, last=args.number("last") or 6)
