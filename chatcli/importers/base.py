"""What every importer of another assistant's history produces: sessions of plain messages.

Each source module (``chatcli/importers/<tool>.py``) turns one tool's files into
:class:`ImportedSession` values; ``chatcli/importers/run.py`` writes them into the store. A reader
never raises for bad data: it records a :class:`SourceProblem` (``file:line`` and why) and goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

__all__ = ["ImportedMessage", "ImportedSession", "Source", "SourceProblem"]


@dataclass(frozen=True)
class ImportedMessage:
    """One user prompt or one assistant reply (tool calls folded into readable notes)."""

    role: Literal["user", "assistant"]
    content: str
    timestamp: datetime | None = None


@dataclass(frozen=True)
class ImportedSession:
    """One conversation read from another tool, on its main line, oldest message first."""

    source_id: str
    path: str
    messages: tuple[ImportedMessage, ...]
    title: str | None = None
    created: datetime | None = None
    project: str | None = None


@dataclass(frozen=True)
class SourceProblem:
    """Something a reader skipped: where (``file:line`` or ``file``) and why, in plain words."""

    where: str
    reason: str


@dataclass(frozen=True)
class Source:
    """One tool: where its files live, and how to read one of them.

    ``locate(cwd, all_projects, env)`` returns the files or folders to read when the user gives no
    PATH (``env`` is the process environment, for ``CLAUDE_CONFIG_DIR``, ``CODEX_HOME`` and the
    like). ``read(path, problems)`` yields the sessions of one file or folder, appending a
    :class:`SourceProblem` for each record or file it cannot use.
    """

    tool: str
    locate: Callable[[Path, bool, dict[str, str]], list[Path]]
    read: Callable[[Path, list[SourceProblem]], Iterator[ImportedSession]]
    notes: tuple[str, ...] = field(default=())
