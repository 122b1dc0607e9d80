"""Creating whole sessions, many at once: the store's one create protocol (import, fork).

Each session is staged in a hidden folder of the sessions folder and renamed into place, so a
reader (or a crash) sees it whole or not at all. What a batch shares is the waiting: the index
marks every session of the batch dirty in one transaction, the staged files are made durable
by one flush of the whole file system (Linux ``syncfs``; elsewhere each is flushed, several
sessions at once, so their flushes share the disk's commits), the renames by one flush of the
sessions folder, and the rows and the messages (the content index) are stored in one
transaction.

Order, per batch:

1. the sessions are marked dirty in the index (one synced transaction);
2. each is staged: a hidden folder holding its transcript and ``metadata.json``;
3. every staged file and folder is flushed;
4. each staged folder is renamed to its session's folder, then the sessions folder is flushed;
5. the rows and the messages of the new transcripts are stored and the marks cleared (one
   transaction; the messages are taken from memory, as they were written). In a series of
   batches (:class:`Creator`, an import) this runs on a thread of its own once the next batch
   is marked, while that batch is written (SQLite lets the interpreter go while it works), and
   is waited for before the batch after it is marked; the last one runs when the series ends.

A crash before 4 leaves only hidden staging folders (``doctor`` reports them); during 4, whole
sessions, each already flushed; a crash anywhere leaves the marks, so readers re-read those
sessions from their files, and their messages, never indexed, are indexed by the next search.
A session is reported created only once step 4's flush is done. A failure of step 5 costs only
the index (it is dropped, see :meth:`.IndexSync.sync_many`); anything else it raises is raised
by the next batch, or when the series ends.

No session lock is taken (at 10,000 sessions, creating their lock files would cost more than
everything else): nothing else can be writing a session that does not exist yet. A new id is
random (a fork), or comes from an import, which holds the names lock throughout, so imports
never race each other; and the rename of a staged folder, never empty, cannot replace a
session: renaming onto a folder that holds anything fails (the session is then reported as
existing). A reader that settles a marked session meanwhile finds no folder yet and forgets
its row, which step 5 then stores.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from chatcli.session.errors import (
    SerializationError,
    SessionAlreadyExists,
    SessionError,
    from_os_error,
)
from chatcli.session.store import durable
from chatcli.session.store.content_bulk import Written, prepare
from chatcli.session.store.files import SessionFiles, stamp
from chatcli.session.store.index_sync import IndexSync
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE, staging_name
from chatcli.session.store.locks import SessionLocks

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata

__all__ = ["Creator", "NewSession", "create_sessions"]

#: Sessions staged at once: their files' flushes, issued together, share the disk's commits.
_WRITERS = 8

#: A session to create: its metadata and its messages.
NewSession = tuple["SessionMetadata", "Sequence[Message]"]


def _exists(session_id: str) -> SessionAlreadyExists:
    return SessionAlreadyExists(f"session {session_id}", "Import skips it; fork it to get a copy.")


def create_sessions(
    files: SessionFiles,
    locks: SessionLocks,
    sync: IndexSync,
    sessions: Sequence[NewSession],
    *,
    index_content: bool = True,
) -> list[SessionError | None]:
    """Create each session of ``sessions`` whole (see the module's docstring for the order);
    with ``index_content`` False their messages are left to the next search to index.

    Returns one outcome per session: None when it was created (and is durable),
    :class:`SessionAlreadyExists` when its id is taken (also by an earlier one of the batch),
    another :class:`SessionError` when its id is invalid or it cannot be written as JSON. A failure of
    the store itself (disk full, permissions) raises :class:`StorageError` and creates none of
    the batch.
    """
    with Creator(files, locks, sync, index_content=index_content) as create:
        return create(sessions)


class Creator:
    """Creates batches of new sessions one after the other (an import), each as
    :func:`create_sessions` does, with one difference: a batch's index transaction (step 5)
    runs on a thread of its own while the next batch is checked and written (SQLite lets the
    interpreter go while it works). Everything is done when the context exits.

    A batch is marked before the previous one's index transaction starts: marks and that
    transaction never wait for each other, and the next batch's sessions are marked before
    any index transaction could record the folder's mtime that their renames move.
    """

    def __init__(
        self, files: SessionFiles, locks: SessionLocks, sync: IndexSync, *, index_content: bool
    ) -> None:
        self.files = files
        self.locks = locks
        self.sync = sync
        self.index_content = index_content
        self._pool: ThreadPoolExecutor | None = None
        #: The index transaction running, and the one waiting for the next batch's marks.
        self._running: Future[None] | None = None
        self._deferred: Callable[[], None] | None = None
        #: The sessions folder's mtime after this creator's last renames (None: none yet).
        self._own_mtime: int | None = None

    def __enter__(self) -> Creator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the index transaction running, then run the last one (an error of either,
        never expected, is raised once both ran)."""
        try:
            self._wait()
        finally:
            job, self._deferred = self._deferred, None
            try:
                if job is not None:
                    job()
            finally:
                if self._pool is not None:
                    self._pool.shutdown()
                    self._pool = None

    def __call__(self, sessions: Sequence[NewSession]) -> list[SessionError | None]:
        """Create one batch (see :func:`create_sessions` for the outcomes)."""
        outcomes: list[SessionError | None] = [None] * len(sessions)
        self.files.ensure_root()
        self.files.check_changes()  # every write ends by touching it: refuse a planted one first
        with durable.translated(self.locks.folder):
            # No lock is taken, but the folder readers lock settled sessions in must be there.
            durable.make_dir(self.locks.folder)
        todo: list[int] = []
        seen: set[str] = set()
        for position, (meta, _) in enumerate(sessions):
            try:
                folder = self.files.session_dir(meta.id)
            except SessionError as exc:
                outcomes[position] = exc
                continue
            if meta.id in seen or os.path.lexists(folder):
                outcomes[position] = _exists(meta.id)
                continue
            seen.add(meta.id)
            todo.append(position)
        if todo:
            self._create_batch(sessions, todo, outcomes)
        return outcomes

    def _wait(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            running.result()

    def _create_batch(
        self, sessions: Sequence[NewSession], todo: list[int], outcomes: list[SessionError | None]
    ) -> None:
        """Steps 1 to 4 for the sessions at positions ``todo``; step 5 is left for later (the
        previous batch's runs meanwhile)."""
        files, created = self.files, []
        self._wait()
        self.sync.mark(*(sessions[i][0].id for i in todo), own_mtime=self._own_mtime)
        job, self._deferred = self._deferred, None
        if job is not None:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="chatcli-index")
            self._running = self._pool.submit(job)
        try:
            try:
                staged = _stage(files.root, sessions, todo, outcomes)
            except OSError as exc:
                raise from_os_error(exc, files.root) from exc
            try:
                created = _move_in(files.root, sessions, staged, outcomes)
                durable.fsync_dir(files.root)
            except OSError as exc:
                _undo(files.root, sessions, [item.folder for item in staged], created)
                created = []
                raise from_os_error(exc, files.root) from exc
            files.note_change()
            self._own_mtime = files.root_mtime()
        finally:
            self._deferred = self._step5(sessions, todo, created)

    def _step5(
        self, sessions: Sequence[NewSession], todo: list[int], created: list[_Staged]
    ) -> Callable[[], None]:
        """The index transaction of a batch whose sessions ``created`` were moved in (if its
        rows cannot even be prepared, each session is synced from its files instead: the
        index is a cache, its failure never fails the write)."""
        done = {item.position for item in created}
        others = [sessions[i][0].id for i in todo if i not in done]
        try:
            prepared = prepare(
                [(sessions[item.position][0], stamp(item.metadata)) for item in created],
                [
                    Written(
                        sessions[item.position][0].id, sessions[item.position][1], item.transcript, item.body
                    )
                    for item in created
                    if self.index_content and self.sync.usable() is not None
                ],
            )
        except Exception as exc:
            from chatcli.logs import log_exception

            log_exception(exc, "preparing the index rows of new sessions")
            prepared, others = prepare([], []), [sessions[i][0].id for i in todo]
        return functools.partial(self.sync.sync_many, prepared, others)


def _unwritable(exc: Exception) -> SerializationError:
    """Why a session could not be written as JSON (the traceback is logged: it may be a bug)."""
    from chatcli.logs import log_exception

    log_exception(exc, "writing a new session")
    return SerializationError(f"it holds a value chatcli cannot store ({type(exc).__name__})")


class _Staged(NamedTuple):
    """A session staged: its position in the batch, its staging folder, and the status of its
    transcript (None: it has none) and of its metadata file, once written."""

    position: int
    folder: str
    transcript: os.stat_result | None
    metadata: os.stat_result
    body: bytes | None


def _write_staged(
    staging: str, transcript: bytes | None, metadata: bytes, *, flush: bool
) -> tuple[os.stat_result | None, os.stat_result]:
    """One staged session: its folder and its files written (each flushed, and the folder,
    unless ``flush`` is False: the caller then flushes the file system). Returns the files'
    status."""
    durable.make_dir(staging)
    written = (
        None
        if transcript is None
        else durable.write_new(f"{staging}{os.sep}{CONVERSATION_FILE}", transcript, flush=flush)
    )
    head = durable.write_new(f"{staging}{os.sep}{METADATA_FILE}", metadata, flush=flush)
    if flush:
        durable.fsync_dir(staging)
    return written, head


def _stage(
    root: Path, sessions: Sequence[NewSession], todo: list[int], outcomes: list[SessionError | None]
) -> list[_Staged]:
    """Steps 2 and 3: each session staged, then flushed; a session that cannot be written as
    JSON gets its outcome instead. Several sessions are written one after the other and flushed
    by one flush of the whole file system where there is one (Linux), else written by several
    threads at once, each file flushed (the file system then commits the flushes together).
    ``OSError`` (after every staging folder is removed) is left to the caller."""
    from chatcli.session.models import Message  # loaded already: the sessions are its instances

    jobs: list[tuple[int, str, bytes | None, bytes]] = []
    unique, folder = os.urandom(4).hex(), f"{root}{os.sep}"
    for position in todo:
        meta, messages = sessions[position]
        try:
            body = Message.lines(messages) if messages else None
            head = meta.to_json().encode("utf-8")
        except Exception as exc:  # whatever one session holds, it costs only that session
            outcomes[position] = _unwritable(exc)
            continue
        jobs.append((position, folder + staging_name(meta.id, unique), body, head))
    try:
        if len(jobs) > 1 and durable.can_sync_filesystem():
            written = [_write_staged(*job[1:], flush=False) for job in jobs]
            durable.sync_filesystem(root)
        else:
            written = _write_flushed(jobs)
    except BaseException:
        _undo(root, sessions, [job[1] for job in jobs], [])
        raise
    return [_Staged(job[0], job[1], *files, job[2]) for job, files in zip(jobs, written, strict=True)]


def _write_flushed(
    jobs: list[tuple[int, str, bytes | None, bytes]],
) -> list[tuple[os.stat_result | None, os.stat_result]]:
    """Each job staged with its own flushes, several at once."""
    if len(jobs) == 1:
        return [_write_staged(*jobs[0][1:], flush=True)]
    with ThreadPoolExecutor(_WRITERS, thread_name_prefix="chatcli-create") as pool:
        futures = [pool.submit(_write_staged, *job[1:], flush=True) for job in jobs]
    return [future.result() for future in futures]


def _move_in(
    root: Path,
    sessions: Sequence[NewSession],
    staged: list[_Staged],
    outcomes: list[SessionError | None],
) -> list[_Staged]:
    """Step 4's renames; a folder made meanwhile by hand keeps its place (the session is
    reported as existing). Returns the sessions moved in."""
    created: list[_Staged] = []
    folder = f"{root}{os.sep}"
    try:
        for item in staged:
            try:
                os.rename(item.folder, folder + sessions[item.position][0].id)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR):
                    raise
                outcomes[item.position] = _exists(sessions[item.position][0].id)
                shutil.rmtree(item.folder, ignore_errors=True)
                continue
            created.append(item)
    except OSError:
        _undo(root, sessions, [item.folder for item in staged], created)
        raise
    except BaseException:  # Ctrl-C: the sessions moved in stay (each whole); none stays staged
        for item in staged:
            shutil.rmtree(item.folder, ignore_errors=True)
        raise
    return created


def _undo(root: Path, sessions: Sequence[NewSession], staged: Sequence[str], moved: list[_Staged]) -> None:
    """Take back a failed batch: the sessions already moved in go back out, every staging
    folder is removed (what cannot be removed is a leftover ``doctor`` reports)."""
    for item in moved:
        with contextlib.suppress(OSError):
            os.rename(root / sessions[item.position][0].id, item.folder)
    for staging in staged:
        shutil.rmtree(staging, ignore_errors=True)
    if moved:
        with contextlib.suppress(OSError):
            durable.fsync_dir(root)
