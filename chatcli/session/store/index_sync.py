"""Keeps the SQLite index (:mod:`.index`) in step with the files: the protocol its docstring
describes, run by the store.

Writers: :meth:`IndexSync.mark` before a session's files change, :meth:`IndexSync.sync` after
(both under the session's lock). Readers: :meth:`IndexSync.synced` first reconciles the index
with the folder (sessions copied in or removed by hand) and re-reads sessions left marked by a
writer that died or is still running; :meth:`IndexSync.verified` then checks each row against
its file's stamp. The index is only a cache: when it cannot be used it is dropped, and the
files are read instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from chatcli.session.errors import SessionError, SessionNotFound, StorageError
from chatcli.session.fields import SessionView, is_session_id
from chatcli.session.store.content_index import ContentIndex
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.index import INDEX_SUFFIXES, IndexUnavailable, SessionIndex
from chatcli.session.store.layout import lock_name
from chatcli.session.store.locks import SessionLocks

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata
    from chatcli.session.store.content_bulk import Prepared

__all__ = ["IndexSync", "Synced"]

_Item = TypeVar("_Item", bound=SessionView)


class Synced(NamedTuple):
    """An index brought up to date by :meth:`IndexSync.synced`.

    ``overrides``: fresh metadata of sessions a writer may still be changing (to use in place of
    their rows); ``problems``: unreadable sessions met; ``untrusted``: ids whose rows must not be
    used.
    """

    sessions_index: ContentIndex
    overrides: list[SessionMetadata]
    problems: list[SessionError]
    untrusted: set[str]


class IndexSync:
    """The index of one sessions folder and the protocol that keeps it true to the files."""

    def __init__(self, files: SessionFiles, locks: SessionLocks) -> None:
        self.files = files
        self.locks = locks
        self.index = ContentIndex(files)
        #: Set when the index cannot be used here (read-only folder...): the files are scanned.
        self.broken = False

    def usable(self) -> ContentIndex | None:
        """The index, or None when it cannot be used here (then the files are scanned)."""
        return None if self.broken else self.index

    def close(self) -> None:
        """Close the index connection (reopened on next use)."""
        self.index.close()

    def drop(self) -> None:
        """Discard the index (it is only a cache); the next reader rebuilds it from the files."""
        self.index.close()
        for suffix in INDEX_SUFFIXES:
            with contextlib.suppress(OSError):
                os.unlink(str(self.index.path) + suffix)

    def _give_up(self, unforeseen: Exception | None = None) -> None:
        """Stop using the index here (readers scan the files); an unforeseen failure is logged."""
        if unforeseen is not None:
            from chatcli.logs import log_exception

            log_exception(unforeseen, "keeping the session index in step")
        self.drop()
        self.broken = True

    # ------------------------------------------------------------------ writers

    def mark(self, *session_ids: str, own_mtime: int | None = None) -> None:
        """Writer step 1 (for one session, or a batch in one transaction). The first write on a
        folder without an index builds it from the files. ``own_mtime``: the folder's mtime
        after this writer's own last change (a batch whose rows are still being stored, but
        whose sessions are marked): the folder is then only recorded, not compared again."""
        index = self.usable()
        if index is None:
            return
        try:
            mtime = self.files.root_mtime()
            if index.recorded_root_mtime() != mtime:
                if mtime != own_mtime:
                    self.reconcile(index)
                index.record_root_mtime(self.files.root_mtime())
            index.mark_dirty(*session_ids)
        except (IndexUnavailable, OSError, StorageError):
            self._give_up()
        except Exception as exc:  # the index is a cache: whatever fails, the write goes on without it
            self._give_up(exc)

    def sync(self, session_id: str) -> None:
        """Writer step 3: refresh one session's row from its files (never raises: it is a cache,
        and the write it follows is done; an error here must not report that write as failed).

        The folder's new mtime is recorded too (the index was in step before this write), so
        readers only rescan the folder after changes made outside chatcli.
        """
        index = self.usable()
        if index is None:
            return
        try:
            try:
                meta = self.files.read_metadata(session_id)
            except SessionNotFound:
                index.forget([session_id])
            except SessionError:
                index.forget([session_id])
                index.mark_dirty(session_id)  # unreadable: readers look at its files each time
            else:
                index.store(meta, self.files.stamp_of(session_id))
            mtime = self.files.root_mtime()
            if index.recorded_root_mtime() != mtime:
                index.record_root_mtime(mtime)
        except Exception as exc:  # the files are written: a cache failure must not undo the write
            self._give_up(exc)

    def sync_many(self, created: Prepared, others: Sequence[str]) -> None:
        """Writer step 3 for a batch of new sessions (:mod:`.batch`): the rows of ``created``
        (each with its metadata file's stamp), just written from these very models, and the
        messages of their transcripts, in one transaction (:func:`.content_bulk.prepare`);
        ``others`` (marked, then not created) are synced one by one from whatever their files
        hold. Never raises."""
        index = self.usable()
        if index is not None and created.rows:
            try:
                index.store_created(created)
                mtime = self.files.root_mtime()
                if index.recorded_root_mtime() != mtime:
                    index.record_root_mtime(mtime)
            except Exception as exc:  # the files are written: a cache failure must not undo them
                self._give_up(exc)
        for session_id in others:
            self.sync(session_id)

    # ------------------------------------------------------------------ readers

    def synced(self) -> Synced | None:
        """Bring the index up to date with the files; None if it cannot be used."""
        index = self.usable()
        if index is None or not os.path.exists(index.path):
            return None  # a reader never creates the index: the first write does
        try:
            return self._sync(index)
        except IndexUnavailable:
            self.drop()
            try:
                return self._sync(index)
            except IndexUnavailable:
                self.broken = True
                return None

    def _sync(self, index: ContentIndex) -> Synced:
        root_mtime = self.files.root_mtime()
        if index.recorded_root_mtime() != root_mtime:
            self.reconcile(index)
            index.record_root_mtime(root_mtime)
        synced = Synced(index, [], [], set())
        for session_id in index.dirty_ids():
            self._settle(synced, session_id)
        return synced

    def _settle(self, synced: Synced, session_id: str) -> None:
        """Re-read a session marked dirty; store its row if its lock is free (its writer is gone),
        else use its files in place of the row."""
        lock = self.locks.try_lock(lock_name(session_id)) if is_session_id(session_id) else None
        try:
            # Read under the lock when it can be had: a writer that finished between an
            # unlocked read and the lock would otherwise have its fresh row overwritten.
            meta = self.files.read_metadata(session_id)
        except SessionNotFound:
            meta = None
        except SessionError as exc:
            if lock is not None:
                lock.release()
            synced.problems.append(exc)
            synced.untrusted.add(session_id)
            return
        if lock is None:
            synced.untrusted.add(session_id)
            if meta is not None:
                synced.overrides.append(meta)
            return
        try:
            if meta is None:
                synced.sessions_index.forget([session_id])
            elif not synced.sessions_index.store(meta, self.files.stamp_of(session_id)):
                synced.untrusted.add(session_id)  # its row cannot be stored: use the file
                synced.overrides.append(meta)
        finally:
            lock.release()

    def reconcile(self, index: SessionIndex) -> None:
        """Match the index's ids with the folder's (sessions copied in or removed by hand)."""
        # Read the index first: a session created between the two reads is then "new on disk"
        # (and indexed), never "known but gone" (and wrongly forgotten).
        known = index.ids()
        on_disk = self.files.session_ids()
        fresh: list[tuple[SessionMetadata, str, None]] = []
        for session_id in on_disk - known:
            try:
                fresh.append((self.files.read_metadata(session_id), self.files.stamp_of(session_id), None))
            except SessionNotFound:
                continue
            except SessionError:
                index.mark_dirty(session_id)
        # Only where no row appeared meanwhile: a writer's row is newer than what was read here.
        index.store_unchanged(fresh, clear=True)
        index.forget(known - on_disk)

    def verified(
        self,
        rows: Sequence[tuple[_Item, str]],
        problems: list[SessionError],
        fresh: Callable[[SessionMetadata], _Item],
    ) -> list[_Item]:
        """Rows whose metadata file is unchanged since it was indexed; changed ones are read
        again from the file (a file damaged by hand is then reported, never shown stale). A row
        without a stamp (no file was read for it: planted) is always read again.

        The rows read again are stored with what was read and its stamp, once: a store copied
        with ``cp -a`` (every file a new inode, every stamp changed) is read in full only by
        its first listing."""
        out: list[_Item] = []
        restamped: list[tuple[SessionMetadata, str, str | None]] = []
        for item, stamp in rows:
            now = self.files.stamp_of(item.id)
            if stamp and now == stamp:
                out.append(item)
                continue
            try:
                # The stamp was taken first: a file replaced meanwhile leaves a row whose stamp
                # is not its file's, read again next time, never a stale row that looks fresh.
                meta = self.files.read_metadata(item.id)
            except SessionNotFound:
                continue
            except SessionError as exc:
                problems.append(exc)
                continue
            out.append(fresh(meta))
            if now:
                restamped.append((meta, now, stamp))
        if restamped and self.usable() is not None:
            with contextlib.suppress(IndexUnavailable):  # a read-only index is read as it is
                # Only rows still as read: a writer may have stored a newer one meanwhile.
                self.index.store_unchanged(restamped, clear=False)
        return out

    # ------------------------------------------------------------------ upkeep

    def rebuild(self) -> int:
        """Drop the index and build it again from the files; returns the number of sessions indexed."""
        self.drop()
        self.broken = False
        if not self.files.check_guarded():
            return 0
        try:
            self.reconcile(self.index)
            self.index.record_root_mtime(self.files.root_mtime())
            if self.index.searchable():  # the content too: a search then finds it ready
                self.index.index_pending(self.index.pending(), [])
            return self.index.count()
        except IndexUnavailable as exc:
            raise StorageError(f"the index cannot be written ({exc})", self.index.path) from exc

    def replace_damaged(self) -> None:
        """Rows of the index could not be read: it is only a cache, so build it again from the
        files (as an index of an older schema is); if even that fails, drop it and let readers
        read the files until the next change."""
        try:
            self.rebuild()
        except (SessionError, OSError):
            self.drop()

    def problems(self) -> list[str]:
        """Differences between the index and the files (for ``doctor``); empty when they agree."""
        index = self.usable()
        if index is None or not self.files.check_guarded():
            return []
        if not os.path.exists(index.path):
            if not self.files.session_ids():
                return []  # nothing to index: the first session saved makes it
            return ["the index is missing (listings read every file until the next change rebuilds it)"]
        try:
            indexed = {m.id: m for m, _ in index.select()}
            dirty = set(index.dirty_ids())
        except IndexUnavailable as exc:
            return [f"the index cannot be read ({exc})"]
        problems: list[str] = []
        on_disk = self.files.session_ids()
        for session_id in sorted(on_disk - dirty):
            try:
                meta = self.files.read_metadata(session_id)
            except SessionError:
                continue
            row = indexed.get(session_id)
            if row is None:
                problems.append(f"session {session_id[:8]} is missing from the index")
            elif row != meta:
                problems.append(f"the index row of session {session_id[:8]} is stale")
        for session_id in sorted(set(indexed) - on_disk):
            problems.append(f"the index lists session {session_id[:8]}, which no longer exists")
        try:
            problems += index.content_problems()
        except IndexUnavailable as exc:
            problems.append(f"the content index cannot be read ({exc})")
        return problems
