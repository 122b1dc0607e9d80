"""Typed results of commands that are not plain service results.

Handlers return data; :mod:`chatcli.render` turns it into terminal output or JSON, and the REPL
acts on the ``*Action`` results (switching session, quitting, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.session.outcomes import ListResult

if TYPE_CHECKING:
    from chatcli.session.all_projects import Project
    from chatcli.session.models import SessionMetadata
    from chatcli.session.outcomes import LoadedSession
    from chatcli.session.transfer import ImportResult

__all__ = [
    "Cancelled",
    "ClearAction",
    "CommandHelp",
    "ExportResult",
    "HelpResult",
    "ImportReport",
    "NewSessionAction",
    "PickSessionAction",
    "PromptReply",
    "QuitAction",
    "RecentSessions",
    "ResumeAction",
    "RetryAction",
    "SessionChanged",
    "TagsChanged",
]


@dataclass(frozen=True, slots=True)
class CommandHelp:
    """Help for one command: its usage line, summary and option lines."""

    name: str
    usage: str
    summary: str
    aliases: tuple[str, ...]
    arguments: tuple[tuple[str, str], ...]
    options: tuple[tuple[str, str], ...]
    details: str = ""


@dataclass(frozen=True, slots=True)
class HelpResult:
    """A help page: a title, an intro line and the commands it covers.

    The overview (``/help``) lists its commands one line each, then ``groups``: a heading and the
    subcommand words of each command group (``/sessions COMMAND``: list, show, …).
    """

    title: str
    intro: str
    commands: tuple[CommandHelp, ...]
    detailed: bool = False
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()


class RecentSessions(ListResult):
    """``/sessions`` alone: the most recent sessions (a listing: ``--json`` and ``--tsv`` print it
    as ``sessions list`` does) and a one-line ``hint`` on the subcommands."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """A session after a rename, archive, unarchive, fork, pin or unpin; ``verb`` says which.

    ``unchanged`` says the session already was as asked (already archived, already active, no
    name to clear, already so named): nothing was written.
    """

    verb: str
    metadata: SessionMetadata
    source_id: str | None = None
    unchanged: bool = False


@dataclass(frozen=True, slots=True)
class TagsChanged:
    """A session after ``tag`` or ``untag`` (``verb``: ``tagged``/``untagged``) of ``given`` tags;
    ``unchanged``: it already had all of them (tag) or none of them (untag), nothing was written."""

    verb: str
    metadata: SessionMetadata
    given: tuple[str, ...]
    unchanged: bool = False


@dataclass(frozen=True, slots=True)
class ExportResult:
    """An export: the text itself (when printed) or the file it was written to."""

    session_id: str
    fmt: str
    text: str | None = None
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """An import's result, and whether to list each session skipped because it already exists
    (``--verbose``; otherwise one line counts them)."""

    result: ImportResult
    verbose: bool = False


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The user declined a confirmation; nothing changed."""

    message: str


@dataclass(frozen=True, slots=True)
class NewSessionAction:
    """REPL: start a fresh session (created on its first message)."""


@dataclass(frozen=True, slots=True)
class ResumeAction:
    """REPL: switch to this session and show its last exchanges (``project``: it is another
    project's, to be continued in that project's store)."""

    session: LoadedSession
    project: Project | None = None


@dataclass(frozen=True, slots=True)
class PickSessionAction:
    """REPL: let the user pick the session to switch to (``/resume`` without an argument)."""


@dataclass(frozen=True, slots=True)
class ClearAction:
    """REPL: clear the screen."""


@dataclass(frozen=True, slots=True)
class QuitAction:
    """REPL: leave."""


@dataclass(frozen=True, slots=True)
class RetryAction:
    """REPL: send the unanswered message(s) at the end of the session again."""


@dataclass(frozen=True, slots=True)
class PromptReply:
    """What ``chatcli -p … --json`` prints: the session the turn was saved in and the reply's text
    (what arrived, which is empty when the turn failed before any)."""

    session_id: str
    reply: str
    #: ``(prompt_tokens, completion_tokens, total_tokens)`` as the server reported them, or None.
    usage: tuple[int, int, int] | None = None
