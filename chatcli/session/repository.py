"""The session repository contract, its filter, and the in-memory implementation used by tests.

Synchronous on purpose: every operation is a few small local file operations (fsync included)
under blocking OS file locks; an ``async`` facade would hide that blocking inside the event loop.
The REPL runs repository calls in a worker thread (``asyncio.to_thread``) to stay responsive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeAlias, TypeVar, runtime_checkable

from chatcli.session.errors import InvalidMetadata, SessionAlreadyExists, SessionError, SessionNotFound
from chatcli.session.fields import ChangeCursor, Changes, SessionBrief, SessionStatus, SessionView
from chatcli.session.transcript import Transcript, TranscriptTail
from chatcli.session.trashed import TrashedSession, TrashList, TrashRecord, entry_session_id, trash_entry_name

if TYPE_CHECKING:
    from chatcli.session.health import DoctorReport, RepairReport
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.outcomes import SearchResult
    from chatcli.session.search import SearchOptions, SearchQuery

__all__ = [
    "IN_MEMORY",
    "BriefList",
    "InMemoryRepository",
    "SessionFilter",
    "SessionList",
    "SessionRepository",
    "apply_filter",
    "matches_search",
]


_Metas: TypeAlias = "list[SessionMetadata]"
_Briefs: TypeAlias = "list[SessionBrief]"
_Outcomes: TypeAlias = "list[SessionError | None]"
_NewBatch: TypeAlias = "Sequence[tuple[SessionMetadata, Sequence[Message]]]"
#: A trashed session held in memory: its record, metadata and messages.
_TrashItem: TypeAlias = "tuple[TrashRecord, SessionMetadata, list[Message]]"
_View = TypeVar("_View", bound=SessionView)


class SessionFilter(NamedTuple):
    """Which sessions :meth:`SessionRepository.list` returns.

    ``status`` None means every status; ``search`` is a case-insensitive substring matched
    against the name and the first message; ``limit`` None means no limit; ``tags`` (valid,
    lower-case tags) keeps the sessions that have every one of them. Results are always ordered
    newest ``last_active`` first.
    """

    status: SessionStatus | None = None
    limit: int | None = None
    search: str | None = None
    tags: tuple[str, ...] = ()


class SessionList(list["SessionMetadata"]):
    """A list of sessions plus the problems met while listing (corrupted or unreadable sessions).

    A bad session never hides the good ones: it is reported here instead of failing the listing.
    """

    def __init__(self, items: Iterable[SessionMetadata] = (), problems: Iterable[SessionError] = ()) -> None:
        super().__init__(items)
        self.problems: list[SessionError] = list(problems)


class BriefList(list[SessionBrief]):
    """Like :class:`SessionList`, of briefs: what ``sessions list`` shows, built without pydantic.

    ``total`` is how many sessions matched before the filter's limit cut the list.
    """

    def __init__(
        self,
        items: Iterable[SessionBrief] = (),
        problems: Iterable[SessionError] = (),
        total: int | None = None,
    ) -> None:
        super().__init__(items)
        self.problems: list[SessionError] = list(problems)
        self.total: int = len(self) if total is None else max(total, len(self))


def matches_search(meta: SessionView, needle_lower: str) -> bool:
    """Case-insensitive substring match of ``needle_lower`` against the name and first message."""
    if needle_lower in meta.first_message.lower():
        return True
    return meta.name is not None and needle_lower in meta.name.lower()


def apply_filter(items: Iterable[_View], flt: SessionFilter) -> list[_View]:
    """Filter, sort newest-first, and limit ``items`` as ``flt`` says."""
    needle = flt.search.lower() if flt.search else None
    chosen = [
        m
        for m in items
        if (flt.status is None or m.status is flt.status)
        and (needle is None or matches_search(m, needle))
        and all(tag in m.tags for tag in flt.tags)
    ]
    chosen.sort(key=lambda m: (m.last_active, m.id), reverse=True)
    if flt.limit is not None:
        del chosen[max(flt.limit, 0) :]
    return chosen


@runtime_checkable
class SessionRepository(Protocol):
    """Storage of sessions: metadata plus an append-only transcript per session.

    ``get``/``save``/``delete``/``list``/``exists`` are the metadata contract; the transcript
    and read-modify-write methods let the service keep both parts consistent under one lock.
    """

    def get(self, session_id: str) -> SessionMetadata:
        """The session's metadata; :class:`SessionNotFound` if there is none."""
        ...

    def save(self, metadata: SessionMetadata) -> None:
        """Create or replace the session's metadata."""
        ...

    def delete(self, session_id: str) -> None:
        """Remove the session and its transcript; :class:`SessionNotFound` if there is none."""
        ...

    def list(self, flt: SessionFilter | None = None) -> SessionList:
        """Sessions matching ``flt``, newest first, with any problems met on the way."""
        ...

    def exists(self, session_id: str) -> bool:
        """True if a session with this id exists."""
        ...

    def list_briefs(self, flt: SessionFilter | None = None) -> BriefList:
        """:meth:`list` as briefs (what listings show), cheaper than full metadata; its ``total``
        counts every matching session, however many the limit kept."""
        ...

    def create(self, metadata: SessionMetadata, messages: Sequence[Message] = ()) -> None:
        """Create a new session with its initial messages; :class:`SessionAlreadyExists` if taken."""
        ...

    def create_many(self, batches: Iterable[_NewBatch]) -> Generator[_Outcomes, None, None]:
        """Create batches of new sessions (import), one per outcome list taken; one outcome per session:
        None when it was created, :class:`SessionAlreadyExists` when its id is taken (also earlier in the
        batch), another :class:`SessionError` when it alone could not be created. A failure of the
        storage itself raises :class:`StorageError` and creates none of that batch."""
        ...

    def update(self, session_id: str, change: Callable[[SessionMetadata], None]) -> SessionMetadata:
        """Read, apply ``change`` and write back the metadata atomically w.r.t. other writers."""
        ...

    def append_message(self, session_id: str, message: Message) -> SessionMetadata:
        """Durably append one message and update counts and activity; returns the new metadata."""
        ...

    def load_messages(self, session_id: str) -> Transcript:
        """Every readable message of the session, oldest first."""
        ...

    def names_lock(self) -> AbstractContextManager[None]:
        """A project-wide lock held while checking and assigning a unique name."""
        ...

    def change_token(self) -> tuple[int, ...]:
        """A cheap value that changes whenever any writer (in any process) changes the store."""
        ...

    def change_cursor(self) -> ChangeCursor | None:
        """Where the store's log of changed sessions ends now; None when it keeps none."""
        ...

    def changes_since(self, cursor: ChangeCursor) -> Changes | None:
        """The sessions changed since ``cursor``; None when only a full listing is sure to be right."""
        ...

    def briefs(self, status: SessionStatus | None = None) -> _Briefs:
        """Every session (of ``status``) newest first, in brief (no full metadata models)."""
        ...

    def iter_briefs(self, status: SessionStatus | None = None) -> Iterator[SessionBrief]:
        """:meth:`briefs` as they are read, newest first (a search that stops early reads less)."""
        ...

    def find_by_name(self, name: str) -> _Metas:
        """Sessions named ``name``, ignoring case."""
        ...

    def find_by_prefix(self, prefix: str) -> _Metas:
        """Sessions whose id starts with ``prefix`` (lowercase), newest first."""
        ...

    def transcript_bytes(self, session_id: str) -> bytes:
        """The raw ``conversation.jsonl`` content, whole (small transcripts, tests)."""
        ...

    def iter_transcript(self, session_id: str) -> Iterator[bytes]:
        """The raw ``conversation.jsonl`` in chunks of whole lines, read as they are consumed
        (full-text search): memory stays bounded whatever the transcript's size. Errors opening
        or reading it are raised from the iteration."""
        ...

    def tail_messages(self, session_id: str, count: int) -> TranscriptTail:
        """The last ``count`` readable messages and the number of messages in all, reading only
        the end of the transcript (``sessions show``)."""
        ...

    def check(self, *, repair: bool = False) -> DoctorReport:
        """Examine every session for damage (``sessions doctor``); with ``repair`` fix what can be
        fixed without losing data."""
        ...

    def search(
        self, query: SearchQuery, status: SessionStatus | None, options: SearchOptions
    ) -> SearchResult | None:
        """Full-text search served by the repository (its content index); None when it has none
        (the service then reads every transcript, :func:`chatcli.session.search.scan_all`)."""
        ...

    def repair(self, session_id: str) -> RepairReport:
        """Make one session loadable without losing data; reports what was done."""
        ...

    def trash(self, session_id: str, reason: str) -> str:
        """Move the session into the trash, whole, with when and ``reason``; returns its
        ``trash_id``. It leaves listings, search and completion; :class:`SessionNotFound` if none."""
        ...

    def trashed(self) -> TrashList:
        """Every session in the trash, most recently trashed first."""
        ...

    def trashed_session(self, trash_id: str) -> TrashedSession:
        """One session in the trash; :class:`SessionNotFound` if there is no such entry."""
        ...

    def restore(self, trash_id: str, *, clear_name: bool = False) -> SessionMetadata:
        """Move a trashed session back (``clear_name``: without its name, which another session
        now has); :class:`SessionAlreadyExists` if its id is taken again."""
        ...

    def purge(self, trash_id: str) -> None:
        """Erase a trashed session for good (``sessions trash empty``)."""
        ...

    def trashed_messages(self, trash_id: str) -> Transcript:
        """Every readable message of a trashed session, oldest first."""
        ...

    def trashed_transcript(self, trash_id: str) -> Iterator[bytes]:
        """A trashed session's raw transcript in chunks of whole lines."""
        ...


#: What a :class:`DoctorReport` of an in-memory repository names as its folder.
IN_MEMORY = Path(":memory:")


class InMemoryRepository:
    """A thread-safe repository held in memory: for tests and for throwaway sessions."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._meta: dict[str, SessionMetadata] = {}
        self._messages: dict[str, list[Message]] = {}
        self._names = threading.Lock()
        self._generation = 0
        self._trash: dict[str, _TrashItem] = {}

    def get(self, session_id: str) -> SessionMetadata:
        """The session's metadata (a copy); :class:`SessionNotFound` if there is none."""
        with self._lock:
            try:
                return self._meta[session_id].model_copy(deep=True)
            except KeyError:
                raise SessionNotFound(session_id) from None

    def save(self, metadata: SessionMetadata) -> None:
        """Create or replace the session's metadata."""
        with self._lock:
            self._meta[metadata.id] = metadata.model_copy(deep=True)
            self._messages.setdefault(metadata.id, [])
            self._generation += 1

    def delete(self, session_id: str) -> None:
        """Remove the session; :class:`SessionNotFound` if there is none."""
        with self._lock:
            if self._meta.pop(session_id, None) is None:
                raise SessionNotFound(session_id)
            self._messages.pop(session_id, None)
            self._generation += 1

    def list(self, flt: SessionFilter | None = None) -> SessionList:
        """Sessions matching ``flt``, newest first."""
        with self._lock:
            items = [m.model_copy(deep=True) for m in self._meta.values()]
        return SessionList(apply_filter(items, flt or SessionFilter()))

    def list_briefs(self, flt: SessionFilter | None = None) -> BriefList:
        """Sessions matching ``flt``, newest first, as briefs (``total``: all that matched)."""
        flt = flt or SessionFilter()
        matching = self.list(flt._replace(limit=None))
        shown = matching if flt.limit is None else matching[: max(flt.limit, 0)]
        return BriefList((SessionBrief.of(m) for m in shown), total=len(matching))

    def exists(self, session_id: str) -> bool:
        """True if the session exists."""
        with self._lock:
            return session_id in self._meta

    def create(self, metadata: SessionMetadata, messages: Sequence[Message] = ()) -> None:
        """Create a session with its initial messages; :class:`SessionAlreadyExists` if taken."""
        with self._lock:
            if metadata.id in self._meta:
                raise SessionAlreadyExists(f"session {metadata.id}")
            self._meta[metadata.id] = metadata.model_copy(deep=True)
            self._messages[metadata.id] = list(messages)
            self._generation += 1

    def create_many(self, batches: Iterable[_NewBatch]) -> Generator[_Outcomes, None, None]:
        """:meth:`create` of each session of each batch in turn; one outcome per session (None: created)."""
        for sessions in batches:
            outcomes: list[SessionError | None] = []
            for metadata, messages in sessions:
                try:
                    self.create(metadata, messages)
                    outcomes.append(None)
                except SessionAlreadyExists as exc:
                    outcomes.append(exc)
            yield outcomes

    def update(self, session_id: str, change: Callable[[SessionMetadata], None]) -> SessionMetadata:
        """Apply ``change`` to the stored metadata under the lock; the stored copy only changes on success."""
        with self._lock:
            current = self.get(session_id)
            change(current)
            if current.id != session_id:
                raise InvalidMetadata("a session's id cannot be changed")
            self._meta[session_id] = current.model_copy(deep=True)
            self._generation += 1
            return current

    def append_message(self, session_id: str, message: Message) -> SessionMetadata:
        """Append one message and update counts and activity."""
        with self._lock:
            meta = self.get(session_id)
            self._messages.setdefault(session_id, []).append(message)
            meta.record_message(message)
            self._meta[session_id] = meta.model_copy(deep=True)
            self._generation += 1
            return meta

    def load_messages(self, session_id: str) -> Transcript:
        """Every message of the session, oldest first."""
        with self._lock:
            if session_id not in self._meta:
                raise SessionNotFound(session_id)
            return Transcript(messages=list(self._messages.get(session_id, [])))

    @contextmanager
    def names_lock(self) -> Iterator[None]:
        """A process-wide lock for name assignment."""
        with self._names:
            yield

    def change_token(self) -> tuple[int, ...]:
        """A counter bumped by every write."""
        with self._lock:
            return (self._generation,)

    def change_cursor(self) -> ChangeCursor | None:
        """None: this repository keeps no log of changes (a snapshot lists every session)."""
        return None

    def changes_since(self, cursor: ChangeCursor) -> Changes | None:
        """None: this repository keeps no log of changes (a snapshot lists every session)."""
        return None

    def briefs(self, status: SessionStatus | None = None) -> _Briefs:
        """Every session (of ``status``) newest first, in brief."""
        return [SessionBrief.of(m) for m in self.list(SessionFilter(status))]

    def iter_briefs(self, status: SessionStatus | None = None) -> Iterator[SessionBrief]:
        """Every session (of ``status``) newest first, in brief."""
        yield from self.briefs(status)

    def find_by_name(self, name: str) -> _Metas:
        """Sessions named ``name``, ignoring case."""
        lowered = name.lower()
        return [m for m in self.list() if m.name is not None and m.name.lower() == lowered]

    def find_by_prefix(self, prefix: str) -> _Metas:
        """Sessions whose id starts with ``prefix``, newest first."""
        return [m for m in self.list() if m.id.startswith(prefix)]

    def transcript_bytes(self, session_id: str) -> bytes:
        """The transcript as JSON Lines, as the file store would hold it."""
        return "".join(m.to_line() + "\n" for m in self.load_messages(session_id).messages).encode("utf-8")

    def iter_transcript(self, session_id: str) -> Iterator[bytes]:
        """The transcript as JSON Lines, one chunk of lines per message."""
        for message in self.load_messages(session_id).messages:
            yield (message.to_line() + "\n").encode("utf-8")

    def tail_messages(self, session_id: str, count: int) -> TranscriptTail:
        """The last ``count`` messages and how many there are."""
        messages = self.load_messages(session_id).messages
        return TranscriptTail(messages=messages[-count:] if count > 0 else [], total=len(messages))

    def search(
        self, query: SearchQuery, status: SessionStatus | None, options: SearchOptions
    ) -> SearchResult | None:
        """No content index in memory: None (the service reads every transcript)."""
        return None

    def check(self, *, repair: bool = False) -> DoctorReport:
        """Nothing in memory can be torn or corrupted: a healthy report counting the sessions."""
        with self._lock:
            from chatcli.session.health import DoctorReport

            return DoctorReport(IN_MEMORY, repair, sessions_checked=len(self._meta))

    def repair(self, session_id: str) -> RepairReport:
        """Nothing in memory can be damaged: an unchanged report (or :class:`SessionNotFound`)."""
        with self._lock:
            if session_id not in self._meta:
                raise SessionNotFound(session_id)
            from chatcli.session.health import RepairReport

            return RepairReport(session_id)

    def trash(self, session_id: str, reason: str) -> str:
        """Move the session into the trash (kept whole, with when and why)."""
        from chatcli.session.fields import utc_now

        with self._lock:
            meta = self.get(session_id)
            record = TrashRecord(session_id, utc_now(), reason, meta.name)
            trash_id = trash_entry_name(session_id, record.deleted_at)
            self._trash[trash_id] = (record, meta, self._messages.pop(session_id, []))
            del self._meta[session_id]
            self._generation += 1
            return trash_id

    def trashed(self) -> TrashList:
        """Every session in the trash, most recently trashed first."""
        with self._lock:
            return TrashList(self.trashed_session(t) for t in self._trash)

    def trashed_session(self, trash_id: str) -> TrashedSession:
        """One session in the trash (a copy)."""
        with self._lock:
            record, meta, _ = self._entry(trash_id)
            return TrashedSession(trash_id, meta.model_copy(deep=True), record)

    def restore(self, trash_id: str, *, clear_name: bool = False) -> SessionMetadata:
        """Move a trashed session back; :class:`SessionAlreadyExists` if its id is taken."""
        with self._lock:
            _, meta, messages = self._entry(trash_id)
            if meta.id in self._meta:
                raise SessionAlreadyExists(f"session {meta.id[:8]}")
            if clear_name:
                meta.clear_name()
            del self._trash[trash_id]
            self._meta[meta.id] = meta
            self._messages[meta.id] = messages
            self._generation += 1
            return meta.model_copy(deep=True)

    def purge(self, trash_id: str) -> None:
        """Erase a trashed session for good."""
        with self._lock:
            self._entry(trash_id)
            del self._trash[trash_id]
            self._generation += 1

    def trashed_messages(self, trash_id: str) -> Transcript:
        """Every message of a trashed session."""
        with self._lock:
            return Transcript(messages=list(self._entry(trash_id)[2]))

    def trashed_transcript(self, trash_id: str) -> Iterator[bytes]:
        """A trashed session's transcript as JSON Lines, one chunk per message."""
        for message in self.trashed_messages(trash_id).messages:
            yield (message.to_line() + "\n").encode("utf-8")

    def _entry(self, trash_id: str) -> _TrashItem:
        found = self._trash.get(trash_id) if entry_session_id(trash_id) else None
        if found is None:
            raise SessionNotFound(trash_id, "not a session in the trash")
        return found
