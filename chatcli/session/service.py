"""The session service: every session-management rule, between the commands and the repository.

It resolves what the user typed (full id, unique id prefix of 4+ characters, or name) to one
session, keeps names unique, searches transcripts, forks and prunes, and hands exports and imports to
:mod:`chatcli.session.transfer`. What its operations return is defined in :mod:`chatcli.session.outcomes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from chatcli.sanitize import shorten
from chatcli.session.errors import (
    AmbiguousId,
    CorruptedSession,
    SessionAlreadyExists,
    SessionError,
    SessionNotFound,
)
from chatcli.session.fields import (
    MIN_PREFIX,
    ChangeCursor,
    Changes,
    SessionBrief,
    SessionStatus,
    SessionView,
    is_session_id,
    new_session_id,
    reads_as_id,
    utc_now,
    validate_session_name,
    validate_tag,
)
from chatcli.session.outcomes import (
    DeleteResult,
    ListResult,
    LoadedSession,
    PruneResult,
    SearchResult,
    SessionDetail,
    StatusChoice,
)
from chatcli.session.repository import SessionFilter, SessionRepository
from chatcli.session.search import SearchOptions, SearchQuery, SearchSort, scan_all
from chatcli.session.trash_service import TrashService

if TYPE_CHECKING:
    from chatcli.session.health import DoctorReport
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.transfer import ImportResult
    from chatcli.session.trashed import TrashedSession

# The pydantic models are imported inside the functions that build them, so that a listing (which
# is served from the index as briefs) starts without importing pydantic at all.

__all__ = ["MIN_PREFIX", "SessionService"]

_PREFIX_CHARS = re.compile(r"[0-9a-f-]+")


def _status_filter(status: StatusChoice) -> SessionStatus | None:
    return None if status == "all" else SessionStatus(status)


class SessionService:
    """All session operations, for both the REPL and the command line."""

    def __init__(self, repo: SessionRepository, *, on_write: Callable[[], None] | None = None) -> None:
        self.repo = repo
        #: Called once, after this service first creates or extends a session (the front ends
        #: remember the project for ``--all-projects``; see :mod:`chatcli.session.projects`).
        self._on_write = on_write
        #: Trash rules (``sessions trash``, ``restore``, ``trash empty``).
        self.trash = TrashService(repo)

    # ------------------------------------------------------------------ change tracking

    def changes_since(self, cursor: ChangeCursor | None) -> Changes | None:
        """The sessions changed since ``cursor`` (None: every session must be read again)."""
        return None if cursor is None else self.repo.changes_since(cursor)

    def change_cursor(self) -> ChangeCursor | None:
        """Where the store's log of changes ends now (ask :meth:`changes_since` from it later)."""
        return self.repo.change_cursor()

    def change_token(self) -> tuple[int, ...]:
        """A cheap value (a ``stat`` or two) that changes whenever any process changes the sessions."""
        return self.repo.change_token()

    def briefs(self, status: SessionStatus | None = None) -> list[SessionBrief]:
        """Every session (of ``status``, None for all) newest first, in brief: no metadata models."""
        return self.repo.briefs(status)

    # ------------------------------------------------------------------ resolution

    def resolve(self, ref: str) -> SessionMetadata:
        """The session ``ref`` names: a full id, a unique id prefix (4+ characters) or a name.

        An id always wins over a name: text that reads as an id (see
        :func:`~chatcli.session.fields.reads_as_id`; such names are refused, but older versions
        stored some) is looked up as one first, and only a text that is no session's id (prefix)
        is looked up as a name. Raises :class:`SessionNotFound` or :class:`AmbiguousId`
        (listing the candidates).
        """
        text = ref.strip()
        if not text:
            raise SessionNotFound(ref, "not a session id or name: it is empty")
        lowered = text.lower()
        if is_session_id(lowered):
            try:
                return self.repo.get(lowered)
            except SessionNotFound:
                named = self._named(text)
                if named is None:
                    raise
                return named
        if reads_as_id(lowered):
            matches = self.repo.find_by_prefix(lowered)
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise AmbiguousId(text, [_describe(m) for m in matches])
            for problem in self.repo.list(SessionFilter()).problems:
                if isinstance(problem, CorruptedSession) and problem.session_id.startswith(lowered):
                    raise problem
        named = self._named(text)
        if named is not None:
            return named
        if _PREFIX_CHARS.fullmatch(lowered) and not reads_as_id(lowered):
            raise SessionNotFound(text, f"not a name, and id prefixes need at least {MIN_PREFIX} characters")
        raise SessionNotFound(text)

    def _named(self, name: str) -> SessionMetadata | None:
        """The one session named ``name`` (an exact-case match first), None if there is none;
        :class:`AmbiguousId` when several are."""
        named = self.repo.find_by_name(name)
        exact = [m for m in named if m.name == name] or named
        if len(exact) > 1:
            raise AmbiguousId(name, [_describe(m) for m in exact])
        return exact[0] if exact else None

    def short_ref(self, session_id: str, minimum: int = 8) -> str:
        """The shortest prefix of ``session_id`` (``minimum`` characters or more) that
        :meth:`resolve` takes back to this session: no other session's id starts with it and no
        session is named so. The full id when none is shorter."""
        for length in range(minimum, len(session_id)):
            prefix = session_id[:length]
            if prefix.endswith("-"):
                continue
            if len(self.repo.find_by_prefix(prefix)) <= 1 and not self.repo.find_by_name(prefix):
                return prefix
        return session_id

    # ------------------------------------------------------------------ reads

    def list_sessions(
        self,
        *,
        status: StatusChoice = "active",
        search: str | None = None,
        limit: int | None = None,
        tags: Sequence[str] = (),
    ) -> ListResult:
        """Sessions newest first, filtered by status, a name/first-message search and ``tags`` (all
        of them); ``limit`` None lists every match. The result's ``total`` counts all matches."""
        wanted = _tag_filter(tags)
        listing = self.repo.list_briefs(SessionFilter(_status_filter(status), limit, search or None, wanted))
        return ListResult(
            list(listing), list(listing.problems), status, search or None, listing.total, wanted
        )

    def most_recent(self) -> SessionMetadata | None:
        """The most recently active, non-archived session, if any."""
        listing = self.repo.list(SessionFilter(SessionStatus.ACTIVE, 1))
        return listing[0] if listing else None

    def show(self, ref: str, *, last: int = 6) -> SessionDetail:
        """Metadata plus the last ``last`` messages of a session (one in the trash too)."""
        try:
            meta = self.resolve(ref)
        except SessionNotFound as exc:
            entry = self._trashed_or_raise(ref, exc)
            messages = self.repo.trashed_messages(entry.trash_id)
            recent = messages.messages[-last:] if last > 0 else []
            return SessionDetail(entry.metadata, recent, len(messages.messages), messages.warnings, entry)
        tail = self.repo.tail_messages(meta.id, max(last, 0))
        return SessionDetail(meta, tail.messages, tail.total, tail.warnings)

    def read(self, ref: str) -> LoadedSession:
        """A whole session to export: :meth:`load`, or else a session in the trash."""
        try:
            return self.load(ref)
        except SessionNotFound as exc:
            entry = self._trashed_or_raise(ref, exc)
            transcript = self.repo.trashed_messages(entry.trash_id)
            return LoadedSession(entry.metadata, transcript.messages, transcript.warnings)

    def _trashed_or_raise(self, ref: str, error: SessionNotFound) -> TrashedSession:
        """The trashed session ``ref`` names; ``error`` (not found) when the trash has none."""
        try:
            return self.trash.resolve(ref)
        except SessionNotFound:
            raise error from None

    def load(self, ref: str) -> LoadedSession:
        """Everything needed to resume a session; corrupted metadata is repaired on the way."""
        try:
            meta = self.resolve(ref)
        except CorruptedSession as exc:
            report = self.repo.repair(exc.session_id)
            meta = self.repo.get(exc.session_id)
            transcript = self.repo.load_messages(meta.id)
            return LoadedSession(meta, transcript.messages, [*report.actions, *transcript.warnings])
        transcript = self.repo.load_messages(meta.id)
        return LoadedSession(meta, transcript.messages, transcript.warnings)

    def search(
        self,
        query: str | SearchQuery,
        *,
        limit: int = 20,
        status: StatusChoice = "all",
        sort: SearchSort = "recent",
        every_hit: bool = False,
        should_stop: Callable[[], bool] | None = None,
        trash: bool = False,
        tags: Sequence[str] = (),
    ) -> SearchResult:
        """Full-text search over every message (see :mod:`chatcli.session.search` for the
        query syntax) of the sessions that have every one of ``tags``: one entry per session
        with hits, newest first or most relevant first, at most ``limit`` of them; with
        ``every_hit`` each lists all its hits. With ``trash`` the sessions in the trash are
        searched instead (by reading them: the content index holds live sessions only).

        Served by the repository's content index when it has one; else every transcript is
        streamed, ``should_stop`` asked before each session (the user cancelled: the sessions
        found so far are returned, marked truncated). A session that cannot be read is named in
        the result's warnings, never fatal. A ``query`` given as text that cannot be parsed
        raises :class:`~chatcli.session.search.InvalidQuery`.
        """
        parsed = query if isinstance(query, SearchQuery) else SearchQuery.parse(query)
        options = SearchOptions(sort, limit, every_hit, should_stop, _tag_filter(tags))
        if trash:
            return self._search_trash(parsed, options)
        found = self.repo.search(parsed, _status_filter(status), options)
        if found is not None:
            return found
        return scan_all(
            parsed, self.repo.iter_briefs(_status_filter(status)), self.repo.iter_transcript, options
        )

    def _search_trash(self, query: SearchQuery, options: SearchOptions) -> SearchResult:
        """:meth:`search` over the trashed sessions (the latest entry of a session trashed twice)."""
        entries = sorted(
            self.repo.trashed(), key=lambda t: (t.metadata.last_active, t.trash_id), reverse=True
        )
        latest: dict[str, str] = {}
        for entry in sorted(entries, key=lambda t: t.trash_id):
            latest[entry.metadata.id] = entry.trash_id
        briefs = [SessionBrief.of(e.metadata) for e in entries if latest[e.metadata.id] == e.trash_id]
        return scan_all(query, briefs, lambda sid: self.repo.trashed_transcript(latest[sid]), options)

    # ------------------------------------------------------------------ writes

    def _wrote(self) -> None:
        """Run the ``on_write`` hook the first time only."""
        hook, self._on_write = self._on_write, None
        if hook is not None:
            hook()

    def start_session(self, messages: Sequence[Message], system_prompt: str | None = None) -> SessionMetadata:
        """Create a session holding ``messages`` (the first chat turn, or a conversation to carry
        on), keeping ``system_prompt`` with it."""
        meta = _new_metadata(messages)
        meta.system_prompt = system_prompt or None
        self.repo.create(meta, messages)
        self._wrote()
        return meta

    def set_system_prompt(self, ref: str, system_prompt: str | None) -> SessionMetadata:
        """Replace (or with ``None`` remove) the system prompt kept with a session."""
        return self.repo.update(
            self.resolve(ref).id, lambda m: setattr(m, "system_prompt", system_prompt or None)
        )

    def append(self, session_id: str, message: Message) -> SessionMetadata:
        """Append one message to a session (durable when this returns)."""
        meta = self.repo.append_message(session_id, message)
        self._wrote()
        return meta

    def rename(self, ref: str, name: str | None) -> SessionMetadata:
        """Set (or with ``None`` clear) a session's name; names are unique, ignoring case."""
        meta = self.resolve(ref)
        if name is None:
            return self.repo.update(meta.id, lambda m: m.clear_name())
        new_name = validate_session_name(name)
        with self.repo.names_lock():
            self._check_name_free(new_name, except_id=meta.id)
            return self.repo.update(meta.id, lambda m: m.set_name(new_name))

    def archive(self, ref: str) -> SessionMetadata:
        """Archive a session: hidden from the default listing, kept on disk, resumable."""
        return self.repo.update(self.resolve(ref).id, lambda m: m.archive())

    def unarchive(self, ref: str) -> SessionMetadata:
        """Bring an archived session back into the default listing."""
        return self.repo.update(self.resolve(ref).id, lambda m: m.unarchive())

    def set_pinned(self, ref: str, pinned: bool) -> SessionMetadata:
        """Pin (or unpin) a session: pinned ones come first in the picker and are never pruned."""
        return self.repo.update(self.resolve(ref).id, lambda m: m.pin() if pinned else m.unpin())

    def tag(self, ref: str, tags: Sequence[str]) -> SessionMetadata:
        """Add ``tags`` to a session (validated first: an invalid tag changes nothing)."""
        return self.repo.update(self.resolve(ref).id, lambda m: m.add_tags(tags))

    def untag(self, ref: str, tags: Sequence[str]) -> SessionMetadata:
        """Remove ``tags`` from a session (ones it does not have are ignored)."""
        return self.repo.update(self.resolve(ref).id, lambda m: m.remove_tags(tags))

    def delete(self, ref: str, *, permanent: bool = False) -> DeleteResult:
        """Move a session to the trash (restorable); ``permanent`` erases it for good instead
        (the command layer asks for confirmation first)."""
        meta = self.resolve(ref)
        if permanent:
            self.repo.delete(meta.id)
            return DeleteResult(meta)
        return DeleteResult(meta, self.repo.trash(meta.id, "deleted"))

    def fork(self, ref: str, name: str | None = None) -> SessionMetadata:
        """A new session starting with a copy of another's messages."""
        source = self.resolve(ref)
        if name is not None:
            validate_session_name(name)
        transcript = self.repo.load_messages(source.id)
        meta = _new_metadata(transcript.messages)
        meta.first_message = source.first_message
        meta.system_prompt = source.system_prompt
        meta.custom_fields = {"forked_from": source.id}
        if name is None:
            self.repo.create(meta, transcript.messages)
        else:
            with self.repo.names_lock():
                self._check_name_free(name)
                meta.name = name
                self.repo.create(meta, transcript.messages)
        self._wrote()
        return meta

    def _check_name_free(self, name: str, *, except_id: str | None = None) -> None:
        """Raise :class:`SessionAlreadyExists` if another session already has ``name`` (any case).

        Asks the repository for that one name (an index lookup), never for a listing of all.
        """
        for other in self.repo.find_by_name(name):
            if other.id != except_id:
                raise SessionAlreadyExists(
                    f"the name {name!r} (used by session {other.id[:8]})",
                    "Choose another name, or rename that session first.",
                )

    def prune_candidates(self, older_than: timedelta, *, archived_only: bool = False) -> PruneResult:
        """Sessions a prune would delete: last active before now - ``older_than``."""
        cutoff = utc_now() - older_than
        status: StatusChoice = "archived" if archived_only else "all"
        listing = self.repo.list_briefs(SessionFilter(_status_filter(status)))
        old = [b for b in listing if b.last_active < cutoff]
        chosen = [b for b in old if not b.pinned]
        return PruneResult(chosen, True, cutoff, pinned_kept=len(old) - len(chosen))

    def prune(self, candidates: PruneResult, *, should_stop: Callable[[], bool] | None = None) -> PruneResult:
        """Delete exactly the sessions ``candidates`` lists (re-checked: still too old).

        ``should_stop`` is asked before each deletion: when the user cancels, the sessions not
        reached yet are kept and reported as such.
        """
        deleted: list[SessionView] = []
        failures: list[tuple[str, str]] = []
        for position, meta in enumerate(candidates.sessions):
            if should_stop is not None and should_stop():
                left = len(candidates.sessions) - position
                return PruneResult(deleted, False, candidates.cutoff, failures, left, candidates.pinned_kept)
            try:
                current = self.repo.get(meta.id)
                if current.last_active >= candidates.cutoff:
                    failures.append((meta.id, "it was used again since the prune started; kept"))
                    continue
                if current.pinned:
                    failures.append((meta.id, "it was pinned since the prune started; kept"))
                    continue
                self.repo.trash(meta.id, f"pruned: not used since {candidates.cutoff:%Y-%m-%d %H:%M} UTC")
                deleted.append(current)
            except SessionError as exc:
                failures.append((meta.id, exc.user_message().splitlines()[0]))
        return PruneResult(deleted, False, candidates.cutoff, failures, pinned_kept=candidates.pinned_kept)

    # ------------------------------------------------------------------ health

    def doctor(self, *, repair: bool = False) -> DoctorReport:
        """Examine the sessions folder; with ``repair`` fix what can be fixed without losing data."""
        return self.repo.check(repair=repair)

    # ------------------------------------------------------------------ export / import

    def export(self, ref: str) -> str:
        """The session (one in the trash too) as a JSON export document (what
        :meth:`import_file` reads back)."""
        from chatcli.session.transfer import export_json  # the JSON codec loads when used

        loaded = self.read(ref)
        return export_json(loaded.metadata, loaded.messages)

    def import_file(
        self,
        path: Path,
        *,
        should_stop: Callable[[], bool] | None = None,
        new_ids: bool = False,
        stream: BinaryIO | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Import sessions from a JSON export, a JSON array of them, or a JSON-Lines corpus.

        Existing ids are never overwritten (``new_ids`` imports such sessions as copies) and a
        name already taken is dropped (see :func:`chatcli.session.transfer.import_sessions`);
        ``stream`` is read instead of ``path``; ``should_stop`` cancels between records;
        ``progress`` is told how many bytes were read, now and then.
        """
        from chatcli.session.transfer import import_sessions

        result = import_sessions(
            self.repo, path, should_stop=should_stop, new_ids=new_ids, stream=stream, progress=progress
        )
        if result.imported:
            self._wrote()
        return result


def _tag_filter(tags: Sequence[str]) -> tuple[str, ...]:
    """The tags a listing or search is filtered by, validated (lower-cased, each once)."""
    return tuple(dict.fromkeys(validate_tag(tag) for tag in tags))


def _new_metadata(messages: Sequence[Message]) -> SessionMetadata:
    """Metadata for a new session holding ``messages``: created now, last active now or at its
    last message if that is later; the rest derived from the messages."""
    from chatcli.session.models import SessionMetadata

    now = utc_now()
    meta = SessionMetadata.from_messages(new_session_id(), messages, when_empty=now)
    meta.created = now
    meta.last_active = max(now, meta.last_active)
    return meta


def _describe(meta: SessionMetadata) -> str:
    label = meta.name or shorten(" ".join(meta.first_message.split()), 50)
    return f"{meta.id}  {label}"
