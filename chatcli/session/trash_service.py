"""The trash's rules: which trashed session a reference names, restoring without overwriting a
name, and emptying (the only way anything is erased for good, with ``delete --permanent``).

The session service (:mod:`chatcli.session.service`) holds one :class:`TrashService` as
``service.trash``; both speak only the repository protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from chatcli.sanitize import shorten
from chatcli.session.errors import AmbiguousId, SessionError, SessionNotFound
from chatcli.session.fields import reads_as_id, utc_now
from chatcli.session.outcomes import EmptyTrashResult, RestoreResult, TrashResult
from chatcli.session.repository import SessionRepository
from chatcli.session.trashed import TrashedSession

__all__ = ["TrashService"]


class TrashService:
    """Every trash operation, for both the REPL and the command line."""

    def __init__(self, repo: SessionRepository) -> None:
        self.repo = repo

    def list(self) -> TrashResult:
        """What the trash holds, most recently trashed first (``sessions trash``)."""
        listing = self.repo.trashed()
        return TrashResult(list(listing), list(listing.problems))

    def resolve(self, ref: str) -> TrashedSession:
        """The trashed session ``ref`` names: its trash entry, its id (or a unique prefix of 4+
        characters) or its name. A session trashed more than once (deleted, imported again,
        deleted again) is named by its most recent entry."""
        text = ref.strip()
        lowered = text.lower()
        entries = self.repo.trashed()
        exact = [t for t in entries if t.trash_id == lowered]
        if exact:
            return exact[0]
        matches: list[TrashedSession] = []
        if reads_as_id(lowered):
            matches = [t for t in entries if t.session_id.startswith(lowered)]
        if not matches and text:
            matches = [t for t in entries if t.name is not None and t.name.lower() == lowered]
        if not matches:
            raise SessionNotFound(text, "not in the trash (see: sessions trash)")
        newest: dict[str, TrashedSession] = {}
        for entry in matches:  # most recently trashed first: keep the first of each session
            newest.setdefault(entry.session_id, entry)
        if len(newest) > 1:
            raise AmbiguousId(text, [_describe(t) for t in newest.values()])
        return matches[0]

    def restore(self, ref: str) -> RestoreResult:
        """Bring a trashed session back. If another session has taken its name meanwhile, it
        comes back unnamed and the result says so: a name is never taken from anyone."""
        entry = self.resolve(ref)
        name = entry.metadata.name
        with self.repo.names_lock():
            taken = [m for m in self.repo.find_by_name(name) if m.id != entry.session_id] if name else []
            meta = self.repo.restore(entry.trash_id, clear_name=bool(taken))
        if taken:
            return RestoreResult(meta, name, taken[0].id)
        return RestoreResult(meta)

    def candidates(self, older_than: timedelta | None = None) -> EmptyTrashResult:
        """What emptying would erase: everything, or what was trashed longer than ``older_than`` ago."""
        entries = self.repo.trashed()
        if older_than is not None:
            cutoff = utc_now() - older_than
            entries[:] = [t for t in entries if t.deleted_at < cutoff]
        return EmptyTrashResult(list(entries), True)

    def empty(
        self, candidates: EmptyTrashResult, *, should_stop: Callable[[], bool] | None = None
    ) -> EmptyTrashResult:
        """Erase exactly the sessions ``candidates`` lists, for good; ``should_stop`` is asked
        before each (the sessions not reached stay in the trash and are counted)."""
        erased: list[TrashedSession] = []
        failures: list[tuple[str, str]] = []
        for position, entry in enumerate(candidates.sessions):
            if should_stop is not None and should_stop():
                left = len(candidates.sessions) - position
                return EmptyTrashResult(erased, False, failures, left, candidates.retention)
            try:
                self.repo.purge(entry.trash_id)
                erased.append(entry)
            except SessionNotFound:
                continue  # restored or emptied meanwhile
            except SessionError as exc:
                failures.append((entry.session_id, exc.user_message().splitlines()[0]))
        return EmptyTrashResult(erased, False, failures, 0, candidates.retention)

    def expire(self, retention: timedelta | None, label: str) -> EmptyTrashResult | None:
        """Apply a trash retention the user set in the config (``label`` is how it was given):
        erase what was trashed longer ago. None when there is none set or nothing is that old."""
        if retention is None:
            return None
        due = self.candidates(retention)
        if not due.sessions:
            return None
        return self.empty(EmptyTrashResult(due.sessions, True, retention=label))


def _describe(entry: TrashedSession) -> str:
    label = entry.name or shorten(" ".join(entry.metadata.first_message.split()), 50)
    return f"{entry.session_id}  {label}"
