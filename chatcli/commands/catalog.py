"""Builds the registry: every command of chatcli, in one table."""

from __future__ import annotations

from chatcli.commands.chat import chat_commands, help_words
from chatcli.commands.context import CommandContext
from chatcli.commands.labels import LABEL_COMMANDS
from chatcli.commands.registry import Registry
from chatcli.commands.results import HelpResult
from chatcli.commands.sessions import SESSION_COMMANDS
from chatcli.commands.spec import COMMAND_LINE_OPTIONS, JSON_OPTION, ParsedArgs

__all__ = ["build_registry"]


def build_registry() -> Registry:
    """A registry holding the REPL commands and the ``sessions`` family (pins and tags included)."""
    registry = Registry(
        group_options={"sessions": (JSON_OPTION,)},
        command_line_options=COMMAND_LINE_OPTIONS,
    )

    def show_help(ctx: CommandContext, args: ParsedArgs) -> HelpResult:
        return registry.help(help_words(args), prefix=ctx.prefix)

    for command in chat_commands(show_help):
        registry.register(command)
    for command in (*SESSION_COMMANDS, *LABEL_COMMANDS):
        registry.register(command)
    return registry
