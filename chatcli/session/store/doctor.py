"""``sessions doctor``: inspect the sessions folder and, on request, repair it without losing data.

Repairs only ever: add a missing newline or cut an incomplete final line (its bytes are kept in
``.quarantine/``), rebuild or correct metadata from the transcript, move unreadable lines and
files into ``.quarantine/``, fix permissions, and clear chatcli's own leftovers (temporary files
and interrupted imports are moved to ``.quarantine/``; lock files of sessions that no longer exist
and folders of deletions that were interrupted are removed).
Nothing the user did not ask to delete is ever deleted.

One bad session never stops the examination of the others: whatever goes wrong with one session
becomes a finding about it. Without ``repair`` nothing on disk is changed; with it, each damaged
session is re-examined and repaired under its lock, so a running chatcli is never raced.
Sessions written by a newer chatcli and anything reached through a symbolic link are reported
and left untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.session.errors import (
    CorruptedSession,
    SessionError,
    SessionNotFound,
    UnsafePath,
    UnsupportedVersion,
    from_os_error,
)
from chatcli.session.fields import is_session_id
from chatcli.session.health import DoctorReport, Finding
from chatcli.session.store import durable, quarantine, trash
from chatcli.session.store.layout import (
    CHANGES_FILE,
    CONVERSATION_FILE,
    DIR_MODE,
    FILE_MODE,
    INDEX_DIR,
    LOCK_SUFFIX,
    LOCKS_DIR,
    METADATA_FILE,
    STAGING_PREFIX,
    is_leftover,
    leftover_session_id,
    stamp,
)
from chatcli.session.store.repair import set_aside_temp_file, stray_temp_files

if TYPE_CHECKING:
    from chatcli.session.store.repository import FileRepository

__all__ = ["run_doctor"]

_EMPTY = "holds no session files (a creation that was interrupted)"


def _first_line(exc: SessionError) -> str:
    return exc.user_message().splitlines()[0]


@dataclass(slots=True)
class _Diagnosis:
    """What :func:`_diagnose` learnt about one session folder."""

    finding: Finding
    stray: list[str] = field(default_factory=list)
    empty: bool = False
    #: Newer-version metadata or a symbolic link: reported, never touched.
    leave_alone: bool = False
    #: Transcript or metadata damage that :meth:`FileRepository.repair` mends.
    needs_repair: bool = False
    #: (path, wanted mode) of files and folders whose permissions are wrong.
    modes: list[tuple[Path, int]] = field(default_factory=list)


def _check_modes(folder: Path, diagnosis: _Diagnosis) -> None:
    """Note session files and folders whose permissions are not 0700/0600 (links are not followed)."""
    wanted = [(folder, DIR_MODE)]
    wanted += [(folder / name, FILE_MODE) for name in (METADATA_FILE, CONVERSATION_FILE)]
    for path, mode in wanted:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            continue  # reported as an unsafe path, never changed through
        reason = None if stat.S_ISDIR(st.st_mode) else durable.unsafe_reason(st)
        if reason is not None:
            diagnosis.finding.problems.append(f"{path.name} {reason}: chatcli will not write to it")
            diagnosis.finding.unrepairable.append(
                f"{path.name} was left untouched (a change would reach the file's other names); "
                "replace it with a copy of your own"
            )
            diagnosis.leave_alone = True
            continue
        current = stat.S_IMODE(st.st_mode)
        if current != mode:
            diagnosis.finding.problems.append(f"{path.name} has permissions {current:o} instead of {mode:o}")
            diagnosis.modes.append((path, mode))


def _diagnose(repo: FileRepository, session_id: str) -> _Diagnosis:
    """Examine one session folder without changing anything."""
    diagnosis = _Diagnosis(Finding(session_id, "ok"))
    finding = diagnosis.finding
    folder = repo.root / session_id
    diagnosis.stray = stray_temp_files(folder)
    for name in diagnosis.stray:
        finding.problems.append(f"stray temporary file {name} (an interrupted write)")
    messages = None
    try:
        transcript = repo.load_messages(session_id)
    except SessionNotFound:
        diagnosis.empty = True
        finding.problems.append(_EMPTY)
        return diagnosis
    except SessionError as exc:
        finding.problems.append(f"the transcript cannot be read: {_first_line(exc)}")
        finding.unrepairable.append("the transcript was left untouched")
        diagnosis.leave_alone = isinstance(exc, UnsafePath)
    else:
        messages = transcript.messages
        if transcript.torn_tail:
            finding.problems.append("the last line of the transcript is incomplete (interrupted write)")
            diagnosis.needs_repair = True
        elif transcript.open_end:
            finding.problems.append("the last message of the transcript has no line end (it is complete)")
            diagnosis.needs_repair = True
        if transcript.skipped_lines:
            finding.problems.append(
                f"{len(transcript.skipped_lines)} unreadable transcript line(s): "
                + ", ".join(str(n) for n in transcript.skipped_lines[:10])
            )
            diagnosis.needs_repair = True
    try:
        meta = repo.get(session_id)
    except UnsupportedVersion as exc:
        finding.problems.append(f"metadata is from a newer chatcli ({exc.detail})")
        finding.unrepairable.append("upgrade chatcli to use this session; it was left untouched")
        diagnosis.leave_alone = True
    except CorruptedSession as exc:
        finding.problems.append(f"metadata: {exc.reason}")
        diagnosis.needs_repair = True
    except SessionError as exc:
        finding.problems.append(f"metadata cannot be read: {_first_line(exc)}")
        finding.unrepairable.append("the metadata was left untouched")
        diagnosis.leave_alone = diagnosis.leave_alone or isinstance(exc, UnsafePath)
    else:
        if messages is not None:
            if meta.message_count != len(messages):
                finding.problems.append(
                    f"metadata counts {meta.message_count} messages, the transcript holds {len(messages)}"
                )
                diagnosis.needs_repair = True
            if messages and meta.last_active < messages[-1].timestamp:
                finding.problems.append("metadata's last_active is older than the last message")
                diagnosis.needs_repair = True
    _check_modes(folder, diagnosis)
    return diagnosis


def _repair(repo: FileRepository, session_id: str, diagnosis: _Diagnosis) -> None:
    """Fix what ``diagnosis`` found (the caller holds the session's lock)."""
    finding = diagnosis.finding
    folder = repo.root / session_id
    for name in diagnosis.stray:
        try:
            moved = set_aside_temp_file(repo.root, session_id, name)
            finding.actions.append(f"moved {name} to {moved}")
        except SessionError as exc:
            finding.unrepairable.append(f"could not move {name}: {_first_line(exc)}")
    if diagnosis.empty:
        try:
            moved = quarantine.move(repo.root, folder, f"{session_id}-empty-{stamp()}")
            finding.actions.append(f"moved the folder to {moved}")
        except SessionError as exc:
            finding.unrepairable.append(f"could not move the folder: {_first_line(exc)}")
        return
    for path, mode in diagnosis.modes:
        try:
            durable.chmod_store_file(path, mode)
            finding.actions.append(f"set {path.name} to {mode:o}")
        except (OSError, NotImplementedError, SessionError) as exc:
            finding.unrepairable.append(f"could not change {path.name}'s permissions: {exc}")
    if diagnosis.needs_repair:
        try:
            report = repo.repair(session_id, quarantine_bad_lines=True)
            finding.actions.extend(report.actions)
        except SessionError as exc:
            finding.unrepairable.append(_first_line(exc))


def _examine_session(repo: FileRepository, session_id: str, repair: bool) -> Finding:
    diagnosis = _diagnose(repo, session_id)
    if repair and diagnosis.finding.problems and not diagnosis.leave_alone:
        try:
            # Look again under the lock: a running chatcli may have finished its write meanwhile.
            with repo.session_lock(session_id):
                diagnosis = _diagnose(repo, session_id)
                if not diagnosis.leave_alone:
                    _repair(repo, session_id, diagnosis)
        except SessionError as exc:
            diagnosis.finding.unrepairable.append(f"not repaired: {_first_line(exc)}")
    finding = diagnosis.finding
    if finding.unrepairable:
        finding.severity = "error"
    elif finding.problems:
        finding.severity = "warning"
    return finding


def _unexamined(target: str, exc: Exception) -> Finding:
    """A finding about something the doctor failed to examine for an unforeseen reason (logged)."""
    from chatcli.logs import log_exception

    log = log_exception(exc, f"sessions doctor examining {target}")
    where = f"; details in {log}" if log is not None else ""
    return Finding(
        target,
        "error",
        [f"could not be examined ({exc.__class__.__name__}{where})"],
        unrepairable=["left untouched"],
    )


def _locked_leftover(repo: FileRepository, name: str) -> contextlib.AbstractContextManager[None]:
    """The lock of the session a ``.staging-<id>-…`` / ``.deleted-<id>-…`` folder belongs to, if any.

    Creations and deletions hold that lock while their hidden folder exists, so holding it means
    the folder is a leftover, not work in progress.
    """
    session_id = leftover_session_id(name)
    if session_id is not None:
        return repo.session_lock(session_id)
    return contextlib.nullcontext()


def _finish_deletion(repo: FileRepository, path: Path, finding: Finding) -> None:
    """Erase the folder of an interrupted deletion; anything but a real folder is set aside instead."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        finding.actions.append("it was already gone")
        return
    if not stat.S_ISDIR(st.st_mode):
        moved = quarantine.move(repo.root, path, path.name.lstrip("."))
        finding.actions.append(f"it is not a folder chatcli made; moved it to {moved}")
        return
    try:
        shutil.rmtree(path)
    except OSError as exc:
        why = exc.strerror or str(exc)
        finding.unrepairable.append(f"could not erase it completely ({why}); check permissions")
    else:
        finding.actions.append("finished deleting it (the user had asked for this deletion)")


def _examine_hidden(repo: FileRepository, report: DoctorReport, repair: bool, live_ids: set[str]) -> None:
    """Report (and with ``repair`` clear) chatcli's own leftovers in the sessions folder."""
    root = repo.root
    try:
        with os.scandir(root) as it:
            entries = sorted(e.name for e in it)
    except OSError as exc:
        raise from_os_error(exc, root) from exc
    for name in entries:
        if is_leftover(name):
            try:
                report.findings.append(_examine_leftover(repo, name, repair))
            except Exception as exc:  # one leftover never stops the examination
                report.findings.append(_unexamined(name, exc))
    locks = root / LOCKS_DIR
    if locks.is_dir() and not locks.is_symlink():
        try:
            with os.scandir(locks) as it:
                lock_names = sorted(e.name for e in it)
        except OSError as exc:
            raise from_os_error(exc, locks) from exc
        for lock_name in lock_names:
            try:
                finding = _examine_lock(repo, lock_name, repair, live_ids)
            except Exception as exc:  # one lock file never stops the examination
                finding = _unexamined(lock_name, exc)
            if finding is not None:
                report.findings.append(finding)


def _examine_leftover(repo: FileRepository, name: str, repair: bool) -> Finding:
    """A finding about a ``.staging-…`` / ``.deleted-…`` folder (an interrupted write)."""
    path = repo.root / name
    staging = name.startswith(STAGING_PREFIX)
    if staging:
        finding = Finding(name, "warning", ["an import or fork that was interrupted before it finished"])
    else:
        finding = Finding(name, "warning", ["a deletion that was interrupted before it finished"])
    if repair:
        try:
            with _locked_leftover(repo, name):
                if not os.path.lexists(path):
                    finding.actions.append("it was already gone")
                elif staging:
                    moved = quarantine.move(repo.root, path, name.lstrip("."))
                    finding.actions.append(f"moved it to {moved}")
                else:
                    _finish_deletion(repo, path, finding)
        except SessionError as exc:
            finding.unrepairable.append(_first_line(exc))
        if finding.unrepairable:
            finding.severity = "error"
    return finding


def _examine_lock(repo: FileRepository, lock_name: str, repair: bool, live_ids: set[str]) -> Finding | None:
    """A finding about the lock file of a session that no longer exists; None for any other."""
    sid = lock_name.removesuffix(LOCK_SUFFIX)
    if not (lock_name.endswith(LOCK_SUFFIX) and is_session_id(sid)) or sid in live_ids:
        return None
    if os.path.lexists(repo.root / sid):
        return None  # something is there (reported above if it is not a real session folder)
    finding = Finding(lock_name, "warning", ["a lock file of a session that no longer exists"])
    if repair:
        try:
            if repo.remove_stale_lock(sid):
                finding.actions.append("removed it")
            else:
                finding.actions.append("left it: the session is in use again")
        except SessionError as exc:
            finding.unrepairable.append(_first_line(exc))
            finding.severity = "error"
    return finding


def run_doctor(repo: FileRepository, *, repair: bool = False) -> DoctorReport:
    """Examine every session folder (and chatcli's own leftovers); repair when asked.

    Without ``repair`` nothing on disk changes. Raises :class:`SessionError` only for the sessions
    folder itself (a symbolic link, unreadable); everything else becomes a finding.
    """
    report = DoctorReport(repo.root, repair)
    if not repo.root_exists():
        return report
    # First: a planted .changes or lock file would stop every repair below.
    _examine_store_files(repo, report, repair)
    try:
        with os.scandir(repo.root) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise from_os_error(exc, repo.root) from exc
    live: set[str] = set()
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        if not is_session_id(name):
            report.findings.append(
                Finding(
                    name,
                    "ok",
                    ["not a session folder (the name is not a session id)"],
                    unrepairable=["not made by chatcli; left alone"],
                )
            )
            continue
        if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            finding = Finding(name, "error", ["is a symbolic link or not a folder: refused"])
            finding.unrepairable.append("replace it with a real session folder or remove it yourself")
            report.findings.append(finding)
            continue
        report.sessions_checked += 1
        try:
            finding = _examine_session(repo, name, repair)
        except OSError as exc:
            if not os.path.lexists(entry.path):
                continue  # deleted meanwhile
            finding = Finding(
                name, "error", [f"cannot be read: {exc.strerror}"], unrepairable=["check permissions"]
            )
        except SessionError as exc:
            finding = Finding(name, "error", [_first_line(exc)], unrepairable=["left untouched"])
        except Exception as exc:  # one session the doctor cannot examine never stops the others
            finding = _unexamined(name, exc)
        if os.path.lexists(entry.path):
            live.add(name)
        if finding.problems:
            report.findings.append(finding)
    # The trash first: its repairs take session locks, which the lock check below then sees.
    trash.examine(repo.trash_bin, report, repair=repair, lock=repo.session_lock)
    live |= repo.trash_bin.session_ids()  # a trashed session keeps its lock file (restore needs it)
    _examine_hidden(repo, report, repair, live)
    _examine_index(repo, report, repair)
    return report


def _examine_index(repo: FileRepository, report: DoctorReport, repair: bool) -> None:
    """Compare the metadata index with the files; with ``repair`` rebuild it from the files."""
    try:
        problems = repo.index_problems()
    except (OSError, SessionError) as exc:
        problems = [f"the index cannot be checked ({exc})"]
    except Exception as exc:  # the index is a cache: an unforeseen failure is a finding, not a crash
        report.findings.append(_unexamined(INDEX_DIR, exc))
        return
    if not problems:
        return
    shown = problems[:10] + ([f"… and {len(problems) - 10} more"] if len(problems) > 10 else [])
    finding = Finding(INDEX_DIR, "warning", shown)
    if repair:
        try:
            count = repo.rebuild_index()
            finding.actions.append(f"rebuilt the index from the files ({count} sessions)")
        except SessionError as exc:
            finding.unrepairable.append(_first_line(exc))
            finding.severity = "error"
    report.findings.append(finding)


def _examine_store_files(repo: FileRepository, report: DoctorReport, repair: bool) -> None:
    """Report ``.changes`` and lock files that every write would refuse (a FIFO, a folder, a hard
    link, another user's file: see :func:`durable.unsafe_reason`); with ``repair`` move them to
    ``.quarantine/`` (a rename: whatever they point at or share is never touched)."""
    names = [CHANGES_FILE]
    locks = repo.root / LOCKS_DIR
    try:
        if stat.S_ISDIR(os.lstat(locks).st_mode):
            with os.scandir(locks) as it:
                names += sorted(f"{LOCKS_DIR}/{e.name}" for e in it)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise from_os_error(exc, locks) from exc
    for name in names:
        path = repo.root / name
        try:
            reason = durable.unsafe_reason(os.lstat(path))
        except OSError:
            continue
        if reason is None:
            continue
        finding = Finding(name, "warning", [f"{name} {reason}: every write to the store refuses it"])
        if repair:
            try:
                moved = quarantine.move(repo.root, path, f"{name.replace('/', '-').lstrip('.')}-{stamp()}")
                finding.actions.append(f"moved it to {moved}")
            except SessionError as exc:
                finding.unrepairable.append(_first_line(exc))
                finding.severity = "error"
        report.findings.append(finding)
