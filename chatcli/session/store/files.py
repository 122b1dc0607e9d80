"""The session tree on disk: its paths and guards, and the metadata file of each session.

Ids are validated before they touch a path; the guarded folders, session folders and files are
never followed through symbolic links; metadata is replaced atomically (see :mod:`.durable`).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.sanitize import shorten
from chatcli.session.errors import (
    CorruptedSession,
    InvalidMetadata,
    SessionError,
    SessionNotFound,
    UnsafePath,
    UnsupportedVersion,
    from_os_error,
)
from chatcli.session.fields import is_session_id
from chatcli.session.location import SessionsLocation
from chatcli.session.repository import SessionFilter, SessionList, apply_filter
from chatcli.session.store import durable
from chatcli.session.store.layout import (
    CHANGES_FILE,
    CHANGES_MAX,
    CONVERSATION_FILE,
    FILE_MODE,
    GITIGNORE,
    MAX_METADATA_BYTES,
    METADATA_FILE,
)

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = ["SessionFiles", "stamp", "unreadable"]


class SessionFiles:
    """The files of one sessions folder: where each session lives and its ``metadata.json``."""

    def __init__(self, location: SessionsLocation) -> None:
        self.location = location
        self.root = location.path

    # ------------------------------------------------------------------ paths and safety

    def check_guarded(self) -> bool:
        """Refuse symlinked guard folders; return True when the sessions folder exists."""
        return all(durable.real_dir_exists(folder) for folder in self.location.guarded)

    def session_dir(self, session_id: str) -> Path:
        """The folder of a session (not checked on disk); an invalid id is :class:`SessionNotFound`."""
        if not is_session_id(session_id):
            raise SessionNotFound(session_id, "not a valid session id")
        return self.root / session_id

    def check_session_dir(self, session_id: str) -> Path:
        """The session's folder, verified to be a real folder (not a link); NotFound if absent."""
        folder = self.session_dir(session_id)
        if not self.check_guarded() or not durable.real_dir_exists(folder):
            raise SessionNotFound(session_id)
        return folder

    def ensure_root(self) -> None:
        """Create the sessions folder (and its ``.gitignore``) if missing: only ever on a write."""
        if self.check_guarded():
            return
        try:
            guarded = self.location.guarded
            guarded[0].parent.mkdir(parents=True, exist_ok=True)
            for folder in guarded:
                if durable.make_dir(folder):
                    durable.fsync_dir(folder.parent)
            with contextlib.suppress(FileExistsError):
                durable.write_new(self.root / GITIGNORE, b"*\n")
        except OSError as exc:
            raise from_os_error(exc, self.root) from exc
        self.check_guarded()

    def exists(self, session_id: str) -> bool:
        """True if a folder for this (valid) id holds a metadata or transcript file."""
        if not is_session_id(session_id) or not self.check_guarded():
            return False
        folder = self.root / session_id
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return False
        except OSError:
            return False
        return os.path.lexists(folder / METADATA_FILE) or os.path.lexists(folder / CONVERSATION_FILE)

    def session_ids(self) -> set[str]:
        """The names of the sessions folder that are session ids (whatever they hold)."""
        try:
            with os.scandir(self.root) as entries:
                return {e.name for e in entries if is_session_id(e.name)}
        except OSError as exc:
            raise from_os_error(exc, self.root) from exc

    def root_mtime(self) -> int:
        """The sessions folder's mtime (it moves when a session folder appears or goes)."""
        try:
            return os.stat(self.root).st_mtime_ns
        except OSError as exc:
            raise from_os_error(exc, self.root) from exc

    def stamp_of(self, session_id: str) -> str:
        """``mtime:size:inode`` of the session's metadata file ("" if absent): any change to the
        file, in place or by replacement, changes it."""
        try:
            st = os.stat(self.root / session_id / METADATA_FILE, follow_symlinks=False)
        except OSError:
            return ""
        return stamp(st)

    # ------------------------------------------------------------------ metadata

    def read_metadata(self, session_id: str) -> SessionMetadata:
        """The session's metadata as its file holds it (migrated in memory)."""
        folder = self.check_session_dir(session_id)
        path = folder / METADATA_FILE
        try:
            data = durable.read_bytes(path, MAX_METADATA_BYTES)
        except FileNotFoundError:
            if os.path.lexists(folder / CONVERSATION_FILE):
                raise CorruptedSession(session_id, f"{METADATA_FILE} is missing", path) from None
            raise SessionNotFound(session_id) from None
        except durable.FileTooLarge as exc:
            size = "larger" if exc.size is None else f"{exc.size} bytes, far larger"
            raise CorruptedSession(session_id, f"{path.name} is {size} than metadata can be", path) from None
        except OSError as exc:
            error = durable.storage_error(exc, path)
            if isinstance(exc, IsADirectoryError) and not isinstance(error, UnsafePath):
                raise CorruptedSession(session_id, f"{METADATA_FILE} is not a file", path) from exc
            raise error from exc
        return _parse_metadata(session_id, data, path)

    def write_metadata(self, metadata: SessionMetadata) -> None:
        """Replace the session's metadata atomically and bump the change token."""
        folder = self.session_dir(metadata.id)
        durable.replace_file(folder, METADATA_FILE, metadata.to_json().encode("utf-8"))
        self.note_change()

    def metadata_landed(self, meta: SessionMetadata) -> bool:
        """True if the metadata on disk is ``meta`` (its write got as far as the rename)."""
        try:
            return self.read_metadata(meta.id) == meta
        except Exception:  # whatever went wrong, it did not land as ``meta``
            return False

    def scan(self, flt: SessionFilter) -> SessionList:
        """Read every metadata file (the fallback when the index cannot be used)."""
        found: list[SessionMetadata] = []
        problems: list[SessionError] = []
        try:
            entries = list(os.scandir(self.root))
        except OSError as exc:
            raise from_os_error(exc, self.root) from exc
        for entry in entries:
            if entry.name.startswith(".") or not is_session_id(entry.name):
                continue
            try:
                found.append(self.read_metadata(entry.name))
            except SessionNotFound:
                continue
            except SessionError as exc:
                problems.append(exc)
            except Exception as exc:  # one unreadable session never stops the listing
                problems.append(unreadable(entry.name, METADATA_FILE, None, exc))
        return SessionList(apply_filter(found, flt), problems)

    # ------------------------------------------------------------------ change token

    def check_changes(self) -> None:
        """Refuse (:class:`UnsafePath`) a ``.changes`` that is not a plain file of ours (a FIFO,
        a hard link, a folder…): checked before a write changes anything, since every write ends
        by appending to it."""
        path = self.root / CHANGES_FILE
        with durable.translated(path):
            durable.check_existing(path)

    def note_change(self) -> None:
        """Bump the change token other processes poll (one byte appended to ``.changes``)."""
        path = self.root / CHANGES_FILE
        try:
            fd = durable.open_store_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        except (OSError, SessionError):
            # The token is a hint for caches and the data itself is already safe; a planted file
            # was refused by :meth:`check_changes` before the write began.
            return
        try:
            if os.fstat(fd).st_size >= CHANGES_MAX:
                os.ftruncate(fd, 0)
            os.write(fd, b".")
        except OSError:
            return
        finally:
            os.close(fd)

    def change_token(self) -> tuple[int, ...]:
        """A cheap value that changes whenever any process writes to this sessions folder."""
        try:
            root = os.stat(self.root)
        except OSError:
            return (0,)
        try:
            changes = os.stat(self.root / CHANGES_FILE)
        except OSError:
            return (root.st_mtime_ns, root.st_ino)
        return (root.st_mtime_ns, root.st_ino, changes.st_mtime_ns, changes.st_size)


def stamp(st: os.stat_result) -> str:
    """A metadata file's stamp (see :meth:`SessionFiles.stamp_of`) from its status."""
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


def unreadable(session_id: str, what: str, path: Path | None, exc: Exception) -> CorruptedSession:
    """The report of a session whose ``what`` could not be read for an unforeseen reason: a
    :class:`CorruptedSession` naming the session, the traceback logged (it may be a bug)."""
    from chatcli.logs import log_exception

    log_exception(exc, f"reading {what} of session {session_id}")
    return CorruptedSession(session_id, f"{what} cannot be read ({exc.__class__.__name__})", path)


def _parse_metadata(session_id: str, data: bytes, path: Path) -> SessionMetadata:
    from chatcli.session.models import SessionMetadata

    if not data.strip():
        raise CorruptedSession(session_id, f"{METADATA_FILE} is empty", path)
    try:
        meta = SessionMetadata.from_json(data, source=METADATA_FILE)
    except UnsupportedVersion as exc:
        # Say which session: a listing reports it among the good ones.
        raise UnsupportedVersion(exc.version, exc.supported, session_id=session_id) from None
    except InvalidMetadata as exc:
        raise CorruptedSession(session_id, exc.detail, path) from exc
    except Exception as exc:  # whatever the file holds, it is this session's problem, never a crash
        raise unreadable(session_id, METADATA_FILE, path, exc) from exc
    if meta.id != session_id:
        raise CorruptedSession(session_id, f"{METADATA_FILE} names a different id ({shorten(meta.id)})", path)
    return meta
