"""The one error contract: a base class every chatcli error derives from, and the exit-code table.

Every failure chatcli expects is a :class:`ChatcliError`. It carries

* ``kind``: a stable machine-readable name, used in ``--json`` error objects;
* ``exit_code``: the command-line exit status, one of :class:`ExitCode`;
* ``title``: the heading of the error panel on a terminal;
* :meth:`~ChatcliError.user_message`: what happened and what to do next, in plain sentences.

Each front end (the command line in :mod:`chatcli.cli`, the REPL in :mod:`chatcli.repl.boundary`)
converts errors in exactly one place, around both running a command and rendering its result.
Anything that is not a :class:`ChatcliError` is a bug: its traceback goes to the log file and the
user sees a short "Unexpected error" panel.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = ["ChatcliError", "ExitCode", "exit_code_of"]


class ExitCode(IntEnum):
    """The command line's exit statuses (the README's table is checked against this one)."""

    #: Success.
    OK = 0
    #: A user-level failure: not found, invalid name, ambiguous id, refused, problems remain.
    USER = 1
    #: A usage error: unknown command or option, missing or malformed argument.
    USAGE = 2
    #: A storage failure: permission denied, disk full or read-only, an unsafe path.
    STORAGE = 3
    #: A configuration error: a broken config file, a bad environment variable or flag value.
    CONFIG = 4
    #: A model request failed: the server could not be reached, refused the request or timed out.
    BACKEND = 5
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130


class ChatcliError(Exception):
    """Base of every failure chatcli expects and can explain.

    Subclasses set ``kind``, ``exit_code`` and ``title`` as class attributes and override
    :meth:`user_message` when the detail alone does not say what to do next.
    """

    kind: ClassVar[str] = "error"
    exit_code: ClassVar[ExitCode] = ExitCode.USER
    title: ClassVar[str] = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def user_message(self) -> str:
        """What happened and what the user can do next, in plain sentences."""
        return self.detail

    def __str__(self) -> str:
        return f"{type(self).__name__}: {self.detail}"


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit status for ``exc``: its own for a :class:`ChatcliError`, 130 for Ctrl-C, else 1."""
    if isinstance(exc, ChatcliError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.USER
