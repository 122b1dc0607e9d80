"""The REPL's one error boundary: every failure the user can meet is shown here, and only here.

A step of the REPL (starting up, running a command and showing its result, saving a message) runs
inside :meth:`ErrorBoundary.guard`. What escapes it is converted in one place:

* a :class:`~chatcli.errors.ChatcliError` becomes its error panel (title and ``user_message()``);
* ``KeyboardInterrupt`` (Ctrl-C) becomes "Cancelled.";
* anything else is a bug: its traceback goes to the log file and the panel says "Unexpected
  error" and where the details are.

The guard reports how the step ended as an :class:`~chatcli.errors.ExitCode`, which start-up
returns as the process's exit status. ``asyncio.CancelledError`` is not caught: it means the
REPL itself is being stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from chatcli.errors import ChatcliError, ExitCode, exit_code_of
from chatcli.logs import log_exception
from chatcli.render.terminal import render_error

__all__ = ["ErrorBoundary", "Outcome"]


@dataclass(slots=True)
class Outcome:
    """How a guarded step ended: :attr:`exit_code` stays ``OK`` unless it failed."""

    exit_code: ExitCode = ExitCode.OK

    @property
    def failed(self) -> bool:
        """Whether the step ended with an error or was cancelled."""
        return self.exit_code is not ExitCode.OK


class ErrorBoundary:
    """Converts errors into what the user sees on ``console`` (see the module's docstring)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @contextlib.contextmanager
    def guard(self, context: str) -> Iterator[Outcome]:
        """Run the ``with`` body; an error ends it, is shown, and is recorded in the outcome.

        ``context`` names the step in the log file (e.g. the command line that was typed).
        """
        outcome = Outcome()
        try:
            yield outcome
        except (Exception, KeyboardInterrupt) as exc:
            outcome.exit_code = self.report(exc, context)

    def report(self, exc: BaseException, context: str) -> ExitCode:
        """Show ``exc`` as the user should see it; returns its exit code."""
        if isinstance(exc, KeyboardInterrupt):
            self.console.print(Text("Cancelled.", style="yellow"))
        elif isinstance(exc, ChatcliError):
            render_error(exc, self.console)
        else:
            render_error(exc, self.console, log_path=log_exception(exc, context))
        return exit_code_of(exc)
