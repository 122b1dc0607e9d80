"""Builds the registry: every command of chatcli, in one table.

Only specs are loaded here (the REPL's commands below, the ``sessions`` family from
:mod:`chatcli.commands.sessions_table`); each handler's module is imported when its command runs,
so ``chatcli sessions search`` never loads the code of the other commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.commands.registry import Registry
from chatcli.commands.sessions_table import LABEL_COMMANDS, SESSION_COMMANDS, TRASH_COMMANDS
from chatcli.commands.spec import (
    COMMAND_LINE_OPTIONS,
    JSON_OPTION,
    Arg,
    Command,
    Handler,
    ParsedArgs,
    split_line,
)

if TYPE_CHECKING:
    from chatcli.commands.context import CommandContext
    from chatcli.commands.results import HelpResult, RecentSessions

__all__ = ["RECENT_SHOWN", "build_registry", "chat_commands", "help_words", "recent_sessions"]

#: How many sessions ``/sessions`` (or ``chatcli sessions``) alone lists.
RECENT_SHOWN = 10


def recent_sessions(ctx: CommandContext, args: ParsedArgs) -> RecentSessions:
    """``sessions`` alone: the most recent active sessions and a hint on the subcommands."""
    from chatcli.commands.results import RecentSessions

    listing = ctx.service.list_sessions(status="active", limit=RECENT_SHOWN)
    commands = "/help sessions" if ctx.in_chat else "chatcli sessions --help"
    return RecentSessions(
        listing.sessions,
        listing.problems,
        listing.status,
        total=listing.total,
        hint=f"More: {ctx.prefix}sessions list · commands: {commands}",
    )


def help_words(args: ParsedArgs) -> list[str]:
    """The topic words given to /help (without a leading '/')."""
    topic = args.text("topic") or ""
    return [w.lstrip("/") for w in split_line(topic)]


def chat_commands(help_handler: Handler) -> tuple[Command, ...]:
    """The REPL-only commands (handlers in :mod:`chatcli.commands.chat`); ``help_handler``
    builds help from the registry that holds them."""
    return (
        Command(
            ("help",),
            "Show commands; '/help sessions' or '/help COMMAND' for details",
            help_handler,
            args=(Arg("topic", "command", "a command or group, e.g. sessions", required=False, rest=True),),
            aliases=("?",),
            scope="repl",
        ),
        Command(
            ("new",),
            "Start a fresh session (saved on its first message)",
            "chatcli.commands.chat:new_session",
            scope="repl",
        ),
        Command(
            ("resume",),
            "Switch to a saved session (without an ID: pick one from a list)",
            "chatcli.commands.chat:resume_session",
            args=(
                Arg(
                    "id",
                    "session",
                    "session id, unique id prefix (4+ characters) or name; none: pick from a list",
                    required=False,
                ),
            ),
            scope="repl",
        ),
        Command(
            ("retry",),
            "Send the last message again when it got no reply (a failed or interrupted turn)",
            "chatcli.commands.chat:retry_turn",
            scope="repl",
        ),
        Command(
            ("clear",),
            "Clear the screen (the session continues)",
            "chatcli.commands.chat:clear_screen",
            scope="repl",
        ),
        Command(
            ("quit",),
            "Leave chatcli (Ctrl-D works too)",
            "chatcli.commands.chat:quit_chat",
            aliases=("exit", "q"),
            scope="repl",
        ),
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
