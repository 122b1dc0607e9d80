"""Creating whole sessions, many at once: the store's one create protocol (import, fork).

Each session is staged in a hidden folder of the sessions folder and renamed into place, so a
reader (or a crash) sees it whole or not at all. What a batch shares is the waiting: the index
marks every session of the batch dirty in one transaction, the sessions are staged and
flushed by several threads at once (their flushes share the disk's commits), the renames are made
durable by one flush of the sessions folder, and the rows are stored in one transaction.

Order, per batch:

1. the sessions are marked dirty in the index (one synced transaction);
2. each is staged: a hidden folder holding its transcript and ``metadata.json``;
3. each staged file and folder is flushed (2 and 3 run for several sessions at once);
4. each staged folder is renamed to its session's folder, then the sessions folder is flushed;
5. the rows are stored and the marks cleared (one transaction).

A crash before 4 leaves only hidden staging folders (``doctor`` reports them); during 4, whole
sessions, each already flushed; a crash anywhere leaves the marks, so readers re-read those
sessions from their files. A session is reported created only once step 4's flush is done.

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
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.session.errors import (
    SerializationError,
    SessionAlreadyExists,
    SessionError,
    from_os_error,
)
from chatcli.session.store import durable
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.index_sync import IndexSync
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE, staging_name
from chatcli.session.store.locks import SessionLocks

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata

__all__ = ["NewSession", "create_sessions"]

#: Sessions staged at once: their files' flushes, issued together, share the disk's commits.
_WRITERS = 8

#: A session to create: its metadata and its messages.
NewSession = tuple["SessionMetadata", "Sequence[Message]"]


def _exists(session_id: str) -> SessionAlreadyExists:
    return SessionAlreadyExists(f"session {session_id}", "Import skips it; fork it to get a copy.")


def create_sessions(
    files: SessionFiles, locks: SessionLocks, sync: IndexSync, sessions: Sequence[NewSession]
) -> list[SessionError | None]:
    """Create each session of ``sessions`` whole (see the module's docstring for the order).

    Returns one outcome per session: None when it was created (and is durable),
    :class:`SessionAlreadyExists` when its id is taken (also by an earlier one of the batch),
    another :class:`SessionError` when its id is invalid or it cannot be written as JSON. A failure of
    the store itself (disk full, permissions) raises :class:`StorageError` and creates none of
    the batch.
    """
    outcomes: list[SessionError | None] = [None] * len(sessions)
    files.ensure_root()
    files.check_changes()  # every write ends by touching it: refuse a planted one first
    with durable.translated(locks.folder):
        # No lock is taken, but the folder readers lock settled sessions in must be there.
        durable.make_dir(locks.folder)
    todo: list[int] = []
    seen: set[str] = set()
    for position, (meta, _) in enumerate(sessions):
        try:
            folder = files.session_dir(meta.id)
        except SessionError as exc:
            outcomes[position] = exc
            continue
        if meta.id in seen or os.path.lexists(folder):
            outcomes[position] = _exists(meta.id)
            continue
        seen.add(meta.id)
        todo.append(position)
    if todo:
        _create_batch(files, sync, sessions, todo, outcomes)
    return outcomes


def _create_batch(
    files: SessionFiles,
    sync: IndexSync,
    sessions: Sequence[NewSession],
    todo: list[int],
    outcomes: list[SessionError | None],
) -> None:
    """Steps 1 to 5 for the sessions at positions ``todo``."""
    sync.mark(*(sessions[i][0].id for i in todo))
    created: list[int] = []
    try:
        try:
            staged = _stage(files.root, sessions, todo, outcomes)
        except OSError as exc:
            raise from_os_error(exc, files.root) from exc
        try:
            created = _move_in(files.root, sessions, staged, outcomes)
            durable.fsync_dir(files.root)
        except OSError as exc:
            _undo(files.root, sessions, staged, created)
            created = []
            raise from_os_error(exc, files.root) from exc
        files.note_change()
    finally:
        done = set(created)
        sync.sync_many([sessions[i][0] for i in created], [sessions[i][0].id for i in todo if i not in done])


def _unwritable(exc: Exception) -> SerializationError:
    """Why a session could not be written as JSON (the traceback is logged: it may be a bug)."""
    from chatcli.logs import log_exception

    log_exception(exc, "writing a new session")
    return SerializationError(f"it holds a value chatcli cannot store ({type(exc).__name__})")


def _write_staged(staging: Path, transcript: bytes | None, metadata: bytes) -> None:
    """One staged session: its folder, its files written and flushed, the folder flushed."""
    durable.make_dir(staging)
    if transcript is not None:
        durable.write_new(staging / CONVERSATION_FILE, transcript)
    durable.write_new(staging / METADATA_FILE, metadata)
    durable.fsync_dir(staging)


def _stage(
    root: Path, sessions: Sequence[NewSession], todo: list[int], outcomes: list[SessionError | None]
) -> list[tuple[int, Path]]:
    """Steps 2 and 3: each session staged and flushed, several at once (the file system then
    commits their flushes together); a session that cannot be written as JSON gets its outcome
    instead. ``OSError`` (after every staging folder is removed) is left to the caller."""
    jobs: list[tuple[int, Path, bytes | None, bytes]] = []
    for position in todo:
        meta, messages = sessions[position]
        try:
            body = "".join(m.to_line() + "\n" for m in messages).encode("utf-8") if messages else None
            head = meta.to_json().encode("utf-8")
        except Exception as exc:  # whatever one session holds, it costs only that session
            outcomes[position] = _unwritable(exc)
            continue
        jobs.append((position, root / staging_name(meta.id), body, head))
    staged = [(position, staging) for position, staging, _, _ in jobs]
    try:
        if len(jobs) == 1:
            _write_staged(*jobs[0][1:])
        elif jobs:
            with ThreadPoolExecutor(_WRITERS, thread_name_prefix="chatcli-create") as pool:
                futures = [pool.submit(_write_staged, *job[1:]) for job in jobs]
            for future in futures:
                future.result()
    except BaseException:
        _undo(root, sessions, staged, [])
        raise
    return staged


def _move_in(
    root: Path,
    sessions: Sequence[NewSession],
    staged: list[tuple[int, Path]],
    outcomes: list[SessionError | None],
) -> list[int]:
    """Step 4's renames; a folder made meanwhile by hand keeps its place (the session is
    reported as existing). Returns the positions moved in."""
    created: list[int] = []
    try:
        for position, staging in staged:
            try:
                os.rename(staging, root / sessions[position][0].id)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR):
                    raise
                outcomes[position] = _exists(sessions[position][0].id)
                shutil.rmtree(staging, ignore_errors=True)
                continue
            created.append(position)
    except OSError:
        _undo(root, sessions, staged, created)
        raise
    return created


def _undo(
    root: Path, sessions: Sequence[NewSession], staged: list[tuple[int, Path]], moved: list[int]
) -> None:
    """Take back a failed batch: the sessions already moved in go back out, every staging
    folder is removed (what cannot be removed is a leftover ``doctor`` reports)."""
    where = dict(staged)
    for position in moved:
        with contextlib.suppress(OSError):
            os.rename(root / sessions[position][0].id, where[position])
    for _, staging in staged:
        shutil.rmtree(staging, ignore_errors=True)
    if moved:
        with contextlib.suppress(OSError):
            durable.fsync_dir(root)
