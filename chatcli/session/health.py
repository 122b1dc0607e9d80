"""What ``sessions doctor`` and a repair report: plain data, no I/O (rendered by ``chatcli.render``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from chatcli.records import SlotRecord

__all__ = ["DoctorReport", "Finding", "RepairReport", "Severity"]

Severity = Literal["ok", "warning", "error"]


class Finding(SlotRecord):
    """What the doctor found about one session (or one stray file) and what it did.

    A finding with severity ``"ok"`` is a note (e.g. a folder chatcli does not own, left alone):
    it does not make the report unhealthy.
    """

    __slots__ = ("actions", "problems", "severity", "target", "unrepairable")

    def __init__(
        self,
        target: str,
        severity: Severity,
        problems: list[str] | None = None,
        actions: list[str] | None = None,
        unrepairable: list[str] | None = None,
    ) -> None:
        self.target = target
        self.severity: Severity = severity
        self.problems: list[str] = [] if problems is None else problems
        self.actions: list[str] = [] if actions is None else actions
        self.unrepairable: list[str] = [] if unrepairable is None else unrepairable


class DoctorReport(SlotRecord):
    """The whole examination: per-target findings and totals."""

    __slots__ = ("findings", "repaired", "root", "sessions_checked")

    def __init__(
        self, root: Path, repaired: bool, sessions_checked: int = 0, findings: list[Finding] | None = None
    ) -> None:
        self.root = root
        self.repaired = repaired
        self.sessions_checked = sessions_checked
        self.findings: list[Finding] = [] if findings is None else findings

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


class RepairReport(SlotRecord):
    """What a repository's ``repair`` found and did for one session."""

    __slots__ = ("actions", "problems", "session_id")

    def __init__(
        self, session_id: str, actions: list[str] | None = None, problems: list[str] | None = None
    ) -> None:
        self.session_id = session_id
        self.actions: list[str] = [] if actions is None else actions
        self.problems: list[str] = [] if problems is None else problems

    @property
    def changed(self) -> bool:
        """True when the repair changed anything on disk."""
        return bool(self.actions)
