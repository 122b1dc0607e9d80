"""What a command handler is given: the service and how to talk to the user."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatcli.session.all_projects import AllProjects
    from chatcli.session.service import SessionService

__all__ = ["CommandContext", "Confirm", "Progress"]

#: Ask the user a yes/no question; returns True only for an explicit yes.
Confirm = Callable[[str], bool]
#: Show a long operation's progress (a bar on a terminal): given what is done and the total
#: amount (None when unknown), it yields the function to call with the amount done so far.
Progress = Callable[[str, "int | None"], contextlib.AbstractContextManager[Callable[[int], None]]]


def _no_retention() -> str | None:
    return None


class CommandContext:
    """Per-invocation context.

    ``confirm`` is None when there is no terminal to ask on (piped input, scripts): commands that
    need a confirmation then refuse unless given ``--yes``. ``current_session_id`` is the REPL's
    session in use (None on the command line or before the first message). ``prefix`` is how
    commands are spelled in messages: ``/`` in the REPL, ``chatcli `` on the command line.
    ``cancelled`` is set when the user gave up waiting (Ctrl-C in the REPL): long reads stop at
    their next session. ``sessions_folder`` describes where the sessions are (for "not found").
    ``trash_retention`` gives the trash retention the user set (``trash_retention``: a duration,
    or "off"), asked only when a command may apply it (the config is read then, not before every
    command). ``projects`` is every known project (``--all-projects``, resuming another project's
    session); None where only this project's store is at hand. ``progress`` shows a long
    operation's progress; None (piped output, the REPL) shows nothing.

    A plain class, not a dataclass: every command builds one, and ``dataclasses`` costs a command
    line start-up ~25 ms to import (see docs/architecture.md, "Start-up").
    """

    __slots__ = (
        "cancelled",
        "confirm",
        "current_session_id",
        "prefix",
        "progress",
        "projects",
        "service",
        "sessions_folder",
        "trash_retention",
    )

    def __init__(
        self,
        service: SessionService,
        confirm: Confirm | None = None,
        current_session_id: str | None = None,
        prefix: str = "/",
        *,
        cancelled: threading.Event | None = None,
        sessions_folder: str | None = None,
        trash_retention: Callable[[], str | None] | None = None,
        projects: AllProjects | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.service = service
        self.confirm = confirm
        self.current_session_id = current_session_id
        self.prefix = prefix
        self.cancelled = threading.Event() if cancelled is None else cancelled
        self.sessions_folder = sessions_folder
        self.trash_retention: Callable[[], str | None] = trash_retention or _no_retention
        self.projects = projects
        self.progress = progress

    @property
    def in_chat(self) -> bool:
        """True for a slash command typed in the chat (the REPL), False on the command line."""
        return self.prefix == "/"
