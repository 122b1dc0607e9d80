"""The completion snapshot: an immutable in-memory picture of the sessions, held for the REPL.

Tab completion and the ``--resume`` picker read a :class:`Snapshot`, never the disk: a keystroke
must not wait on a file system. A :class:`SnapshotCache` builds a new snapshot from the service's
listing (briefs, no pydantic models) on a worker thread and swaps the one reference, so a reader
sees the old snapshot or the new one, never half of each. Whether a rebuild is needed is one cheap
check of the store's change token (one or two ``stat`` calls), so the REPL can revalidate often.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from chatcli.session.fields import SessionStatus, reads_as_id, utc_now
from chatcli.session.service import SessionService

__all__ = ["Snapshot", "SnapshotCache", "SnapshotEntry"]


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """What completion needs to know about one session (lower-cased copies made once, here).

    ``ref`` is what to type to reach the session: its name, or its id when it has no name or
    its name reads as an id (an older version let such names through; an id always wins).
    """

    id: str
    name: str | None
    first_message: str
    last_active: datetime
    status: SessionStatus
    message_count: int
    pinned: bool = False
    tags: tuple[str, ...] = ()
    name_lower: str = field(init=False, repr=False, compare=False)
    first_lower: str = field(init=False, repr=False, compare=False)
    ref: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name_lower", self.name.lower() if self.name else "")
        object.__setattr__(self, "first_lower", self.first_message.lower())
        name = self.name
        object.__setattr__(self, "ref", name if name and not reads_as_id(name) else self.id)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable, in-memory picture of the sessions (newest first) for completion.

    ``tags`` is every tag in use with how many sessions carry it, most used first (then by name):
    what ``/sessions tag ID <Tab>`` offers.
    """

    entries: tuple[SnapshotEntry, ...]
    token: tuple[int, ...]
    taken_at: datetime
    tags: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts: dict[str, int] = {}
        for entry in self.entries:
            for tag in entry.tags:
                counts[tag] = counts.get(tag, 0) + 1
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        object.__setattr__(self, "tags", tuple(ordered))

    @classmethod
    def empty(cls) -> Snapshot:
        """A snapshot with no sessions."""
        return cls((), (), utc_now())


class SnapshotCache:
    """The current :class:`Snapshot` of ``service``'s sessions, rebuilt only when they changed.

    :meth:`current` is what the completer calls on every keystroke: it returns the cached object
    and never touches the disk. :meth:`refresh` is safe to call from any thread; concurrent
    refreshes run one at a time.
    """

    def __init__(self, service: SessionService) -> None:
        self.service = service
        self._snapshot = Snapshot.empty()
        self._swap = threading.Lock()
        self._refreshing = threading.Lock()

    def current(self) -> Snapshot:
        """The cached snapshot (no disk access)."""
        return self._snapshot

    def is_stale(self) -> bool:
        """Cheap check (one or two ``stat`` calls): has any process written since the snapshot?"""
        return self.service.change_token() != self._snapshot.token

    def refresh(self, *, force: bool = False) -> Snapshot:
        """Rebuild the snapshot if the store changed (or ``force``); returns the current one."""
        with self._refreshing:
            token = self.service.change_token()
            if not force and token == self._snapshot.token and self._snapshot.token:
                return self._snapshot
            entries = tuple(
                SnapshotEntry(
                    b.id, b.name, b.first_message, b.last_active, b.status, b.message_count, b.pinned, b.tags
                )
                for b in self.service.briefs()
            )
            snap = Snapshot(entries, token, utc_now())
            with self._swap:
                self._snapshot = snap
            return snap
