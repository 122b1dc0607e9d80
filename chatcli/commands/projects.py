"""``--all-projects`` (the option ``sessions list`` and ``sessions search`` share, in
:mod:`chatcli.commands.sessions_table`): where their handlers find every known project
(:mod:`chatcli.session.all_projects`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.commands.spec import UsageError

if TYPE_CHECKING:
    from chatcli.commands.context import CommandContext
    from chatcli.session.all_projects import AllProjects

__all__ = ["all_projects"]


def all_projects(ctx: CommandContext) -> AllProjects:
    """The known projects; a usage error where the front end has none to offer."""
    if ctx.projects is None:
        raise UsageError("--all-projects is not available here", f"{ctx.prefix}sessions list")
    return ctx.projects
