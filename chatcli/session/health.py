"""What ``sessions doctor`` and a repair report: plain data, no I/O (rendered by ``chatcli.render``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["DoctorReport", "Finding", "RepairReport", "Severity"]

Severity = Literal["ok", "warning", "error"]


@dataclass(slots=True)
class Finding:
    """What the doctor found about one session (or one stray file) and what it did.

    A finding with severity ``"ok"`` is a note (e.g. a folder chatcli does not own, left alone):
    it does not make the report unhealthy.
    """

    target: str
    severity: Severity
    problems: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    unrepairable: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DoctorReport:
    """The whole examination: per-target findings and totals."""

    root: Path
    repaired: bool
    sessions_checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """Number of targets with at least one problem (notes excluded)."""
        return sum(1 for f in self.findings if f.problems and f.severity != "ok")

    @property
    def healthy(self) -> bool:
        """True when nothing is wrong (or everything wrong was repaired); notes do not count."""
        return all(
            f.severity == "ok" or not f.problems or (self.repaired and not f.unrepairable)
            for f in self.findings
        )


@dataclass(slots=True)
class RepairReport:
    """What a repository's ``repair`` found and did for one session."""

    session_id: str
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the repair changed anything on disk."""
        return bool(self.actions)
