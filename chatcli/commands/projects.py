"""``--all-projects``: the option ``sessions list`` and ``sessions search`` share, and where its
handlers find every known project (:mod:`chatcli.session.all_projects`)."""

from __future__ import annotations

from chatcli.commands.context import CommandContext
from chatcli.commands.spec import Option, UsageError
from chatcli.session.all_projects import AllProjects

__all__ = ["ALL_PROJECTS", "all_projects"]

ALL_PROJECTS = Option(
    ("--all-projects",),
    "all_projects",
    "every project chatcli has saved sessions in, with a project column",
)


def all_projects(ctx: CommandContext) -> AllProjects:
    """The known projects; a usage error where the front end has none to offer."""
    if ctx.projects is None:
        raise UsageError("--all-projects is not available here", f"{ctx.prefix}sessions list")
    return ctx.projects
