"""The completion snapshot: an immutable in-memory picture of the sessions, held for the REPL.

Tab completion and the ``--resume`` picker read a :class:`Snapshot`, never the disk: a keystroke
must not wait on a file system. A :class:`SnapshotCache` builds a new snapshot from the service's
listing (briefs, no pydantic models) on a worker thread and swaps the one reference, so a reader
sees the old snapshot or the new one, never half of each. Whether a rebuild is needed is one cheap
check of the store's change token (one or two ``stat`` calls), so the REPL can revalidate often.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from datetime import datetime

from chatcli.session.fields import ChangeCursor, Changes, SessionBrief, SessionStatus, reads_as_id, utc_now
from chatcli.session.service import SessionService

__all__ = ["Snapshot", "SnapshotCache", "SnapshotEntry", "entry_of", "patched"]


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
    what ``/sessions tag ID <Tab>`` offers. ``cursor`` is where the store's log of changes was
    when the picture was taken (None: the store keeps none); :meth:`entry` finds an entry by id.
    ``tag_counts`` and ``index`` are given by :func:`patched` (computed here otherwise).
    """

    entries: tuple[SnapshotEntry, ...]
    token: tuple[int, ...]
    taken_at: datetime
    cursor: ChangeCursor | None = None
    tag_counts: InitVar[dict[str, int] | None] = None
    index: InitVar[Mapping[str, SnapshotEntry] | None] = None
    #: For completion's search structure (:mod:`.ranking`): the entries of the snapshot this one
    #: was patched from (None: it was built whole), the ids of the sessions changed or gone
    #: since, and the entries changed or added since (newest first).
    origin: tuple[SnapshotEntry, ...] | None = field(default=None, repr=False, compare=False)
    dropped: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    added: tuple[SnapshotEntry, ...] = field(default=(), repr=False, compare=False)
    tags: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)
    #: The entries by id of the origin (of this snapshot when it was built whole), shared by the
    #: snapshots patched from it and never changed; ``patches`` holds the entries added since.
    by_id: Mapping[str, SnapshotEntry] = field(init=False, repr=False, compare=False)
    patches: Mapping[str, SnapshotEntry] = field(init=False, repr=False, compare=False)
    counts: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(
        self, tag_counts: dict[str, int] | None, index: Mapping[str, SnapshotEntry] | None
    ) -> None:
        if tag_counts is None:
            tag_counts = {}
            for entry in self.entries:
                for tag in entry.tags:
                    tag_counts[tag] = tag_counts.get(tag, 0) + 1
        ordered = sorted(tag_counts.items(), key=lambda item: (-item[1], item[0]))
        object.__setattr__(self, "tags", tuple(ordered))
        object.__setattr__(self, "counts", tag_counts)
        object.__setattr__(self, "by_id", {e.id: e for e in self.entries} if index is None else index)
        object.__setattr__(self, "patches", {e.id: e for e in self.added})

    def entry(self, session_id: str) -> SnapshotEntry | None:
        """The entry of session ``session_id``, None if the snapshot has none."""
        if session_id in self.dropped:
            return self.patches.get(session_id)
        return self.by_id.get(session_id)

    @classmethod
    def empty(cls) -> Snapshot:
        """A snapshot with no sessions."""
        return cls((), (), utc_now())


#: Sessions changed since a snapshot was built whole, past which the next patched one starts
#: afresh (completion then builds its search structure whole again, on the background thread).
PATCHES_MAX = 128


def entry_of(brief: SessionBrief) -> SnapshotEntry:
    """The completion entry of one session's brief."""
    b = brief
    return SnapshotEntry(
        b.id, b.name, b.first_message, b.last_active, b.status, b.message_count, b.pinned, b.tags
    )


def _position(entries: list[SnapshotEntry], key: tuple[datetime, str]) -> int:
    """Where an entry of recency ``key`` is (or goes) in ``entries``, newest first."""
    low, high = 0, len(entries)
    while low < high:
        middle = (low + high) // 2
        entry = entries[middle]
        if (entry.last_active, entry.id) > key:
            low = middle + 1
        else:
            high = middle
    return low


def patched(snapshot: Snapshot, changes: Changes, token: tuple[int, ...]) -> Snapshot:
    """``snapshot`` with ``changes`` applied: the work is proportional to the sessions changed
    (the copies of the entry list and of its id map are made by the interpreter at C speed)."""
    entries = list(snapshot.entries)
    counts = dict(snapshot.counts)
    touched = changes.gone | {b.id for b in changes.changed}
    for session_id in touched:
        old = snapshot.entry(session_id)
        if old is None:
            continue
        at = _position(entries, (old.last_active, old.id))
        if at < len(entries) and entries[at].id == session_id:
            del entries[at]
        for tag in old.tags:
            counts[tag] -= 1
            if not counts[tag]:
                del counts[tag]
    added = [e for e in snapshot.added if e.id not in touched]
    for brief in changes.changed:
        entry = entry_of(brief)
        entries.insert(_position(entries, (entry.last_active, entry.id)), entry)
        added.append(entry)
        for tag in entry.tags:
            counts[tag] = counts.get(tag, 0) + 1
    added.sort(key=lambda e: (e.last_active, e.id), reverse=True)
    origin = snapshot.entries if snapshot.origin is None else snapshot.origin
    dropped = snapshot.dropped | touched
    if len(dropped) + len(added) > PATCHES_MAX:
        return Snapshot(tuple(entries), token, utc_now(), changes.cursor, counts)
    return Snapshot(
        tuple(entries),
        token,
        utc_now(),
        changes.cursor,
        counts,
        snapshot.by_id,
        origin,
        dropped,
        tuple(added),
    )


class SnapshotCache:
    """The current :class:`Snapshot` of ``service``'s sessions, rebuilt only when they changed.

    :meth:`current` is what the completer calls on every keystroke: it returns the cached object
    and never touches the disk. :meth:`refresh` is safe to call from any thread; concurrent
    refreshes run one at a time. After a write, a refresh reads only the sessions that changed
    (the store's log of changes, :meth:`SessionService.changes_since`) when it can.
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
        """Bring the snapshot up to date if the store changed (or ``force``: read every session
        again); returns the current one."""
        with self._refreshing:
            old = self._snapshot
            token = self.service.change_token()
            if not force and token == old.token and old.token:
                return old
            changes = None if force or not old.token else self.service.changes_since(old.cursor)
            if changes is not None:
                snap = patched(old, changes, token)
            else:
                cursor = self.service.change_cursor()  # before the listing: a change meanwhile is read again
                snap = Snapshot(tuple(entry_of(b) for b in self.service.briefs()), token, utc_now(), cursor)
            with self._swap:
                self._snapshot = snap
            return snap
