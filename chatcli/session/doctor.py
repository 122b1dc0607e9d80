"""``sessions doctor``: inspect the sessions folder and, on request, repair it without losing data.

Repairs only ever: add a missing newline or cut an incomplete final line (its bytes are kept in
``.quarantine/``), rebuild or correct metadata from the transcript, move unreadable lines and
files into ``.quarantine/``, fix permissions, and remove chatcli's own leftovers (temporary files,
lock files of sessions that no longer exist, folders of deletions that were interrupted).
Nothing the user did not ask to delete is ever deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chatcli.session.errors import CorruptedSession, SessionError, UnsupportedVersion
from chatcli.session.models import is_session_id
from chatcli.session.store import (
    CHANGES_FILE,
    CONVERSATION_FILE,
    DIR_MODE,
    FILE_MODE,
    LOCKS_DIR,
    METADATA_FILE,
    QUARANTINE_DIR,
    FileRepository,
    parse_transcript,
)

__all__ = ["DoctorReport", "Finding", "run_doctor"]

Severity = Literal["ok", "warning", "error"]
_KNOWN_HIDDEN = {".gitignore", LOCKS_DIR, QUARANTINE_DIR, CHANGES_FILE}


@dataclass(slots=True)
class Finding:
    """What the doctor found about one session (or one stray file) and what it did."""

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
        """Number of targets with at least one problem."""
        return sum(1 for f in self.findings if f.problems)

    @property
    def healthy(self) -> bool:
        """True when nothing is wrong (or everything wrong was repaired)."""
        return all(not f.problems or (self.repaired and not f.unrepairable) for f in self.findings)


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return None


def _check_modes(repo: FileRepository, folder: Path, finding: Finding, repair: bool) -> None:
    wanted = [(folder, DIR_MODE)]
    wanted += [(folder / name, FILE_MODE) for name in (METADATA_FILE, CONVERSATION_FILE)]
    for path, mode in wanted:
        current = _mode(path)
        if current is None or current == mode:
            continue
        finding.problems.append(f"{path.name} has permissions {current:o} instead of {mode:o}")
        if repair:
            try:
                os.chmod(path, mode, follow_symlinks=False)
                finding.actions.append(f"set {path.name} to {mode:o}")
            except (OSError, NotImplementedError) as exc:
                finding.unrepairable.append(f"could not change {path.name}'s permissions: {exc}")


def _examine_session(repo: FileRepository, session_id: str, repair: bool) -> Finding:
    finding = Finding(session_id, "ok")
    folder = repo.root / session_id
    for entry in os.scandir(folder):
        if entry.name.endswith(".tmp"):
            finding.problems.append(f"stray temporary file {entry.name} (an interrupted write)")
            if repair:
                moved = repo.quarantine_file(Path(entry.path), f"{session_id}-{entry.name}")
                finding.actions.append(f"moved {entry.name} to {moved}")
    conv = folder / CONVERSATION_FILE
    messages_on_disk = None
    try:
        data = conv.read_bytes() if conv.exists() else b""
        transcript = parse_transcript(data)
        messages_on_disk = transcript.messages
        if transcript.torn_tail:
            finding.problems.append("the last line of the transcript is incomplete (interrupted write)")
        if transcript.skipped_lines:
            finding.problems.append(
                f"{len(transcript.skipped_lines)} unreadable transcript line(s): "
                + ", ".join(str(n) for n in transcript.skipped_lines[:10])
            )
    except OSError as exc:
        finding.unrepairable.append(f"cannot read the transcript: {exc.strerror}")
    meta_problem: SessionError | None = None
    try:
        meta = repo.get(session_id)
    except (CorruptedSession, UnsupportedVersion) as exc:
        meta_problem = exc
        meta = None
        if isinstance(exc, UnsupportedVersion):
            finding.problems.append(f"metadata is from a newer chatcli ({exc.detail})")
            finding.unrepairable.append("upgrade chatcli to use this session; it was left untouched")
        else:
            finding.problems.append(f"metadata: {exc.reason}")
    if meta is not None and messages_on_disk is not None:
        if meta.message_count != len(messages_on_disk):
            finding.problems.append(
                f"metadata counts {meta.message_count} messages, the transcript holds {len(messages_on_disk)}"
            )
        if messages_on_disk and meta.last_active < messages_on_disk[-1].timestamp:
            finding.problems.append("metadata's last_active is older than the last message")
    _check_modes(repo, folder, finding, repair)
    if repair and finding.problems and not isinstance(meta_problem, UnsupportedVersion):
        try:
            report = repo.repair(session_id, quarantine_bad_lines=True)
            finding.actions.extend(report.actions)
        except SessionError as exc:
            finding.unrepairable.append(exc.user_message().splitlines()[0])
    if finding.unrepairable:
        finding.severity = "error"
    elif finding.problems:
        finding.severity = "warning"
    return finding


def _examine_hidden(repo: FileRepository, report: DoctorReport, repair: bool, live_ids: set[str]) -> None:
    root = repo.root
    for entry in os.scandir(root):
        name = entry.name
        if not name.startswith(".") or name in _KNOWN_HIDDEN:
            continue
        finding = Finding(name, "warning")
        if name.startswith(".staging-"):
            finding.problems.append("an import or fork that was interrupted before it finished")
            if repair:
                moved = repo.quarantine_file(Path(entry.path), name.lstrip("."))
                finding.actions.append(f"moved it to {moved}")
        elif name.startswith(".deleted-"):
            finding.problems.append("a deletion that was interrupted before it finished")
            if repair:
                shutil.rmtree(entry.path, ignore_errors=True)
                finding.actions.append("finished deleting it (the user had asked for this deletion)")
        else:
            finding.problems.append("an unknown hidden file or folder; left alone")
            finding.unrepairable.append("not made by chatcli")
            finding.severity = "ok"
            continue
        report.findings.append(finding)
    locks = root / LOCKS_DIR
    if locks.is_dir() and not locks.is_symlink():
        for entry in os.scandir(locks):
            sid = entry.name.removesuffix(".lock")
            if entry.name.endswith(".lock") and is_session_id(sid) and sid not in live_ids:
                finding = Finding(entry.name, "warning", ["a lock file of a session that no longer exists"])
                if repair:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        finding.actions.append("removed it")
                report.findings.append(finding)


def run_doctor(repo: FileRepository, *, repair: bool = False) -> DoctorReport:
    """Examine every session folder (and chatcli's own leftovers); repair when asked."""
    report = DoctorReport(repo.root, repair)
    if not repo.root_exists():
        return report
    live: set[str] = set()
    for entry in sorted(os.scandir(repo.root), key=lambda e: e.name):
        name = entry.name
        if name.startswith("."):
            continue
        if not is_session_id(name):
            report.findings.append(
                Finding(name, "ok", ["not a session folder (the name is not a session id); left alone"])
            )
            continue
        if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            finding = Finding(name, "error", ["is a symbolic link or not a folder: refused"])
            finding.unrepairable.append("replace it with a real session folder or remove it yourself")
            report.findings.append(finding)
            continue
        live.add(name)
        report.sessions_checked += 1
        try:
            finding = _examine_session(repo, name, repair)
        except OSError as exc:
            finding = Finding(
                name, "error", [f"cannot be read: {exc.strerror}"], unrepairable=["check permissions"]
            )
        if finding.problems:
            report.findings.append(finding)
    _examine_hidden(repo, report, repair, live)
    return report
