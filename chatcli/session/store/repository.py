"""The file-backed session repository: orchestration of the store's parts.

Where things are on disk: :mod:`.layout`. How bytes reach the disk durably: :mod:`.durable`.
The metadata files and the tree's guards: :mod:`.files`. Locks: :mod:`.locks`. Transcripts:
:mod:`.transcript_file`. The index and its protocol: :mod:`.index`, :mod:`.index_sync`.
Repairs: :mod:`.repair`; ``sessions doctor``: :mod:`.doctor`.

Guarantees: metadata is replaced atomically (temp file, fsync, rename, fsync of the folder);
messages are appended with one write and an fsync before the call returns; every write holds the
session's lock, so read-modify-write never loses another process's update; ids are validated
before they touch a path and symbolic links inside the tree are refused, never followed; folders
are created 0700 and files 0600 whatever the umask.
"""

from __future__ import annotations

import builtins
import contextlib
import heapq
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from chatcli.session.errors import (
    CorruptedSession,
    InvalidMetadata,
    SessionError,
    StorageError,
    from_os_error,
)
from chatcli.session.fields import ChangeCursor, Changes, SessionBrief, SessionStatus, SessionView
from chatcli.session.location import SessionsLocation
from chatcli.session.outcomes import SearchResult
from chatcli.session.repository import BriefList, SessionFilter, SessionList, apply_filter
from chatcli.session.search import SearchOptions, SearchQuery, scan_all
from chatcli.session.store import changed, content_search, durable, transcript_file
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.index import IndexUnavailable, SessionIndex
from chatcli.session.store.index_sync import IndexSync
from chatcli.session.store.layout import (
    CONVERSATION_FILE,
    METADATA_FILE,
    NAMES_LOCK,
    deleted_name,
    lock_name,
)
from chatcli.session.store.locks import DEFAULT_LOCK_TIMEOUT, SessionLocks
from chatcli.session.store.repository_trash import TrashMethods
from chatcli.session.store.trash import TrashBin
from chatcli.session.transcript import Transcript, TranscriptTail

if TYPE_CHECKING:
    from chatcli.session.health import DoctorReport, RepairReport
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.store.batch import NewSession

# Pydantic models are imported where they are first needed (``from chatcli.session.models import``
# inside functions): a listing served from the index never builds one, and so never pays
# pydantic's import.

__all__ = ["FileRepository"]

_Item = TypeVar("_Item", bound=SessionView)
_Metas: TypeAlias = "list[SessionMetadata]"
_Briefs: TypeAlias = "list[SessionBrief]"


def _same(meta: SessionMetadata) -> SessionMetadata:
    return meta


def _recency(brief: SessionBrief) -> tuple[datetime, str]:
    """The listing order's key: newest ``last_active`` first, ties by id."""
    return (brief.last_active, brief.id)


class FileRepository(TrashMethods):
    """Sessions stored as plain files in one folder (see :mod:`.layout` for the layout)."""

    def __init__(
        self,
        location: SessionsLocation | Path | str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        if not isinstance(location, SessionsLocation):
            location = SessionsLocation.explicit(location)
        self.location = location
        self.root = location.path
        self.lock_timeout = lock_timeout
        self._files = SessionFiles(location)
        self._locks = SessionLocks(self.root, lock_timeout)
        self._sync = IndexSync(self._files, self._locks)
        #: ``.trash/`` (see :mod:`.trash`); every move holds the session's lock, so the index
        #: protocol (mark, move, sync) drops or restores the session's row with it.
        self.trash_bin = TrashBin(self._files)

    # ------------------------------------------------------------------ folder and locks

    def ensure_root(self) -> None:
        """Create the sessions folder (and its ``.gitignore``) if missing: only ever on a write."""
        self._files.ensure_root()

    def root_exists(self) -> bool:
        """True if the sessions folder exists (symlinked guard folders raise :class:`UnsafePath`)."""
        return self._files.check_guarded()

    def close(self) -> None:
        """Close the index connection (reopened on next use); files are never held open otherwise."""
        self._sync.close()

    @contextlib.contextmanager
    def _locked(self, name: str, what: str) -> Iterator[None]:
        self.ensure_root()
        self._files.check_changes()  # every write ends by touching it: refuse a planted one first
        with self._locks.held(name, what):
            yield

    def session_lock(self, session_id: str) -> contextlib.AbstractContextManager[None]:
        """The per-session write lock (a file lock, so it also excludes other processes).

        It also runs the index protocol (see :mod:`chatcli.session.store.index`): the session is
        marked dirty before the body changes any file, and its index row is refreshed from the
        files afterwards, whether the body succeeded or not.
        """
        self._files.session_dir(session_id)  # an invalid id fails here, before any file is touched
        return self._session_locked(session_id)

    @contextlib.contextmanager
    def _session_locked(self, session_id: str) -> Iterator[None]:
        with self._locked(lock_name(session_id), session_id):
            self._sync.mark(session_id)
            try:
                yield
            finally:
                self._sync.sync(session_id)

    def names_lock(self) -> contextlib.AbstractContextManager[None]:
        """The project-wide lock held while checking and assigning a unique session name."""
        return self._locked(NAMES_LOCK, "the session names")

    def remove_stale_lock(self, session_id: str) -> bool:
        """Remove the lock file of a session that no longer exists; False if it is in use or the
        session exists again (see :meth:`SessionLocks.remove_stale`)."""
        self._files.session_dir(session_id)
        return self._locks.remove_stale(session_id, lambda: os.path.lexists(self.root / session_id))

    def change_token(self) -> tuple[int, ...]:
        """A cheap value that changes whenever any process writes to this sessions folder."""
        return self._files.change_token()

    def change_cursor(self) -> ChangeCursor | None:
        """Where the index's log of changed sessions ends now (None: no usable index)."""
        return changed.change_cursor(self._sync) if self._files.check_guarded() else None

    def changes_since(self, cursor: ChangeCursor) -> Changes | None:
        """The sessions changed since ``cursor``; None: list them all (see :mod:`.changed`)."""
        return changed.changes_since(self._sync, cursor) if self._files.check_guarded() else None

    # ------------------------------------------------------------------ one session's metadata

    def get(self, session_id: str) -> SessionMetadata:
        """The session's metadata, migrated in memory (the file is upgraded on the next write)."""
        return self._files.read_metadata(session_id)

    def exists(self, session_id: str) -> bool:
        """True if a folder for this (valid) id holds a metadata or transcript file."""
        return self._files.exists(session_id)

    def save(self, metadata: SessionMetadata) -> None:
        """Create or replace the session's metadata (atomically, under the session lock).

        Metadata written by a newer chatcli is never overwritten; a corrupted file is moved to
        ``.quarantine/`` before it is replaced.
        """
        folder = self._files.session_dir(metadata.id)
        with self.session_lock(metadata.id):
            created = False
            try:
                created = durable.make_dir(folder)
                if created:
                    durable.fsync_dir(self.root)
                else:
                    from chatcli.session.store import repair  # a rare path: not loaded by every command

                    repair.set_aside_bad_metadata(self._files, metadata.id)
                self._files.write_metadata(metadata)
            except (OSError, SessionError) as exc:
                if created:
                    # A new session whose metadata could not be written leaves no empty folder behind.
                    with contextlib.suppress(OSError):
                        os.rmdir(folder)
                if isinstance(exc, OSError):
                    raise from_os_error(exc, folder) from exc
                raise

    def update(self, session_id: str, change: Callable[[SessionMetadata], None]) -> SessionMetadata:
        """Read, change and write back the metadata under the session lock; returns the result."""
        with self.session_lock(session_id):
            meta = self._files.read_metadata(session_id)
            change(meta)
            if meta.id != session_id:
                raise InvalidMetadata("a session's id cannot be changed")
            self._files.write_metadata(meta)
            return meta

    def delete(self, session_id: str) -> None:
        """Remove the session folder (renamed away first, so a crash never leaves half a session)."""
        with self.session_lock(session_id):
            folder = self._files.check_session_dir(session_id)
            doomed = self.root / deleted_name(session_id)
            try:
                os.rename(folder, doomed)
                durable.fsync_dir(self.root)
            except OSError as exc:
                raise from_os_error(exc, folder) from exc
            self._files.note_change()
            self._locks.discard(session_id)
            try:
                import shutil  # not at the top: it loads zlib, bz2 and lzma (start-up)

                shutil.rmtree(doomed)
            except OSError as exc:
                raise StorageError(
                    "the session is gone from the list but some of its files could not be erased "
                    f"({exc.strerror})",
                    doomed,
                ) from exc

    # ------------------------------------------------------------------ whole sessions and transcripts

    def create(self, metadata: SessionMetadata, messages: Sequence[Message] = ()) -> None:
        """Create a whole session at once (fork): staged in a hidden folder, then renamed in; its
        messages are indexed by the next search (as those of a session copied in are)."""
        from chatcli.session.store.batch import create_sessions  # not on a read's path

        failure = create_sessions(
            self._files, self._locks, self._sync, [(metadata, messages)], index_content=False
        )[0]
        if failure is not None:
            raise failure

    def create_many(
        self, batches: Iterable[Sequence[NewSession]]
    ) -> Generator[builtins.list[SessionError | None], None, None]:
        """Create batches of whole sessions (import), each batch's flushes and index writes shared,
        their messages indexed for search with their rows, one batch's index transaction running
        while the next is written; one outcome per session, None when created (see
        :class:`.batch.Creator`). Everything is indexed once the batches are all taken."""
        from chatcli.session.store.batch import Creator  # imports only: not on a read's path

        with Creator(self._files, self._locks, self._sync, index_content=True) as create:
            for sessions in batches:
                yield create(sessions)

    def append_message(self, session_id: str, message: Message) -> SessionMetadata:
        """Append one message durably (write + fsync) and update the metadata; returns it.

        A torn last line left by a crash is set aside before the append. If the metadata is
        corrupted it is rebuilt from the transcript first, so a chat never stops on a bad file.

        What the caller is told is what is on disk: when this returns the message is saved (and
        counted, or its count is corrected by the next repair); when it raises, whatever the
        error, the line is not in the transcript.
        """
        line = (message.to_line() + "\n").encode("utf-8")
        with self.session_lock(session_id):
            try:
                meta = self._files.read_metadata(session_id)
            except CorruptedSession:
                from chatcli.session.store import repair  # a rare path: not loaded by every command

                repair.repair_session(self._files, session_id)
                meta = self._files.read_metadata(session_id)
            # The metadata is replaced after the append: refuse a planted one before, not after.
            with durable.translated(self.root / session_id / METADATA_FILE):
                durable.check_existing(self.root / session_id / METADATA_FILE)
            meta.record_message(message)  # counted before anything is written: it may fail too
            start = transcript_file.append_line(self.root, session_id, line)
            try:
                self._files.write_metadata(meta)
            except Exception:
                if self._files.metadata_landed(meta):
                    return meta  # only the folder's fsync failed: the message is saved and counted
                # The caller reports the message as not saved, so it must not stay in the transcript;
                # a line that cannot be taken back is saved (fsynced): repair corrects the count.
                if transcript_file.cut_back(self.root / session_id / CONVERSATION_FILE, start):
                    raise
            return meta

    def transcript_bytes(self, session_id: str) -> bytes:
        """The raw transcript (empty if the session has none yet); links are never followed."""
        return transcript_file.transcript_bytes(self._files, session_id)

    def iter_transcript(self, session_id: str) -> Iterator[bytes]:
        """The raw transcript in chunks of whole lines, read as consumed (see
        :func:`.transcript_file.iter_chunks`)."""
        return transcript_file.iter_chunks(self._files, session_id)

    def tail_messages(self, session_id: str, count: int) -> TranscriptTail:
        """The last ``count`` messages, read backwards from the end of the transcript, and how
        many it holds (see :func:`.transcript_file.read_tail`)."""
        return transcript_file.read_tail(self._files, session_id, count)

    def load_messages(self, session_id: str) -> Transcript:
        """Every readable message, oldest first; bad lines are skipped and reported, never fatal."""
        return transcript_file.read_transcript(self._files, session_id)

    # ------------------------------------------------------------------ health

    def repair(self, session_id: str, *, quarantine_bad_lines: bool = False) -> RepairReport:
        """Make one session loadable without losing data (see :func:`.repair.repair_session`).

        With ``quarantine_bad_lines`` unreadable transcript lines are also moved to
        ``.quarantine/`` (they are skipped on load either way).
        """
        with self.session_lock(session_id):
            from chatcli.session.store import repair  # a rare path: not loaded by every command

            return repair.repair_session(self._files, session_id, quarantine_bad_lines=quarantine_bad_lines)

    def check(self, *, repair: bool = False) -> DoctorReport:
        """Examine the sessions folder (``sessions doctor``); with ``repair`` fix what can be
        fixed without losing data."""
        from chatcli.session.store.doctor import run_doctor

        return run_doctor(self, repair=repair)

    def search(
        self, query: SearchQuery, status: SessionStatus | None, options: SearchOptions
    ) -> SearchResult:
        """Full-text search (see :mod:`.content_search`): through the content index, else by
        reading every transcript."""
        if not self._files.check_guarded():
            return scan_all(query, (), self.iter_transcript, options)
        return content_search.search_store(
            self._sync, query, status, options, briefs=self.iter_briefs, transcript=self.iter_transcript
        )

    def rebuild_index(self) -> int:
        """Drop the index and build it again from the files; returns the number of sessions indexed."""
        return self._sync.rebuild()

    def index_problems(self) -> builtins.list[str]:
        """Differences between the index and the files (for ``doctor``); empty when they agree."""
        return self._sync.problems()

    # ------------------------------------------------------------------ listings

    def list(self, flt: SessionFilter | None = None) -> SessionList:
        """Every readable session matching ``flt``, newest first; unreadable ones go to ``problems``.

        Served from the index (kept in step with the files, see :mod:`.index_sync`); if the index
        cannot be used, every metadata file is read instead.
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
        if not self._files.check_guarded():
            return [], [], 0
        synced = self._sync.synced()
        if synced is not None:
            index, overrides, problems, untrusted = synced
            limit = None if flt.limit is None else flt.limit + len(untrusted)
            try:
                indexed = select(index, status=flt.status, search=flt.search, limit=limit, tags=flt.tags)
                found: builtins.list[SessionError] = []
                rows = self._sync.verified([r for r in indexed if r[0].id not in untrusted], found, fresh)
                if limit is not None and len(indexed) == limit and len(rows) + len(overrides) < limit:
                    # Rows dropped as changed on disk left the page short: verify the whole listing.
                    found = []
                    unlimited = select(index, status=flt.status, search=flt.search, tags=flt.tags)
                    rows = self._sync.verified(
                        [r for r in unlimited if r[0].id not in untrusted], found, fresh
                    )
                rows += [fresh(m) for m in overrides]
                shown = apply_filter(rows, flt)
                total = None
                if count:
                    total = len(shown)
                    if flt.limit is not None and len(shown) >= flt.limit:
                        total = index.count_matching(status=flt.status, search=flt.search, tags=flt.tags)
                return shown, [*problems, *found], total
            except IndexUnavailable:
                self._sync.replace_damaged()
        scanned = self._files.scan(flt._replace(limit=None))
        kept = scanned if flt.limit is None else scanned[: max(flt.limit, 0)]
        return [fresh(m) for m in kept], scanned.problems, len(scanned)

    def briefs(self, status: SessionStatus | None = None) -> _Briefs:
        """Every session (of ``status``) newest first, in brief: cheap enough for 100,000 sessions."""
        return builtins.list(self.iter_briefs(status, page=None))

    def iter_briefs(
        self, status: SessionStatus | None = None, *, page: int | None = 128
    ) -> Iterator[SessionBrief]:
        """:meth:`briefs`, read from the index a page at a time (pages double in size up to
        8,192; ``page`` None reads them all at once): a search that stops after the newest
        sessions never loads the other 100,000."""
        if not self._files.check_guarded():
            return
        synced = self._sync.synced()
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
        return (SessionBrief.of(m) for m in self._files.scan(SessionFilter(status)))

    def _index_pages(
        self, index: SessionIndex, status: SessionStatus | None, untrusted: set[str], page: int | None
    ) -> Iterator[SessionBrief]:
        before: tuple[datetime, str] | None = None
        while True:
            try:
                rows = index.briefs(status, before=before, limit=page)
            except IndexUnavailable:
                # The index failed (maybe mid-way): go on from the files, after what was read.
                self._sync.replace_damaged()
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
        synced = self._sync.synced() if self._files.check_guarded() else None
        if synced is not None:
            index, overrides, _, untrusted = synced
            with contextlib.suppress(IndexUnavailable):
                found = self._sync.verified(
                    [r for r in index.by_name(lowered) if r[0].id not in untrusted], [], _same
                )
                rows = [m for m in found if m.name is not None and m.name.lower() == lowered]
                return rows + [m for m in overrides if m.name is not None and m.name.lower() == lowered]
        return [m for m in self.list() if m.name is not None and m.name.lower() == lowered]

    def find_by_prefix(self, prefix: str) -> _Metas:
        """Sessions whose id starts with ``prefix`` (lowercase), newest first."""
        synced = self._sync.synced() if self._files.check_guarded() else None
        if synced is not None:
            index, overrides, _, untrusted = synced
            with contextlib.suppress(IndexUnavailable):
                rows = self._sync.verified(
                    [r for r in index.by_prefix(prefix) if r[0].id not in untrusted], [], _same
                )
                return rows + [m for m in overrides if m.id.startswith(prefix)]
        return [m for m in self.list() if m.id.startswith(prefix)]
