"""The REPL commands' handlers: resume, new, retry, clear and quit (their specs, and /help's,
are in :mod:`chatcli.commands.catalog`).

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
from chatcli.commands.spec import ParsedArgs
from chatcli.session.errors import SessionNotFound

__all__ = ["clear_screen", "new_session", "quit_chat", "resume_session", "retry_turn"]


def resume_session(ctx: CommandContext, args: ParsedArgs) -> ResumeAction | PickSessionAction:
    """``/resume [ID]``: that session (of any known project), or the picker without an ID."""
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


def new_session(ctx: CommandContext, args: ParsedArgs) -> NewSessionAction:
    """``/new``."""
    return NewSessionAction()


def retry_turn(ctx: CommandContext, args: ParsedArgs) -> RetryAction:
    """``/retry``."""
    return RetryAction()


def clear_screen(ctx: CommandContext, args: ParsedArgs) -> ClearAction:
    """``/clear``."""
    return ClearAction()


def quit_chat(ctx: CommandContext, args: ParsedArgs) -> QuitAction:
    """``/quit``."""
    return QuitAction()
