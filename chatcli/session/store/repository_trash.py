"""The trash methods of :class:`~chatcli.session.store.repository.FileRepository`: moving a
session whole into ``.trash/`` and back, reading and erasing what is there (see :mod:`.trash`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from chatcli.session.errors import SessionError, SessionNotFound, UnsafePath
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.trash import TrashBin
from chatcli.session.transcript import Transcript
from chatcli.session.trashed import TrashedSession, TrashList

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = ["TrashMethods"]


class TrashMethods:
    """Mixed into the file repository, which sets :attr:`trash_bin` and ``_files`` and provides
    :meth:`session_lock`."""

    trash_bin: TrashBin
    _files: SessionFiles
    session_lock: Callable[[str], contextlib.AbstractContextManager[None]]
    remove_stale_lock: Callable[[str], bool]

    def trash(self, session_id: str, reason: str) -> str:
        """Move the session into the trash whole (see :mod:`.trash`); returns its ``trash_id``."""
        with self.session_lock(session_id):
            try:
                name = self._files.read_metadata(session_id).name
            except (SessionNotFound, UnsafePath):
                raise
            except SessionError:
                name = None  # a damaged session is trashed all the same, as it is
            # The lock file stays: unlike a deletion, a restore brings the same id back.
            return self.trash_bin.move_in(session_id, reason, name)

    def trashed(self) -> TrashList:
        """Every session in the trash, most recently trashed first, with the problems met."""
        return self.trash_bin.entries() if self._files.check_guarded() else TrashList()

    def trashed_session(self, trash_id: str) -> TrashedSession:
        """One session in the trash; :class:`SessionNotFound` if there is no such entry."""
        return self.trash_bin.get(trash_id)

    def restore(self, trash_id: str, *, clear_name: bool = False) -> SessionMetadata:
        """Move a trashed session back (``clear_name``: without its name); refuses if its id is
        taken. Returns its metadata."""
        with self.session_lock(self.trash_bin.entry_dir(trash_id)[1]):
            return self.trash_bin.move_out(trash_id, clear_name=clear_name)

    def purge(self, trash_id: str) -> None:
        """Erase a trashed session for good, and its lock file with it unless its id is in use
        again (a lock file is made again whenever a lock is taken)."""
        session_id = self.trash_bin.entry_dir(trash_id)[1]
        with self.session_lock(session_id):
            self.trash_bin.erase(trash_id)
        with contextlib.suppress(SessionError):  # erased all the same: doctor reports a leftover
            self.remove_stale_lock(session_id)

    def trashed_messages(self, trash_id: str) -> Transcript:
        """Every readable message of a trashed session (``show``, ``export``)."""
        return self.trash_bin.messages(trash_id)

    def trashed_transcript(self, trash_id: str) -> Iterator[bytes]:
        """A trashed session's raw transcript in chunks of whole lines (``search --trash``)."""
        return self.trash_bin.transcript(trash_id)
