"""What ``sessions import --from TOOL`` reports, and the tools it knows: light types the command
and the renderers use without loading the readers (:mod:`chatcli.importers.run` does)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatcli.importers import TOOLS
from chatcli.importers.base import SourceProblem

__all__ = ["TOOLS", "ImportedEntry", "ToolImport"]


@dataclass(frozen=True, slots=True)
class ImportedEntry:
    """One conversation and what became of it: ``imported``, ``appended`` or ``unchanged``."""

    action: str
    source_id: str
    title: str
    messages: int
    session_id: str | None = None


@dataclass(slots=True)
class ToolImport:
    """What ``sessions import --from TOOL`` did (or, with ``dry_run``, would do)."""

    tool: str
    dry_run: bool = False
    entries: list[ImportedEntry] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        """How many conversations had this outcome."""
        return sum(1 for e in self.entries if e.action == action)

    @property
    def messages_imported(self) -> int:
        """Messages written (or that would be) by new sessions and appends."""
        return sum(e.messages for e in self.entries if e.action in ("imported", "appended"))
