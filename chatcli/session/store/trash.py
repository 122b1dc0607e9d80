"""The trash on disk: ``.trash/<id>.<stamp>/`` holds a deleted session's folder, moved whole, and
``trashed.json`` (a :class:`~chatcli.session.trashed.TrashRecord`: when and why).

Crash safety comes from ONE rename per move, on the same file system, and the order of the
steps around it (every caller holds the session's lock):

* into the trash: (1) create ``.trash/`` and the entry folder, (2) write ``trashed.json``
  atomically into the entry, (3) rename ``<id>/`` to ``.trash/<entry>/<id>/``. Before (3) the
  session is in place and the entry holds no session; after it, the session is in the trash.
* out of the trash: (1) read it whole; (2) when its name is now taken, clear the name *inside
  the trash* (an atomic replace); (3) rename it back to ``<id>/`` (refused if anything is
  there); (4) remove ``trashed.json`` and the entry folder.
* emptying: rename the entry to ``.trash/.deleted-…`` (gone from the trash in one step), then
  erase it.

So a crash or an I/O error at any step leaves the session whole in one place, never both and
never neither; what it can leave behind is an entry without a session (a record alone) or a
``.deleted-`` folder, which listings skip and ``sessions doctor --repair`` removes
(:func:`examine`).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.session.errors import (
    SessionAlreadyExists,
    SessionError,
    SessionNotFound,
    StorageError,
    from_os_error,
)
from chatcli.session.fields import utc_now
from chatcli.session.health import DoctorReport, Finding
from chatcli.session.location import SessionsLocation
from chatcli.session.store import durable, transcript_file
from chatcli.session.store.files import SessionFiles, unreadable
from chatcli.session.store.layout import (
    DELETED_PREFIX,
    METADATA_FILE,
    TRASH_DIR,
    TRASH_RECORD,
    deleted_name,
    is_temp,
)
from chatcli.session.transcript import Transcript
from chatcli.session.trashed import TrashedSession, TrashList, TrashRecord, entry_session_id, trash_entry_name

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = ["TrashBin", "examine"]

#: A ``trashed.json`` is a few hundred bytes; anything far larger is not one.
_RECORD_LIMIT = 1 << 16
#: The reason written when the doctor rebuilds a record that was missing or unreadable.
_UNKNOWN_REASON = "unknown (its trash record was rebuilt by sessions doctor)"


class TrashBin:
    """The ``.trash/`` folder of one sessions folder (see the module docstring for the protocol)."""

    def __init__(self, files: SessionFiles) -> None:
        self.files = files
        self.root = files.root
        self.folder = files.root / TRASH_DIR

    # ------------------------------------------------------------------ paths

    def entry_dir(self, trash_id: str) -> tuple[Path, str]:
        """The folder of entry ``trash_id`` and the id of its session; NotFound for a bad name."""
        session_id = entry_session_id(trash_id)
        if session_id is None or os.sep in trash_id or trash_id.startswith("."):
            raise SessionNotFound(trash_id, "not a session in the trash")
        return self.folder / trash_id, session_id

    def entry_files(self, trash_id: str) -> tuple[SessionFiles, str]:
        """A :class:`SessionFiles` reading the entry (its session folder is named by its id), every
        folder from the sessions folder down guarded against links."""
        entry, session_id = self.entry_dir(trash_id)
        guarded = (*self.files.location.guarded, self.folder, entry)
        return SessionFiles(SessionsLocation(entry, "flag", guarded)), session_id

    def exists(self) -> bool:
        """True if ``.trash/`` exists (a link or a file there raises UnsafePath)."""
        return self.files.check_guarded() and durable.real_dir_exists(self.folder)

    # ------------------------------------------------------------------ moves

    def move_in(self, session_id: str, reason: str, name: str | None) -> str:
        """Move the session's folder into a new entry; returns the entry's name (``trash_id``).

        The caller holds the session's lock. Any failure before the rename removes the new entry
        again and leaves the session in place.
        """
        folder = self.files.check_session_dir(session_id)
        record = TrashRecord(session_id, utc_now(), reason, name)
        trash_id = trash_entry_name(session_id, record.deleted_at)
        entry = self.folder / trash_id
        made = False  # only an entry made here is removed again (never one met through a link)
        try:
            if durable.make_dir(self.folder):
                durable.fsync_dir(self.root)
            if not durable.make_dir(entry):
                raise SessionAlreadyExists(f"the trash entry {trash_id}", "Try again.")
            made = True
            durable.fsync_dir(self.folder)
            durable.replace_file(entry, TRASH_RECORD, record.to_json())
            os.rename(folder, entry / session_id)
        except (OSError, SessionError) as exc:
            if made:
                _discard_entry(entry, session_id)
            if isinstance(exc, OSError):
                raise from_os_error(exc, folder) from exc
            raise
        _settle(entry, self.root)
        self.files.note_change()
        return trash_id

    def move_out(self, trash_id: str, *, clear_name: bool) -> SessionMetadata:
        """Put an entry's session back in the sessions folder (the caller holds its lock); with
        ``clear_name`` its name is cleared first, inside the trash. Returns its metadata."""
        efiles, session_id = self.entry_files(trash_id)
        entry = efiles.root
        meta = efiles.read_metadata(session_id)
        target = self.files.session_dir(session_id)
        if os.path.lexists(target):
            raise SessionAlreadyExists(
                f"session {session_id[:8]}",
                "A session with this id is in the sessions folder again (imported?): export the "
                "trashed copy with 'sessions export' instead, or delete the other one first.",
            )
        try:
            if clear_name and meta.name is not None:
                meta.clear_name()
                durable.replace_file(entry / session_id, METADATA_FILE, meta.to_json().encode("utf-8"))
            os.rename(entry / session_id, target)
        except OSError as exc:
            raise from_os_error(exc, entry / session_id) from exc
        _settle(self.root, entry)
        _discard_entry(entry, session_id)
        self.files.note_change()
        return meta

    def erase(self, trash_id: str) -> None:
        """Delete an entry for good: renamed out of the trash in one step, then erased."""
        entry, _ = self.entry_dir(trash_id)
        if not self.exists() or not durable.real_dir_exists(entry):
            raise SessionNotFound(trash_id, "not in the trash (emptied or restored meanwhile?)")
        doomed = self.folder / deleted_name(trash_id)
        try:
            os.rename(entry, doomed)
            durable.fsync_dir(self.folder)
        except OSError as exc:
            raise from_os_error(exc, entry) from exc
        try:
            import shutil  # not at the top: it loads zlib, bz2 and lzma (start-up)

            shutil.rmtree(doomed)
        except OSError as exc:
            raise StorageError(
                "the session is gone from the trash but some of its files could not be erased "
                f"({exc.strerror}); 'sessions doctor --repair' finishes the job",
                doomed,
            ) from exc

    # ------------------------------------------------------------------ reads

    def names(self) -> list[str]:
        """The names in ``.trash/`` (empty when there is none)."""
        if not self.exists():
            return []
        try:
            with os.scandir(self.folder) as it:
                return sorted(e.name for e in it)
        except OSError as exc:
            raise from_os_error(exc, self.folder) from exc

    def session_ids(self) -> set[str]:
        """The ids of the sessions the trash's entries are named after."""
        return {sid for sid in map(entry_session_id, self.names()) if sid is not None}

    def entries(self) -> TrashList:
        """Every trashed session; an entry without a session (an interrupted move) is skipped,
        an unreadable one is a problem, never a failure of the listing."""
        found: list[TrashedSession] = []
        problems: list[SessionError] = []
        for name in self.names():
            if name.startswith(".") or entry_session_id(name) is None:
                continue
            try:
                found.append(self.get(name))
            except SessionNotFound:
                continue
            except SessionError as exc:
                problems.append(exc)
            except Exception as exc:  # one unreadable entry never stops the listing
                problems.append(unreadable(name[:36], "the trashed session", self.folder / name, exc))
        return TrashList(found, problems)

    def get(self, trash_id: str) -> TrashedSession:
        """One entry, read whole (NotFound when it holds no session)."""
        efiles, session_id = self.entry_files(trash_id)
        meta = efiles.read_metadata(session_id)
        record = self.record(trash_id)
        if record is None:
            when = _mtime(efiles.root)
            record = TrashRecord(session_id, when, "unknown (its trash record is missing)", meta.name)
        return TrashedSession(trash_id, meta, record)

    def record(self, trash_id: str) -> TrashRecord | None:
        """The entry's ``trashed.json``; None when it is missing or unreadable (doctor rebuilds it)."""
        entry, session_id = self.entry_dir(trash_id)
        try:
            return TrashRecord.from_json(durable.read_bytes(entry / TRASH_RECORD, _RECORD_LIMIT), session_id)
        except (OSError, ValueError, KeyError, TypeError, SessionError):
            return None

    def messages(self, trash_id: str) -> Transcript:
        """Every readable message of a trashed session."""
        efiles, session_id = self.entry_files(trash_id)
        return transcript_file.read_transcript(efiles, session_id)

    def transcript(self, trash_id: str) -> Iterator[bytes]:
        """A trashed session's raw transcript in chunks of whole lines (search)."""
        efiles, session_id = self.entry_files(trash_id)
        return transcript_file.iter_chunks(efiles, session_id)


def _settle(*folders: Path) -> None:
    """fsync the folders a rename changed. The rename is done: the session is where it now is,
    and a failed fsync only means a crash could put it back where it was, whole, so it is not
    reported as a failure of the move."""
    for folder in folders:
        with contextlib.suppress(OSError):
            durable.fsync_dir(folder)


def _discard_entry(entry: Path, session_id: str) -> bool:
    """Remove an entry that holds no session (its record, temp files, the folder); True if gone.
    Best effort: whatever stays is a leftover the doctor removes."""
    with contextlib.suppress(OSError):
        if os.path.lexists(entry / session_id):
            return False  # never: the session is there
        for name in os.listdir(entry):
            if name == TRASH_RECORD or is_temp(name):
                os.unlink(entry / name)
        os.rmdir(entry)
        return True
    return not os.path.lexists(entry)


def _mtime(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(os.lstat(path).st_mtime, UTC)
    except OSError:
        return utc_now()


# ---------------------------------------------------------------------- sessions doctor

Lock = Callable[[str], contextlib.AbstractContextManager[None]]


def examine(trash: TrashBin, report: DoctorReport, *, repair: bool, lock: Lock) -> None:
    """Check ``.trash/`` (``sessions doctor``): leftovers of interrupted moves, restores and
    emptyings, missing records, unreadable trashed sessions. With ``repair`` the leftovers are
    removed (under the session's ``lock``) and missing records rebuilt; a trashed session is never
    erased here."""
    for name in trash.names():
        try:
            finding = _examine_entry(trash, name, repair, lock)
        except Exception as exc:  # one entry never stops the examination
            finding = Finding(
                f"{TRASH_DIR}/{name}",
                "error",
                [f"could not be examined ({exc.__class__.__name__})"],
                unrepairable=["left untouched"],
            )
        if finding is not None:
            if finding.unrepairable:
                finding.severity = "error"
            report.findings.append(finding)


def _examine_entry(trash: TrashBin, name: str, repair: bool, lock: Lock) -> Finding | None:
    """A finding about one name in ``.trash/``, None when it is a whole trashed session."""
    target = f"{TRASH_DIR}/{name}"
    path = trash.folder / name
    if name.startswith(DELETED_PREFIX):
        finding = Finding(target, "warning", ["an emptying of the trash that was interrupted"])
        if repair:
            _erase_leftover(path, finding)
        return finding
    session_id = entry_session_id(name)
    if session_id is None:
        return Finding(target, "ok", ["not a trash entry (the name is not <id>.<time>)"], unrepairable=[])
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        return Finding(target, "error", ["is not a folder: refused"], unrepairable=["remove it yourself"])
    with lock(session_id) if repair else contextlib.nullcontext():
        return _examine_whole(trash, name, session_id, repair)


def _examine_whole(trash: TrashBin, name: str, session_id: str, repair: bool) -> Finding | None:
    target = f"{TRASH_DIR}/{name}"
    path = trash.folder / name
    if not os.path.lexists(path / session_id):
        where = "is in the sessions folder" if trash.files.exists(session_id) else "is not there either"
        finding = Finding(
            target, "warning", [f"a move to or from the trash that was interrupted (the session {where})"]
        )
        if repair:
            if _discard_entry(path, session_id):
                finding.actions.append("removed the empty entry (it held no session)")
            else:
                finding.unrepairable.append("it holds files chatcli did not put there; left alone")
        return finding
    try:
        trash.get(name)
    except SessionError as exc:
        problem = exc.user_message().splitlines()[0]
        return Finding(
            target,
            "error",
            [f"the trashed session cannot be read: {problem}"],
            unrepairable=["restore it ('sessions restore'), then run 'sessions doctor --repair'"],
        )
    temps = [n for n in os.listdir(path) if is_temp(n)]
    if trash.record(name) is not None and not temps:
        return None
    finding = Finding(target, "warning", [])
    if temps:
        finding.problems.append(f"{len(temps)} temporary file(s) of an interrupted write")
    if trash.record(name) is None:
        finding.problems.append(f"its {TRASH_RECORD} (when and why it was deleted) is missing or unreadable")
    if repair:
        for temp in temps:
            os.unlink(path / temp)
        if trash.record(name) is None:
            durable.replace_file(
                path, TRASH_RECORD, TrashRecord(session_id, utc_now(), _UNKNOWN_REASON).to_json()
            )
            finding.actions.append(f"wrote a new {TRASH_RECORD} (deleted: now, reason unknown)")
        if temps:
            finding.actions.append("removed the temporary files")
    return finding


def _erase_leftover(path: Path, finding: Finding) -> None:
    """Finish erasing a ``.deleted-`` folder (its emptying was confirmed by the user)."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            finding.unrepairable.append("it is not a folder chatcli made; left alone")
            return
        import shutil  # not at the top: it loads zlib, bz2 and lzma (start-up)

        shutil.rmtree(path)
    except FileNotFoundError:
        finding.actions.append("it was already gone")
    except OSError as exc:
        finding.unrepairable.append(f"could not erase it completely ({exc.strerror}); check permissions")
    else:
        finding.actions.append("finished erasing it (the user had emptied it from the trash)")
