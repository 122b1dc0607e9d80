"""REPL commands: help, new, resume, retry, clear and quit.

They return ``*Action`` results; the REPL carries them out (handlers never touch the terminal).
"""

from __future__ import annotations

from chatcli.commands.context import CommandContext
from chatcli.commands.refs import session_ref
from chatcli.commands.results import (
    ClearAction,
    NewSessionAction,
    PickSessionAction,
    QuitAction,
    ResumeAction,
    RetryAction,
)
from chatcli.commands.spec import Arg, Command, Handler, ParsedArgs, split_line
from chatcli.session.errors import SessionNotFound

__all__ = ["chat_commands"]


def _resume(ctx: CommandContext, args: ParsedArgs) -> ResumeAction | PickSessionAction:
    ref = args.text("id")
    if ref is None:
        return PickSessionAction()
    wanted = session_ref(ctx, ref, f"{ctx.prefix}resume [ID]")
    try:
        return ResumeAction(ctx.service.load(wanted))
    except SessionNotFound:
        found = ctx.projects.locate(wanted) if ctx.projects is not None else None
        if found is None:
            raise
        return ResumeAction(found[1], found[0])


def _new(ctx: CommandContext, args: ParsedArgs) -> NewSessionAction:
    return NewSessionAction()


def _retry(ctx: CommandContext, args: ParsedArgs) -> RetryAction:
    return RetryAction()


def _clear(ctx: CommandContext, args: ParsedArgs) -> ClearAction:
    return ClearAction()


def _quit(ctx: CommandContext, args: ParsedArgs) -> QuitAction:
    return QuitAction()


def chat_commands(help_handler: Handler) -> tuple[Command, ...]:
    """The REPL-only commands; ``help_handler`` builds help from the registry that holds them."""
    return (
        Command(
            ("help",),
            "Show commands; '/help sessions' or '/help COMMAND' for details",
            help_handler,
            args=(Arg("topic", "command", "a command or group, e.g. sessions", required=False, rest=True),),
            aliases=("?",),
            scope="repl",
        ),
        Command(("new",), "Start a fresh session (saved on its first message)", _new, scope="repl"),
        Command(
            ("resume",),
            "Switch to a saved session (without an ID: pick one from a list)",
            _resume,
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
            _retry,
            scope="repl",
        ),
        Command(("clear",), "Clear the screen (the session continues)", _clear, scope="repl"),
        Command(("quit",), "Leave chatcli (Ctrl-D works too)", _quit, aliases=("exit", "q"), scope="repl"),
    )


def help_words(args: ParsedArgs) -> list[str]:
    """The topic words given to /help (without a leading '/')."""
    topic = args.text("topic") or ""
    return [w.lstrip("/") for w in split_line(topic)]
