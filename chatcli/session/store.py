"""The file-backed session repository and the discovery of the sessions folder.

Layout, under ``<project>/.amazonq/sessions/``::

    .gitignore                  "*": transcripts are never committed by accident
    .locks/<id>.lock            one lock file per session (filelock), plus names.lock
    .quarantine/                files set aside by repairs; never deleted by chatcli
    <id>/metadata.json          SessionMetadata, replaced atomically
    <id>/conversation.jsonl     one Message per line, append-only

Guarantees: metadata is replaced atomically (temp file, fsync, rename, fsync of the folder);
messages are appended with one write and an fsync before the call returns; every write holds the
session's lock, so read-modify-write never loses another process's update; ids are validated
before they touch a path and symbolic links inside the tree are refused, never followed; folders
are created 0700 and files 0600 whatever the umask.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import heapq
import json
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias, TypeVar

from chatcli.sanitize import shorten
from chatcli.session.errors import (
    ConcurrentModification,
    CorruptedSession,
    InvalidMetadata,
    SessionAlreadyExists,
    SessionError,
    SessionNotFound,
    StorageError,
    UnsafePath,
    UnsupportedVersion,
    from_os_error,
)
from chatcli.session.fields import (
    SessionBrief,
    SessionStatus,
    SessionView,
    is_session_id,
    utc_now,
    validate_session_name,
)
from chatcli.session.index import IndexUnavailable, SessionIndex
from chatcli.session.repository import BriefList, SessionFilter, SessionList, Transcript, apply_filter

if TYPE_CHECKING:
    from filelock import FileLock

    from chatcli.session.index import Indexed
    from chatcli.session.models import Message, SessionMetadata

# Pydantic models are imported where they are first needed (``from chatcli.session.models import``
# inside functions): a listing served from the index never builds one, and so never pays
# pydantic's import.

_Item = TypeVar("_Item", bound=SessionView)


def _same(meta: SessionMetadata) -> SessionMetadata:
    return meta


def _recency(brief: SessionBrief) -> tuple[datetime, str]:
    """The listing order's key: newest ``last_active`` first, ties by id."""
    return (brief.last_active, brief.id)


__all__ = [
    "CONVERSATION_FILE",
    "ENV_SESSIONS_DIR",
    "METADATA_FILE",
    "FileRepository",
    "RepairReport",
    "SessionsLocation",
    "discover_sessions_dir",
]

ENV_SESSIONS_DIR = "CHATCLI_SESSIONS_DIR"
METADATA_FILE = "metadata.json"
CONVERSATION_FILE = "conversation.jsonl"
LOCKS_DIR = ".locks"
QUARANTINE_DIR = ".quarantine"
NAMES_LOCK = "names.lock"
CHANGES_FILE = ".changes"
#: The change journal is cut back to empty past this size (its size and mtime are the token).
CHANGES_MAX = 1 << 16
DIR_MODE = 0o700
FILE_MODE = 0o600
#: Metadata files larger than this are not metadata (it is a few hundred bytes normally).
MAX_METADATA_BYTES = 1 << 20
DEFAULT_LOCK_TIMEOUT = 10.0

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

_Metas: TypeAlias = "list[SessionMetadata]"
_Briefs: TypeAlias = "list[SessionBrief]"

Source = Literal["flag", "env", "amazonq", "git", "cwd"]


@dataclass(frozen=True, slots=True)
class SessionsLocation:
    """Where sessions live and how that was decided.

    ``guarded`` lists the folders, from the project down, that must not be symbolic links
    (``.amazonq`` and ``.amazonq/sessions``, or the explicit folder itself).
    """

    path: Path
    source: Source
    guarded: tuple[Path, ...]

    def describe(self) -> str:
        """One line saying where sessions are stored and why."""
        why = {
            "flag": "from --sessions-dir",
            "env": f"from ${ENV_SESSIONS_DIR}",
            "amazonq": "nearest folder holding .amazonq/",
            "git": "nearest folder holding .git",
            "cwd": "current folder",
        }[self.source]
        return f"{self.path} ({why})"


def discover_sessions_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> SessionsLocation:
    """Find the sessions folder without creating anything.

    Order: ``explicit`` (``--sessions-dir``), then ``$CHATCLI_SESSIONS_DIR``, then the nearest
    ancestor of ``cwd`` holding ``.amazonq/``, then the nearest holding ``.git``, then ``cwd``.
    """
    env = os.environ if environ is None else environ
    here = Path(cwd if cwd is not None else Path.cwd()).absolute()
    if explicit is not None and str(explicit) != "":
        path = (here / Path(explicit).expanduser()).absolute()
        return SessionsLocation(path, "flag", (path,))
    from_env = env.get(ENV_SESSIONS_DIR, "")
    if from_env:
        path = (here / Path(from_env).expanduser()).absolute()
        return SessionsLocation(path, "env", (path,))
    chain = [here, *here.parents]
    for folder in chain:
        if os.path.lexists(folder / ".amazonq"):
            return _project_location(folder, "amazonq")
    for folder in chain:
        if os.path.lexists(folder / ".git"):
            return _project_location(folder, "git")
    return _project_location(here, "cwd")


def _project_location(project: Path, source: Source) -> SessionsLocation:
    amazonq = project / ".amazonq"
    sessions = amazonq / "sessions"
    return SessionsLocation(sessions, source, (amazonq, sessions))


@dataclass(slots=True)
class RepairReport:
    """What :meth:`FileRepository.repair` found and did for one session."""

    session_id: str
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the repair changed anything on disk."""
        return bool(self.actions)


def stamp() -> str:
    """A UTC timestamp for file names, e.g. ``20260101T120000123456Z``."""
    return utc_now().strftime("%Y%m%dT%H%M%S%fZ")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FileRepository:
    """Sessions stored as plain files in one folder (see the module docstring for the layout)."""

    def __init__(
        self,
        location: SessionsLocation | Path | str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        if not isinstance(location, SessionsLocation):
            path = Path(location).absolute()
            location = SessionsLocation(path, "flag", (path,))
        self.location = location
        self.root = location.path
        self.lock_timeout = lock_timeout
        self._locks: dict[str, FileLock] = {}
        self._locks_guard = threading.Lock()
        self._index = SessionIndex(self.root)
        self._index_broken = False

    # ------------------------------------------------------------------ paths and safety

    @staticmethod
    def _real_dir_exists(folder: Path) -> bool:
        """True if ``folder`` is a real folder, False if absent; a link or a file raises UnsafePath."""
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise from_os_error(exc, folder) from exc
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath(folder, "is a symbolic link")
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePath(folder, "is not a folder")
        return True

    def _check_guarded(self) -> bool:
        """Refuse symlinked guard folders; return True when the sessions folder exists."""
        return all(self._real_dir_exists(folder) for folder in self.location.guarded)

    def _session_dir(self, session_id: str) -> Path:
        if not is_session_id(session_id):
            raise SessionNotFound(session_id, "not a valid session id")
        return self.root / session_id

    def _check_session_dir(self, session_id: str) -> Path:
        """The session's folder, verified to be a real folder (not a link); NotFound if absent."""
        folder = self._session_dir(session_id)
        if not self._check_guarded() or not self._real_dir_exists(folder):
            raise SessionNotFound(session_id)
        return folder

    def _mkdir(self, path: Path) -> bool:
        """Create ``path`` with mode 0700 (whatever the umask); False if it already existed."""
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            self._real_dir_exists(path)
            return False
        os.chmod(path, DIR_MODE)
        return True

    def ensure_root(self) -> None:
        """Create the sessions folder (and its ``.gitignore``) if missing: only ever on a write."""
        if self._check_guarded():
            return
        try:
            guarded = self.location.guarded
            top = guarded[0]
            top.parent.mkdir(parents=True, exist_ok=True)
            for folder in guarded:
                if self._mkdir(folder):
                    _fsync_dir(folder.parent)
            self._write_new_file(self.root / ".gitignore", b"*\n")
        except OSError as exc:
            raise from_os_error(exc, self.root) from exc
        self._check_guarded()

    def _write_new_file(self, path: Path, data: bytes) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, FILE_MODE)
        except FileExistsError:
            return
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
        except OSError:
            # No half-written copy is left behind (the caller keeps the original).
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        os.close(fd)

    def _read_bytes(self, path: Path, limit: int | None = None) -> bytes:
        """Read a file without following a final symlink; OSError is left to the caller."""
        # O_NONBLOCK: a FIFO planted in place of a file must not hang the listing.
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise IsADirectoryError(f"{path} is not a regular file")
            if limit is not None and st.st_size > limit:
                raise CorruptedSession(
                    path.parent.name,
                    f"{path.name} is {st.st_size} bytes, far larger than metadata can be",
                    path,
                )
            chunks = []
            while True:
                chunk = os.read(fd, max(st.st_size + 1, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                if limit is not None and sum(map(len, chunks)) > limit:
                    raise CorruptedSession(
                        path.parent.name, f"{path.name} is larger than metadata can be", path
                    )
            return b"".join(chunks)
        finally:
            os.close(fd)

    def _atomic_write(self, folder: Path, name: str, data: bytes) -> None:
        """Replace ``folder/name`` with ``data``: temp file, fsync, rename, fsync of the folder."""
        tmp = folder / f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, FILE_MODE)
            try:
                os.fchmod(fd, FILE_MODE)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, folder / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise from_os_error(exc, folder / name) from exc
        try:
            _fsync_dir(folder)
        except OSError as exc:
            raise from_os_error(exc, folder) from exc

    # ------------------------------------------------------------------ locking

    def _lock(self, name: str) -> FileLock:
        from filelock import FileLock  # imported on first write: reads never need it

        with self._locks_guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = FileLock(self.root / LOCKS_DIR / name, timeout=self.lock_timeout, mode=FILE_MODE)
                self._locks[name] = lock
            return lock

    @contextmanager
    def _locked(self, name: str, what: str) -> Iterator[None]:
        self.ensure_root()
        locks = self.root / LOCKS_DIR
        try:
            self._mkdir(locks)
            path = locks / name
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    raise UnsafePath(path, "is a symbolic link")
            lock = self._lock(name)
            lock.acquire()
        except Exception as exc:
            from filelock import Timeout  # a TimeoutError, hence an OSError: test it first

            if isinstance(exc, Timeout):
                raise ConcurrentModification(what, self.lock_timeout) from None
            if isinstance(exc, OSError):
                raise from_os_error(exc, locks) from exc
            raise
        try:
            yield
        finally:
            lock.release()

    def session_lock(self, session_id: str) -> contextlib.AbstractContextManager[None]:
        """The per-session write lock (a file lock, so it also excludes other processes).

        It also runs the index protocol (see :mod:`chatcli.session.index`): the session is marked
        dirty before the body changes any file, and its index row is refreshed from the files
        afterwards, whether the body succeeded or not.
        """
        self._session_dir(session_id)  # an invalid id fails here, before any file is touched
        return self._session_locked(session_id)

    @contextmanager
    def _session_locked(self, session_id: str) -> Iterator[None]:
        with self._locked(f"{session_id}.lock", session_id):
            self._index_mark(session_id)
            try:
                yield
            finally:
                self._index_sync(session_id)

    # ------------------------------------------------------------------ index

    def close(self) -> None:
        """Close the index connection (reopened on next use); files are never held open otherwise."""
        self._index.close()

    def _open_index(self) -> SessionIndex | None:
        """The index, or None when it cannot be used here (then the files are scanned)."""
        return None if self._index_broken else self._index

    def _drop_index(self) -> None:
        """Discard the index (it is only a cache); the next reader rebuilds it from the files."""
        self._index.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(str(self._index.path) + suffix)

    def _stamp_of(self, session_id: str) -> str:
        """``mtime:size:inode`` of the session's metadata file ("" if absent): any change to the
        file, in place or by replacement, changes it."""
        try:
            st = os.stat(self.root / session_id / METADATA_FILE, follow_symlinks=False)
        except OSError:
            return ""
        return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"

    def _verified(
        self,
        rows: Sequence[tuple[_Item, str]],
        problems: list[SessionError],
        fresh: Callable[[SessionMetadata], _Item],
    ) -> list[_Item]:
        """Rows whose metadata file is unchanged since it was indexed; changed ones are read
        again from the file (a file damaged by hand is then reported, never shown stale)."""
        out: list[_Item] = []
        for item, stamp in rows:
            if self._stamp_of(item.id) == stamp:
                out.append(item)
                continue
            try:
                out.append(fresh(self._read_metadata(item.id)))
            except SessionNotFound:
                continue
            except SessionError as exc:
                problems.append(exc)
        return out

    def _root_mtime(self) -> int:
        try:
            return os.stat(self.root).st_mtime_ns
        except OSError as exc:
            raise from_os_error(exc, self.root) from exc

    def _index_mark(self, session_id: str) -> None:
        """Writer step 1. The first write on a folder without an index builds it from the files."""
        index = self._open_index()
        if index is None:
            return
        try:
            if index.recorded_root_mtime() != self._root_mtime():
                self._reconcile(index)
                index.record_root_mtime(self._root_mtime())
            index.mark_dirty(session_id)
        except (IndexUnavailable, OSError, StorageError):
            self._drop_index()
            self._index_broken = True

    def _index_sync(self, session_id: str) -> None:
        """Writer step 3: refresh one session's row from its files (never raises: it is a cache).

        The folder's new mtime is recorded too (the index was in step before this write), so
        readers only rescan the folder after changes made outside chatcli.
        """
        index = self._open_index()
        if index is None:
            return
        try:
            try:
                meta = self._read_metadata(session_id)
            except SessionNotFound:
                index.forget([session_id])
            except SessionError:
                index.forget([session_id])
                index.mark_dirty(session_id)  # unreadable: readers look at its files each time
            else:
                index.store(meta, self._stamp_of(session_id))
            mtime = self._root_mtime()
            if index.recorded_root_mtime() != mtime:
                index.record_root_mtime(mtime)
        except (IndexUnavailable, OSError, StorageError):
            self._drop_index()
            self._index_broken = True

    def _try_lock(self, name: str) -> FileLock | None:
        """The lock ``name`` if it can be taken at once (a reader never waits for a writer)."""
        if not os.path.isdir(self.root / LOCKS_DIR):
            return None
        lock = self._lock(name)
        try:
            lock.acquire(timeout=0)
        except Exception:  # filelock.Timeout, or an OSError on a read-only folder
            return None
        return lock

    def _synced_index(
        self,
    ) -> tuple[SessionIndex, list[SessionMetadata], list[SessionError], set[str]] | None:
        """Bring the index up to date with the files; None if it cannot be used.

        Returns the index, fresh metadata of sessions a writer may still be changing (to use in
        place of their rows), the problems met (unreadable sessions) and the ids whose rows must
        not be trusted.
        """
        index = self._open_index()
        if index is None or not os.path.exists(index.path):
            return None  # a reader never creates the index: the first write does
        try:
            return self._sync_index(index)
        except IndexUnavailable:
            self._drop_index()
            try:
                return self._sync_index(index)
            except IndexUnavailable:
                self._index_broken = True
                return None

    def _sync_index(
        self, index: SessionIndex
    ) -> tuple[SessionIndex, list[SessionMetadata], list[SessionError], set[str]]:
        root_mtime = self._root_mtime()
        if index.recorded_root_mtime() != root_mtime:
            self._reconcile(index)
            index.record_root_mtime(root_mtime)
        overrides: list[SessionMetadata] = []
        problems: list[SessionError] = []
        untrusted: set[str] = set()
        for session_id in index.dirty_ids():
            lock = self._try_lock(f"{session_id}.lock") if is_session_id(session_id) else None
            try:
                # Read under the lock when it can be had: a writer that finished between an
                # unlocked read and the lock would otherwise have its fresh row overwritten.
                meta = self._read_metadata(session_id)
            except SessionNotFound:
                meta = None
            except SessionError as exc:
                if lock is not None:
                    lock.release()
                problems.append(exc)
                untrusted.add(session_id)
                continue
            if lock is None:
                untrusted.add(session_id)
                if meta is not None:
                    overrides.append(meta)
                continue
            try:
                if meta is None:
                    index.forget([session_id])
                else:
                    index.store(meta, self._stamp_of(session_id))
            finally:
                lock.release()
        return index, overrides, problems, untrusted

    def _reconcile(self, index: SessionIndex) -> None:
        """Match the index's ids with the folder's (sessions copied in or removed by hand)."""
        # Read the index first: a session created between the two reads is then "new on disk"
        # (and indexed), never "known but gone" (and wrongly forgotten).
        known = index.ids()
        try:
            on_disk = {e.name for e in os.scandir(self.root) if is_session_id(e.name)}
        except OSError as exc:
            raise from_os_error(exc, self.root) from exc
        fresh: list[Indexed] = []
        for session_id in on_disk - known:
            try:
                fresh.append((self._read_metadata(session_id), self._stamp_of(session_id)))
            except SessionNotFound:
                continue
            except SessionError:
                index.mark_dirty(session_id)
        index.store_many(fresh, clear=[m.id for m, _ in fresh])
        index.forget(known - on_disk)

    def rebuild_index(self) -> int:
        """Drop the index and build it again from the files; returns the number of sessions indexed."""
        self._drop_index()
        self._index_broken = False
        if not self._check_guarded():
            return 0
        try:
            self._reconcile(self._index)
            self._index.record_root_mtime(self._root_mtime())
            return self._index.count()
        except IndexUnavailable as exc:
            raise StorageError(f"the index cannot be written ({exc})", self._index.path) from exc

    def _replace_damaged_index(self) -> None:
        """Rows of the index could not be read: it is only a cache, so build it again from the
        files (as an index of an older schema is); if even that fails, drop it and let readers
        read the files until the next change."""
        try:
            self.rebuild_index()
        except (SessionError, OSError):
            self._drop_index()

    def index_problems(self) -> list[str]:
        """Differences between the index and the files (for ``doctor``); empty when they agree."""
        index = self._open_index()
        if index is None or not self._check_guarded():
            return []
        if not os.path.exists(index.path):
            return ["the index is missing (listings read every file until the next change rebuilds it)"]
        try:
            indexed = {m.id: m for m, _ in index.select()}
            dirty = set(index.dirty_ids())
        except IndexUnavailable as exc:
            return [f"the index cannot be read ({exc})"]
        problems: list[str] = []
        on_disk = {e.name for e in os.scandir(self.root) if is_session_id(e.name)}
        for session_id in sorted(on_disk):
            try:
                meta = self._read_metadata(session_id)
            except SessionError:
                continue
            if session_id in dirty:
                continue
            row = indexed.get(session_id)
            if row is None:
                problems.append(f"session {session_id[:8]} is missing from the index")
            elif row != meta:
                problems.append(f"the index row of session {session_id[:8]} is stale")
        for session_id in sorted(set(indexed) - on_disk):
            problems.append(f"the index lists session {session_id[:8]}, which no longer exists")
        return problems

    def names_lock(self) -> contextlib.AbstractContextManager[None]:
        """The project-wide lock held while checking and assigning a unique session name."""
        return self._locked(NAMES_LOCK, "the session names")

    # ------------------------------------------------------------------ metadata

    def _parse_metadata(self, session_id: str, data: bytes, path: Path) -> SessionMetadata:
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
        if meta.id != session_id:
            raise CorruptedSession(
                session_id, f"{METADATA_FILE} names a different id ({shorten(meta.id)})", path
            )
        return meta

    def _read_metadata(self, session_id: str) -> SessionMetadata:
        folder = self._check_session_dir(session_id)
        path = folder / METADATA_FILE
        try:
            data = self._read_bytes(path, MAX_METADATA_BYTES)
        except FileNotFoundError:
            if os.path.lexists(folder / CONVERSATION_FILE):
                raise CorruptedSession(session_id, f"{METADATA_FILE} is missing", path) from None
            raise SessionNotFound(session_id) from None
        except OSError as exc:
            if exc.errno == getattr(os, "ELOOP", -1) or os.path.islink(path):
                raise UnsafePath(path, "is a symbolic link") from exc
            if isinstance(exc, IsADirectoryError):
                raise CorruptedSession(session_id, f"{METADATA_FILE} is not a file", path) from exc
            raise from_os_error(exc, path) from exc
        return self._parse_metadata(session_id, data, path)

    def _write_metadata(self, metadata: SessionMetadata) -> None:
        folder = self._session_dir(metadata.id)
        self._atomic_write(folder, METADATA_FILE, metadata.to_json().encode("utf-8"))
        self._note_change()

    def _note_change(self) -> None:
        """Bump the change token other processes poll (one byte appended to ``.changes``)."""
        path = self.root / CHANGES_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC, FILE_MODE)
        except OSError:
            return  # the token is a hint for caches; the data itself is already safe
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

    def get(self, session_id: str) -> SessionMetadata:
        """The session's metadata, migrated in memory (the file is upgraded on the next write)."""
        return self._read_metadata(session_id)

    def exists(self, session_id: str) -> bool:
        """True if a folder for this (valid) id holds a metadata or transcript file."""
        if not is_session_id(session_id) or not self._check_guarded():
            return False
        folder = self.root / session_id
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return False
        except OSError:
            return False
        return os.path.lexists(folder / METADATA_FILE) or os.path.lexists(folder / CONVERSATION_FILE)

    def root_exists(self) -> bool:
        """True if the sessions folder exists (symlinked guard folders raise :class:`UnsafePath`)."""
        return self._check_guarded()

    def save(self, metadata: SessionMetadata) -> None:
        """Create or replace the session's metadata (atomically, under the session lock).

        Metadata written by a newer chatcli is never overwritten; a corrupted file is moved to
        ``.quarantine/`` before it is replaced.
        """
        folder = self._session_dir(metadata.id)
        with self.session_lock(metadata.id):
            created = False
            try:
                created = self._mkdir(folder)
                if created:
                    _fsync_dir(self.root)
                else:
                    self._set_aside_bad_metadata(metadata.id)
                self._write_metadata(metadata)
            except (OSError, SessionError) as exc:
                if created:
                    # A new session whose metadata could not be written leaves no empty folder behind.
                    with contextlib.suppress(OSError):
                        os.rmdir(folder)
                if isinstance(exc, OSError):
                    raise from_os_error(exc, folder) from exc
                raise

    def _set_aside_bad_metadata(self, session_id: str) -> None:
        """Move a corrupted ``metadata.json`` to quarantine; a newer version raises, untouched."""
        try:
            self._read_metadata(session_id)
        except SessionNotFound:
            return
        except CorruptedSession as exc:
            if exc.path is not None and exc.path.name == METADATA_FILE and os.path.lexists(exc.path):
                self._quarantine(exc.path, f"{session_id}-metadata-{stamp()}.json")

    def remove_stale_lock(self, session_id: str) -> bool:
        """Remove the lock file of a session that no longer exists; False if it is in use or the
        session exists again.

        The lock is taken without waiting, so a creation or deletion in progress (which holds it)
        is never raced; a process that opened the file just before it was unlinked notices and
        starts over on the new path (filelock checks the link count after locking).
        """
        path = self.root / LOCKS_DIR / f"{self._session_dir(session_id).name}.lock"
        lock = self._lock(path.name)
        try:
            lock.acquire(timeout=0)
        except Exception as exc:
            from filelock import Timeout

            if isinstance(exc, Timeout):
                return False
            if isinstance(exc, OSError):
                raise from_os_error(exc, path) from exc
            raise
        try:
            if os.path.lexists(self.root / session_id):
                return False
            os.unlink(path)
        except OSError as exc:
            raise from_os_error(exc, path) from exc
        finally:
            lock.release()
        return True

    def quarantine_file(self, path: Path, new_name: str) -> Path:
        """Move ``path`` (a file or folder inside the sessions tree) into ``.quarantine/``."""
        return self._quarantine(path, new_name)

    def _quarantine(self, path: Path, new_name: str) -> Path:
        target_dir = self.root / QUARANTINE_DIR
        try:
            self._mkdir(target_dir)
            target = target_dir / new_name
            os.rename(path, target)
            _fsync_dir(target_dir)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise from_os_error(exc, path) from exc
        return target

    def update(self, session_id: str, change: Callable[[SessionMetadata], None]) -> SessionMetadata:
        """Read, change and write back the metadata under the session lock; returns the result."""
        with self.session_lock(session_id):
            meta = self._read_metadata(session_id)
            change(meta)
            if meta.id != session_id:
                raise InvalidMetadata("a session's id cannot be changed")
            self._write_metadata(meta)
            return meta

    def delete(self, session_id: str) -> None:
        """Remove the session folder (renamed away first, so a crash never leaves half a session)."""
        with self.session_lock(session_id):
            folder = self._check_session_dir(session_id)
            doomed = self.root / f".deleted-{session_id}-{os.urandom(4).hex()}"
            try:
                os.rename(folder, doomed)
                _fsync_dir(self.root)
            except OSError as exc:
                raise from_os_error(exc, folder) from exc
            self._note_change()
            with contextlib.suppress(OSError):
                # Safe: ids are never reused, so nobody can need this lock file again.
                (self.root / LOCKS_DIR / f"{session_id}.lock").unlink()
            try:
                shutil.rmtree(doomed)
            except OSError as exc:
                raise StorageError(
                    "the session is gone from the list but some of its files could not be erased "
                    f"({exc.strerror})",
                    doomed,
                ) from exc

    def list(self, flt: SessionFilter | None = None) -> SessionList:
        """Every readable session matching ``flt``, newest first; unreadable ones go to ``problems``.

        Served from the index (kept in step with the files, see :mod:`chatcli.session.index`);
        if the index cannot be used, every metadata file is read instead.
        """
        items, problems, _ = self._listing(flt or SessionFilter(), SessionIndex.select, _same)
        return SessionList(items, problems)

    def list_briefs(self, flt: SessionFilter | None = None) -> BriefList:
        """:meth:`list` as briefs: served from the index without building a model per session;
        ``total`` counts every session that matched (the limit aside)."""
        items, problems, total = self._listing(
            flt or SessionFilter(), SessionIndex.select_briefs, SessionBrief.of, count=True
        )
        return BriefList(items, problems, total)

    def _listing(
        self,
        flt: SessionFilter,
        select: Callable[..., Sequence[tuple[_Item, str]]],
        fresh: Callable[[SessionMetadata], _Item],
        *,
        count: bool = False,
    ) -> tuple[builtins.list[_Item], builtins.list[SessionError], int | None]:
        """The listing behind :meth:`list` and :meth:`list_briefs`: ``select`` reads rows from the
        index, ``fresh`` converts metadata read from the files (changed, dirty or unindexed);
        with ``count``, also how many sessions matched before the limit."""
        if not self._check_guarded():
            return [], [], 0
        synced = self._synced_index()
        if synced is not None:
            index, overrides, problems, untrusted = synced
            limit = None if flt.limit is None else flt.limit + len(untrusted)
            try:
                indexed = select(index, status=flt.status, search=flt.search, limit=limit)
                found: list[SessionError] = []
                rows = self._verified([r for r in indexed if r[0].id not in untrusted], found, fresh)
                if limit is not None and len(indexed) == limit and len(rows) + len(overrides) < limit:
                    # Rows dropped as changed on disk left the page short: verify the whole listing.
                    found = []
                    unlimited = select(index, status=flt.status, search=flt.search)
                    rows = self._verified([r for r in unlimited if r[0].id not in untrusted], found, fresh)
                rows += [fresh(m) for m in overrides]
                shown = apply_filter(rows, flt)
                total = None
                if count:
                    total = len(shown)
                    if flt.limit is not None and len(shown) >= flt.limit:
                        total = index.count_matching(status=flt.status, search=flt.search)
                return shown, [*problems, *found], total
            except IndexUnavailable:
                self._replace_damaged_index()
        scanned = self._scan(replace(flt, limit=None))
        kept = scanned if flt.limit is None else scanned[: max(flt.limit, 0)]
        return [fresh(m) for m in kept], scanned.problems, len(scanned)

    def briefs(self, status: SessionStatus | None = None) -> _Briefs:
        """Every session (of ``status``) newest first, in brief: cheap enough for 100,000 sessions."""
        return list(self.iter_briefs(status, page=None))

    def iter_briefs(
        self, status: SessionStatus | None = None, *, page: int | None = 128
    ) -> Iterator[SessionBrief]:
        """:meth:`briefs`, read from the index a page at a time (pages double in size up to
        8,192; ``page`` None reads them all at once): a search that stops after the newest
        sessions never loads the other 100,000."""
        if not self._check_guarded():
            return
        synced = self._synced_index()
        if synced is None:
            yield from self._scanned_briefs(status)
            return
        index, overrides, _, untrusted = synced
        pages = self._index_pages(index, status, untrusted, page)
        extra = sorted(
            (SessionBrief.of(m) for m in overrides if status is None or m.status is status),
            key=_recency,
            reverse=True,
        )
        yield from heapq.merge(pages, extra, key=_recency, reverse=True) if extra else pages

    def _scanned_briefs(self, status: SessionStatus | None) -> Iterator[SessionBrief]:
        """Briefs read from every metadata file (when the index cannot be used)."""
        return (SessionBrief.of(m) for m in self._scan(SessionFilter(status)))

    def _index_pages(
        self, index: SessionIndex, status: SessionStatus | None, untrusted: set[str], page: int | None
    ) -> Iterator[SessionBrief]:
        before: tuple[datetime, str] | None = None
        while True:
            try:
                rows = index.briefs(status, before=before, limit=page)
            except IndexUnavailable:
                # The index failed (maybe mid-way): go on from the files, after what was read.
                self._replace_damaged_index()
                yield from (b for b in self._scanned_briefs(status) if before is None or _recency(b) < before)
                return
            yield from (b for b in rows if b.id not in untrusted)
            if page is None or len(rows) < page:
                return
            before = _recency(rows[-1])
            page = min(page * 2, 8192)

    def find_by_name(self, name: str) -> _Metas:
        """Sessions named ``name``, ignoring case."""
        lowered = name.lower()
        synced = self._synced_index() if self._check_guarded() else None
        if synced is not None:
            index, overrides, _, untrusted = synced
            with contextlib.suppress(IndexUnavailable):
                found = self._verified(
                    [r for r in index.by_name(lowered) if r[0].id not in untrusted], [], _same
                )
                rows = [m for m in found if m.name is not None and m.name.lower() == lowered]
                return rows + [m for m in overrides if m.name is not None and m.name.lower() == lowered]
        return [m for m in self.list() if m.name is not None and m.name.lower() == lowered]

    def find_by_prefix(self, prefix: str) -> _Metas:
        """Sessions whose id starts with ``prefix`` (lowercase), newest first."""
        synced = self._synced_index() if self._check_guarded() else None
        if synced is not None:
            index, overrides, _, untrusted = synced
            with contextlib.suppress(IndexUnavailable):
                rows = self._verified(
                    [r for r in index.by_prefix(prefix) if r[0].id not in untrusted], [], _same
                )
                return rows + [m for m in overrides if m.id.startswith(prefix)]
        return [m for m in self.list() if m.id.startswith(prefix)]

    def _scan(self, flt: SessionFilter) -> SessionList:
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
                found.append(self._read_metadata(entry.name))
            except SessionNotFound:
                continue
            except SessionError as exc:
                problems.append(exc)
        return SessionList(apply_filter(found, flt), problems)

    # ------------------------------------------------------------------ transcripts

    def create(self, metadata: SessionMetadata, messages: Sequence[Message] = ()) -> None:
        """Create a whole session at once (import, fork): staged in a hidden folder, then renamed in."""
        folder = self._session_dir(metadata.id)
        with self.session_lock(metadata.id):
            if os.path.lexists(folder):
                raise SessionAlreadyExists(
                    f"session {metadata.id}", "Import skips it; fork it to get a copy."
                )
            staging = self.root / f".staging-{metadata.id}-{os.urandom(4).hex()}"
            try:
                self._mkdir(staging)
                if messages:
                    body = "".join(m.to_line() + "\n" for m in messages).encode("utf-8")
                    self._atomic_write(staging, CONVERSATION_FILE, body)
                self._atomic_write(staging, METADATA_FILE, metadata.to_json().encode("utf-8"))
                os.rename(staging, folder)
                _fsync_dir(self.root)
                self._note_change()
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise from_os_error(exc, folder) from exc
            except SessionError:
                shutil.rmtree(staging, ignore_errors=True)
                raise

    def append_message(self, session_id: str, message: Message) -> SessionMetadata:
        """Append one message durably (write + fsync) and update the metadata; returns it.

        A torn last line left by a crash is set aside before the append. If the metadata is
        corrupted it is rebuilt from the transcript first, so a chat never stops on a bad file.
        """
        line = (message.to_line() + "\n").encode("utf-8")
        with self.session_lock(session_id):
            try:
                meta = self._read_metadata(session_id)
            except CorruptedSession:
                self._repair_locked(session_id)
                meta = self._read_metadata(session_id)
            folder = self._session_dir(session_id)
            path = folder / CONVERSATION_FILE
            start = self._append_line(session_id, path, line)
            meta.record_message(message)
            try:
                self._write_metadata(meta)
            except SessionError:
                if self._metadata_landed(meta):
                    return meta  # only the folder's fsync failed: the message itself is saved
                # The caller reports the message as not saved, so it must not stay in the transcript.
                self._cut_back(path, start)
                raise
            return meta

    def _metadata_landed(self, meta: SessionMetadata) -> bool:
        """True if the metadata on disk is ``meta`` (its write got as far as the rename)."""
        try:
            return self._read_metadata(meta.id) == meta
        except (OSError, SessionError):
            return False

    def _cut_back(self, path: Path, size: int) -> None:
        """Truncate the transcript back to ``size`` bytes (undoing this process's last append)."""
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_WRONLY | _O_NOFOLLOW | _O_CLOEXEC)
            try:
                if os.fstat(fd).st_size > size:
                    os.ftruncate(fd, size)
                    os.fsync(fd)
            finally:
                os.close(fd)

    def _append_line(self, session_id: str, path: Path, line: bytes) -> int:
        """Append ``line`` (write + fsync); returns the offset it starts at."""
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC
        try:
            fd = os.open(path, flags, FILE_MODE)
        except OSError as exc:
            if os.path.islink(path):
                raise UnsafePath(path, "is a symbolic link") from exc
            raise from_os_error(exc, path) from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UnsafePath(path, "is not a regular file")
            size = st.st_size
            if size == 0:
                os.fchmod(fd, FILE_MODE)
            elif os.pread(fd, 1, size - 1) != b"\n":
                size = self._mend_tail(session_id, fd, size)
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError:
                # Leave no partial line behind: cut back to where this append started.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                    os.fsync(fd)
                raise
        except OSError as exc:
            raise from_os_error(exc, path) from exc
        finally:
            os.close(fd)
        return size

    def _mend_tail(self, session_id: str, fd: int, size: int) -> int:
        """Fix a last line that lacks its newline; returns the new file size.

        A complete message missing only the newline gets it; anything else (a torn write) is
        copied to ``.quarantine/`` and cut off. Complete lines are never touched.
        """
        start = _last_newline(fd, size) + 1
        tail = os.pread(fd, size - start, start)
        if _line_parser()(tail) is not None:
            # pwrite: ``fd`` may not be in append mode (repair opens it plainly), and a write at the
            # current offset would overwrite the first byte of the file.
            if os.pwrite(fd, b"\n", size) != 1:
                raise OSError(errno.EIO, "short write", str(self.root / session_id / CONVERSATION_FILE))
            os.fsync(fd)
            return size + 1
        self._mkdir(self.root / QUARANTINE_DIR)
        self._write_new_file(self.root / QUARANTINE_DIR / f"{session_id}-torn-{stamp()}.jsonl", tail)
        os.ftruncate(fd, start)
        os.fsync(fd)
        return start

    def transcript_bytes(self, session_id: str) -> bytes:
        """The raw transcript (empty if the session has none yet); links are never followed."""
        folder = self._check_session_dir(session_id)
        path = folder / CONVERSATION_FILE
        try:
            return self._read_bytes(path)
        except FileNotFoundError:
            if not os.path.lexists(folder / METADATA_FILE):
                raise SessionNotFound(session_id) from None
            return b""
        except OSError as exc:
            if os.path.islink(path):
                raise UnsafePath(path, "is a symbolic link") from exc
            raise from_os_error(exc, path) from exc

    def load_messages(self, session_id: str) -> Transcript:
        """Every readable message, oldest first; bad lines are skipped and reported, never fatal."""
        folder = self._check_session_dir(session_id)
        if not os.path.lexists(folder / METADATA_FILE) and not os.path.lexists(folder / CONVERSATION_FILE):
            raise SessionNotFound(session_id)
        path = folder / CONVERSATION_FILE
        try:
            data = self._read_bytes(path)
        except FileNotFoundError:
            return Transcript()
        except OSError as exc:
            if os.path.islink(path):
                raise UnsafePath(path, "is a symbolic link") from exc
            raise from_os_error(exc, path) from exc
        return parse_transcript(data)

    # ------------------------------------------------------------------ repair

    def repair(self, session_id: str, *, quarantine_bad_lines: bool = False) -> RepairReport:
        """Make one session loadable without losing data (see :meth:`_repair_locked`).

        With ``quarantine_bad_lines`` unreadable transcript lines are also moved to
        ``.quarantine/`` (they are skipped on load either way).
        """
        with self.session_lock(session_id):
            return self._repair_locked(session_id, quarantine_bad_lines=quarantine_bad_lines)

    def _quarantine_bad_lines(self, session_id: str, report: RepairReport) -> None:
        """Rewrite the transcript without its unreadable lines, which are kept in ``.quarantine/``."""
        folder = self._session_dir(session_id)
        path = folder / CONVERSATION_FILE
        try:
            data = self._read_bytes(path)
        except OSError as exc:
            raise from_os_error(exc, path) from exc
        good: list[bytes] = []
        bad: list[bytes] = []
        parse = _line_parser()
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            (good if parse(raw) is not None else bad).append(raw)
        if not bad:
            return
        try:
            self._mkdir(self.root / QUARANTINE_DIR)
        except OSError as exc:
            raise from_os_error(exc, self.root) from exc
        kept = self.root / QUARANTINE_DIR / f"{session_id}-badlines-{stamp()}.jsonl"
        self._atomic_write(kept.parent, kept.name, b"".join(line + b"\n" for line in bad))
        self._atomic_write(folder, CONVERSATION_FILE, b"".join(line + b"\n" for line in good))
        report.actions.append(f"moved {len(bad)} unreadable line(s) to {kept}")

    def _repair_locked(self, session_id: str, *, quarantine_bad_lines: bool = False) -> RepairReport:
        """Mend a torn transcript tail and rebuild missing or corrupted metadata from the transcript.

        Metadata of a newer version is left untouched (:class:`UnsupportedVersion`); broken files
        are moved to ``.quarantine/``, never deleted.
        """
        report = RepairReport(session_id)
        folder = self._check_session_dir(session_id)
        # Temp files of metadata writes killed mid-way; every such write holds this lock, so they are stale.
        stale = [p for p in folder.glob(f".{METADATA_FILE}.*.tmp") if not p.is_symlink() and p.is_file()]
        try:
            for path in stale:
                path.unlink(missing_ok=True)
        except OSError as exc:
            raise from_os_error(exc, folder) from exc
        if stale:
            report.actions.append(f"removed {len(stale)} unfinished temporary file(s)")
        conv = folder / CONVERSATION_FILE
        if os.path.lexists(conv):
            try:
                fd = os.open(conv, os.O_RDWR | _O_NOFOLLOW | _O_CLOEXEC)
            except OSError as exc:
                if os.path.islink(conv):
                    raise UnsafePath(conv, "is a symbolic link") from exc
                raise from_os_error(exc, conv) from exc
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    new_size = self._mend_tail(session_id, fd, size)
                    if new_size > size:
                        report.actions.append("added the missing newline after the last message")
                    else:
                        report.actions.append(
                            f"set aside an incomplete last line ({size - new_size} bytes) "
                            f"in {QUARANTINE_DIR}/"
                        )
            except OSError as exc:
                raise from_os_error(exc, conv) from exc
            finally:
                os.close(fd)
        transcript = self.load_messages(session_id)
        if transcript.skipped_lines and quarantine_bad_lines:
            self._quarantine_bad_lines(session_id, report)
            transcript = self.load_messages(session_id)
        if transcript.skipped_lines:
            report.problems.append(transcript.warnings[0])
        try:
            current = self._read_metadata(session_id)
        except UnsupportedVersion:
            raise
        except CorruptedSession as exc:
            broken = exc.path if exc.path is not None and os.path.lexists(exc.path) else None
            reason = exc.reason
        else:
            # A crash between the transcript append and the metadata write leaves the count behind.
            changed = []
            if current.message_count != len(transcript.messages):
                changed.append(f"the message count ({current.message_count} -> {len(transcript.messages)})")
                current.message_count = len(transcript.messages)
            if transcript.messages and current.last_active < transcript.messages[-1].timestamp:
                changed.append("last_active (it was older than the last message)")
                current.last_active = transcript.messages[-1].timestamp
            if changed:
                self._write_metadata(current)
                report.actions.append("corrected " + " and ".join(changed))
            return report
        salvaged: dict[str, object] = {}
        if broken is not None:
            with contextlib.suppress(OSError, ValueError, SessionError):
                raw = json.loads(self._read_bytes(broken, MAX_METADATA_BYTES))
                if isinstance(raw, dict):
                    salvaged = raw
            kept = self._quarantine(broken, f"{session_id}-metadata-{stamp()}.json")
            report.actions.append(f"moved the corrupted {METADATA_FILE} to {kept}")
        meta = rebuild_metadata(session_id, transcript.messages, salvaged, fallback_time=_folder_time(folder))
        self._write_metadata(meta)
        report.actions.append(f"rebuilt {METADATA_FILE} from the transcript ({reason})")
        return report


def _folder_time(folder: Path) -> float:
    try:
        return os.lstat(folder).st_mtime
    except OSError:
        return 0.0


def rebuild_metadata(
    session_id: str,
    messages: Sequence[Message],
    salvaged: Mapping[str, object],
    *,
    fallback_time: float = 0.0,
) -> SessionMetadata:
    """Metadata derived from a transcript, keeping any still-valid name and status from ``salvaged``."""
    from pydantic import ValidationError

    from chatcli.session.models import SessionMetadata

    fallback = datetime.fromtimestamp(fallback_time, UTC) if fallback_time else utc_now()
    meta = SessionMetadata.from_messages(session_id, messages, when_empty=fallback)
    name = salvaged.get("name")
    if isinstance(name, str):
        with contextlib.suppress(SessionError):
            meta.name = validate_session_name(name)
    status = salvaged.get("status")
    if status in {s.value for s in SessionStatus}:
        meta.status = SessionStatus(str(status))
    custom = salvaged.get("custom_fields")
    if isinstance(custom, dict):
        with contextlib.suppress(ValidationError):
            meta.custom_fields = dict(custom)
    return meta


def _last_newline(fd: int, size: int) -> int:
    """Offset of the last ``\\n`` before ``size`` (-1 if none), reading backwards in blocks."""
    block = 65536
    end = size
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        idx = chunk.rfind(b"\n")
        if idx >= 0:
            return start + idx
        end = start
    return -1


def _line_parser() -> Callable[[bytes], Message | None]:
    """A parser of one transcript line; invalid UTF-8 is replaced rather than losing the line.

    Made once per file read (it imports the models), then called for every line.
    """
    from pydantic import ValidationError

    from chatcli.session.models import Message

    validate = Message.model_validate_json

    def parse(raw: bytes) -> Message | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            return validate(raw)
        except ValidationError:
            pass
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                return validate(raw.decode("utf-8", "replace"))
            except ValidationError:
                return None
        return None

    return parse


def parse_transcript(data: bytes) -> Transcript:
    """Parse ``conversation.jsonl`` bytes into a :class:`Transcript` (never raises on bad lines)."""
    transcript = Transcript()
    if not data:
        return transcript
    lines = data.split(b"\n")
    last = lines.pop()
    parse = _line_parser()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        message = parse(raw)
        if message is None:
            transcript.skipped_lines.append(number)
        else:
            transcript.messages.append(message)
    if last:
        transcript.torn_tail = True
        message = parse(last)
        if message is not None:
            transcript.messages.append(message)
    return transcript
