"""Builds the registry: every command of chatcli, in one table."""

from __future__ import annotations

from chatcli.commands.chat import chat_commands, help_words
from chatcli.commands.context import CommandContext
from chatcli.commands.labels import LABEL_COMMANDS
from chatcli.commands.registry import Registry
from chatcli.commands.results import HelpResult, RecentSessions
from chatcli.commands.sessions import SESSION_COMMANDS
from chatcli.commands.spec import COMMAND_LINE_OPTIONS, JSON_OPTION, ParsedArgs
from chatcli.commands.trash import TRASH_COMMANDS

__all__ = ["RECENT_SHOWN", "build_registry", "recent_sessions"]

#: How many sessions ``/sessions`` (or ``chatcli sessions``) alone lists.
RECENT_SHOWN = 10


def recent_sessions(ctx: CommandContext, args: ParsedArgs) -> RecentSessions:
    """``sessions`` alone: the most recent active sessions and a hint on the subcommands."""
    listing = ctx.service.list_sessions(status="active", limit=RECENT_SHOWN)
    commands = "/help sessions" if ctx.in_chat else "chatcli sessions --help"
    return RecentSessions(
        listing.sessions,
        listing.problems,
        listing.status,
        total=listing.total,
        hint=f"More: {ctx.prefix}sessions list · commands: {commands}",
    )


def build_registry() -> Registry:
    """A registry holding the REPL commands and the ``sessions`` family (pins and tags included)."""
    registry = Registry(
        group_options={"sessions": (JSON_OPTION,)},
        command_line_options=COMMAND_LINE_OPTIONS,
        group_defaults={"sessions": recent_sessions},
    )

    def show_help(ctx: CommandContext, args: ParsedArgs) -> HelpResult:
        return registry.help(help_words(args), prefix=ctx.prefix)

    for command in chat_commands(show_help):
        registry.register(command)
    for command in (*SESSION_COMMANDS, *TRASH_COMMANDS, *LABEL_COMMANDS):
        registry.register(command)
    return registry
