"""The session service: every session-management rule, between the commands and the repository.

It resolves what the user typed (full id, unique id prefix of 4+ characters, or name) to one
session, keeps names unique, searches transcripts, exports and imports, forks and prunes, and
keeps an in-memory snapshot of the sessions for tab completion (never read from disk per
keystroke; refreshed after writes and when another process changed the folder).
"""

from __future__ import annotations

import heapq
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from chatcli.sanitize import clean, shorten
from chatcli.session.errors import (
    AmbiguousId,
    CorruptedSession,
    InputFileError,
    InvalidName,
    SerializationError,
    SessionAlreadyExists,
    SessionError,
    SessionNotFound,
    from_os_error,
)
from chatcli.session.fields import (
    SessionStatus,
    SessionView,
    is_session_id,
    new_session_id,
    utc_now,
    validate_session_name,
)
from chatcli.session.health import DoctorReport
from chatcli.session.repository import SessionFilter, SessionRepository
from chatcli.session.transcript import parse_transcript

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata

# The pydantic models are imported inside the functions that build them, so that a listing (which
# is served from the index as briefs) starts without importing pydantic at all.

__all__ = [
    "EXPORT_FORMAT",
    "MIN_PREFIX",
    "DeleteResult",
    "ImportResult",
    "ListResult",
    "LoadedSession",
    "PruneResult",
    "SearchHit",
    "SearchResult",
    "SessionDetail",
    "SessionService",
    "Snapshot",
    "StatusChoice",
]

#: Shortest id prefix accepted in place of a full id (like git's short hashes).
MIN_PREFIX = 4
EXPORT_FORMAT = "chatcli-session"
EXPORT_VERSION = 1
SNIPPET_WIDTH = 100

StatusChoice = Literal["active", "archived", "all"]
_PREFIX_CHARS = re.compile(r"[0-9a-f-]+")


@dataclass(frozen=True, slots=True)
class ListResult:
    """Sessions of a listing plus the problems (corrupted sessions) met on the way.

    ``total`` is how many sessions matched in all (more than ``len(sessions)`` when a limit cut
    the listing); None when unknown.
    """

    sessions: Sequence[SessionView]
    problems: list[SessionError]
    status: StatusChoice
    search: str | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """One session's metadata with its last few messages."""

    metadata: SessionMetadata
    recent: list[Message]
    total_messages: int
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class LoadedSession:
    """A whole session read back for resuming: metadata plus every readable message."""

    metadata: SessionMetadata
    messages: list[Message]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One message matching a full-text search."""

    session_id: str
    session_name: str | None
    role: str
    timestamp: datetime
    snippet: str
    message_index: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits of a full-text search, newest first, and whether the limit cut more off."""

    query: str
    hits: list[SearchHit]
    truncated: bool
    sessions_searched: int


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """A deleted session's last metadata."""

    metadata: SessionMetadata


@dataclass(slots=True)
class ImportResult:
    """What an import created and what it skipped (with reasons)."""

    imported: list[SessionMetadata] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """Sessions removed by a prune (or that would be, on a dry run)."""

    sessions: Sequence[SessionView]
    dry_run: bool
    cutoff: datetime
    failures: list[tuple[str, str]] = field(default_factory=list)
    #: Candidates left alone because the prune was cancelled before reaching them.
    not_reached: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """What completion needs to know about one session (lower-cased copies made once, here)."""

    id: str
    name: str | None
    first_message: str
    last_active: datetime
    status: SessionStatus
    message_count: int
    name_lower: str = field(init=False, repr=False, compare=False)
    first_lower: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name_lower", self.name.lower() if self.name else "")
        object.__setattr__(self, "first_lower", self.first_message.lower())


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable, in-memory picture of the sessions (newest first) for completion."""

    entries: tuple[SnapshotEntry, ...]
    token: tuple[int, ...]
    taken_at: datetime

    @classmethod
    def empty(cls) -> Snapshot:
        """A snapshot with no sessions."""
        return cls((), (), utc_now())


def _status_filter(status: StatusChoice) -> SessionStatus | None:
    return None if status == "all" else SessionStatus(status)


def _snippet(text: str, start: int, length: int, width: int = SNIPPET_WIDTH) -> str:
    """A one-line excerpt of ``text`` around ``start`` (whitespace folded, ellipses at cuts)."""
    pad = max((width - length) // 2, 10)
    lo = max(start - pad, 0)
    hi = min(start + length + pad, len(text))
    body = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


class SessionService:
    """All session operations, for both the REPL and the command line."""

    def __init__(self, repo: SessionRepository) -> None:
        self.repo = repo
        self._snapshot = Snapshot.empty()
        self._snapshot_lock = threading.Lock()
        self._refreshing = threading.Lock()

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> Snapshot:
        """The cached snapshot (no disk access): what the completer reads on each keystroke."""
        return self._snapshot

    def snapshot_is_stale(self) -> bool:
        """Cheap check (one or two ``stat`` calls): has any process written since the snapshot?"""
        return self.repo.change_token() != self._snapshot.token

    def refresh_snapshot(self, *, force: bool = False) -> Snapshot:
        """Rebuild the snapshot if the store changed (or ``force``); safe to call from a thread."""
        with self._refreshing:
            token = self.repo.change_token()
            if not force and token == self._snapshot.token and self._snapshot.token:
                return self._snapshot
            entries = tuple(
                SnapshotEntry(b.id, b.name, b.first_message, b.last_active, b.status, b.message_count)
                for b in self.repo.briefs()
            )
            snap = Snapshot(entries, token, utc_now())
            with self._snapshot_lock:
                self._snapshot = snap
            return snap

    # ------------------------------------------------------------------ resolution

    def resolve(self, ref: str) -> SessionMetadata:
        """The session ``ref`` names: a full id, a unique id prefix (4+ characters) or a name.

        Raises :class:`SessionNotFound` or :class:`AmbiguousId` (listing the candidates).
        """
        text = ref.strip()
        if not text:
            raise SessionNotFound(ref, "not a session id or name: it is empty")
        lowered = text.lower()
        if is_session_id(lowered):
            return self.repo.get(lowered)
        named = self.repo.find_by_name(text)
        exact = [m for m in named if m.name == text] or named
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            raise AmbiguousId(text, [_describe(m) for m in exact])
        if len(text) >= MIN_PREFIX and _PREFIX_CHARS.fullmatch(lowered):
            matches = self.repo.find_by_prefix(lowered)
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise AmbiguousId(text, [_describe(m) for m in matches])
        elif _PREFIX_CHARS.fullmatch(lowered):
            raise SessionNotFound(text, f"not a name, and id prefixes need at least {MIN_PREFIX} characters")
        for problem in self.repo.list(SessionFilter()).problems:
            if isinstance(problem, CorruptedSession) and problem.session_id.startswith(lowered):
                raise problem
        raise SessionNotFound(text)

    # ------------------------------------------------------------------ reads

    def list_sessions(
        self, *, status: StatusChoice = "active", search: str | None = None, limit: int | None = None
    ) -> ListResult:
        """Sessions newest first, filtered by status and a name/first-message search; ``limit``
        None lists every match. The result's ``total`` counts all matches."""
        listing = self.repo.list_briefs(SessionFilter(_status_filter(status), limit, search or None))
        return ListResult(list(listing), list(listing.problems), status, search or None, listing.total)

    def most_recent(self) -> SessionMetadata | None:
        """The most recently active, non-archived session, if any."""
        listing = self.repo.list(SessionFilter(SessionStatus.ACTIVE, 1))
        return listing[0] if listing else None

    def show(self, ref: str, *, last: int = 6) -> SessionDetail:
        """Metadata plus the last ``last`` messages of a session."""
        meta = self.resolve(ref)
        transcript = self.repo.load_messages(meta.id)
        recent = transcript.messages[-last:] if last > 0 else []
        return SessionDetail(meta, recent, len(transcript.messages), transcript.warnings)

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
        text: str,
        *,
        limit: int = 20,
        status: StatusChoice = "all",
        should_stop: Callable[[], bool] | None = None,
    ) -> SearchResult:
        """Case-insensitive full-text search over every message; newest hits first.

        ``should_stop`` is asked before each session: when it says so (the user cancelled), the
        hits found so far are returned, marked truncated.
        """
        needle = text.strip()
        if not needle:
            raise SessionNotFound(text, "not a search: the search text is empty")
        lowered = needle.lower()
        raw_needle = _raw_needle(lowered)
        top: list[tuple[tuple[datetime, str, int], SearchHit]] = []  # min-heap of the newest hits
        searched = 0
        stopped_early = False
        for brief in self.repo.iter_briefs(_status_filter(status)):
            # Sessions come newest first and a message is never newer than its session's
            # last_active: once the heap is full of newer hits, no older session can add one.
            if len(top) >= limit and brief.last_active < top[0][0][0]:
                stopped_early = True
                break
            if should_stop is not None and should_stop():
                stopped_early = True
                break
            try:
                data = self.repo.transcript_bytes(brief.id)
            except SessionNotFound:
                continue
            searched += 1
            if raw_needle is not None and raw_needle not in data.lower():
                continue
            for index, message in enumerate(parse_transcript(data).messages):
                pos = message.content.lower().find(lowered)
                if pos < 0:
                    continue
                hit = SearchHit(
                    brief.id,
                    brief.name,
                    message.role,
                    message.timestamp,
                    _snippet(message.content, pos, len(needle)),
                    index,
                )
                item = ((message.timestamp, brief.id, index), hit)
                if len(top) < limit:
                    heapq.heappush(top, item)
                elif item[0] > top[0][0]:
                    heapq.heapreplace(top, item)
                    stopped_early = True  # a hit fell off the end: there are more
                else:
                    stopped_early = True
        hits = [hit for _, hit in sorted(top, key=lambda item: item[0], reverse=True)]
        return SearchResult(needle, hits, stopped_early, searched)

    # ------------------------------------------------------------------ writes

    def start_session(self, messages: Sequence[Message]) -> SessionMetadata:
        """Create a session holding ``messages`` (the first chat turn, or a conversation to carry on)."""
        from chatcli.session.models import SessionMetadata

        first_user = next((m.content for m in messages if m.role == "user"), "")
        meta = SessionMetadata.new(new_session_id(), first_user)
        meta.message_count = len(messages)
        if messages:
            meta.last_active = max(meta.created, messages[-1].timestamp)
        self.repo.create(meta, messages)
        return meta

    def append(self, session_id: str, message: Message) -> SessionMetadata:
        """Append one message to a session (durable when this returns)."""
        return self.repo.append_message(session_id, message)

    def rename(self, ref: str, name: str | None) -> SessionMetadata:
        """Set (or with ``None`` clear) a session's name; names are unique, ignoring case."""
        meta = self.resolve(ref)
        if name is None:
            return self.repo.update(meta.id, lambda m: m.clear_name())
        new_name = validate_session_name(name)
        with self.repo.names_lock():
            self._check_name_free(new_name, self.repo.list(SessionFilter()), except_id=meta.id)
            return self.repo.update(meta.id, lambda m: m.set_name(new_name))

    def archive(self, ref: str) -> SessionMetadata:
        """Archive a session: hidden from the default listing, kept on disk, resumable."""
        return self.repo.update(self.resolve(ref).id, lambda m: m.archive())

    def unarchive(self, ref: str) -> SessionMetadata:
        """Bring an archived session back into the default listing."""
        return self.repo.update(self.resolve(ref).id, lambda m: m.unarchive())

    def delete(self, ref: str) -> DeleteResult:
        """Delete a session for good (the command layer asks for confirmation first)."""
        meta = self.resolve(ref)
        self.repo.delete(meta.id)
        return DeleteResult(meta)

    def fork(self, ref: str, name: str | None = None) -> SessionMetadata:
        """A new session starting with a copy of another's messages."""
        from chatcli.session.models import SessionMetadata

        source = self.resolve(ref)
        if name is not None:
            validate_session_name(name)
        transcript = self.repo.load_messages(source.id)
        meta = SessionMetadata.from_messages(new_session_id(), transcript.messages, when_empty=utc_now())
        meta.created = utc_now()
        meta.last_active = max(meta.created, meta.last_active)
        meta.first_message = source.first_message
        meta.custom_fields = {"forked_from": source.id}
        if name is None:
            self.repo.create(meta, transcript.messages)
            return meta
        with self.repo.names_lock():
            self._check_name_free(name, self.repo.list(SessionFilter()))
            meta.name = name
            self.repo.create(meta, transcript.messages)
        return meta

    def _check_name_free(
        self, name: str, sessions: Iterable[SessionMetadata], *, except_id: str | None = None
    ) -> None:
        """Raise :class:`SessionAlreadyExists` if another session already has ``name`` (any case)."""
        for other in sessions:
            if other.id != except_id and other.name is not None and other.name.lower() == name.lower():
                raise SessionAlreadyExists(
                    f"the name {name!r} (used by session {other.id[:8]})",
                    "Choose another name, or rename that session first.",
                )

    def prune_candidates(self, older_than: timedelta, *, archived_only: bool = False) -> PruneResult:
        """Sessions a prune would delete: last active before now - ``older_than``."""
        cutoff = utc_now() - older_than
        status: StatusChoice = "archived" if archived_only else "all"
        listing = self.repo.list_briefs(SessionFilter(_status_filter(status)))
        chosen = [b for b in listing if b.last_active < cutoff]
        return PruneResult(chosen, True, cutoff)

    def prune(self, candidates: PruneResult, *, should_stop: Callable[[], bool] | None = None) -> PruneResult:
        """Delete exactly the sessions ``candidates`` lists (re-checked: still too old).

        ``should_stop`` is asked before each deletion: when the user cancels, the sessions not
        reached yet are kept and reported as such.
        """
        deleted: list[SessionView] = []
        failures: list[tuple[str, str]] = []
        for position, meta in enumerate(candidates.sessions):
            if should_stop is not None and should_stop():
                return PruneResult(
                    deleted, False, candidates.cutoff, failures, len(candidates.sessions) - position
                )
            try:
                current = self.repo.get(meta.id)
                if current.last_active >= candidates.cutoff:
                    failures.append((meta.id, "it was used again since the prune started; kept"))
                    continue
                self.repo.delete(meta.id)
                deleted.append(current)
            except SessionError as exc:
                failures.append((meta.id, exc.user_message().splitlines()[0]))
        return PruneResult(deleted, False, candidates.cutoff, failures)

    # ------------------------------------------------------------------ health

    def doctor(self, *, repair: bool = False) -> DoctorReport:
        """Examine the sessions folder; with ``repair`` fix what can be fixed without losing data."""
        return self.repo.check(repair=repair)

    # ------------------------------------------------------------------ export / import

    def export(self, ref: str, fmt: Literal["markdown", "json"]) -> str:
        """The session as Markdown (for reading) or JSON (for ``import``)."""
        loaded = self.load(ref)
        if fmt == "json":
            return export_json(loaded.metadata, loaded.messages)
        return export_markdown(loaded.metadata, loaded.messages)

    def import_file(self, path: Path, *, should_stop: Callable[[], bool] | None = None) -> ImportResult:
        """Import sessions from a JSON export, a JSON array of them, or a JSON-Lines corpus.

        Existing ids are never overwritten (reported and skipped); a name already taken is
        dropped with a note; everything else is imported even if one record is bad. When
        ``should_stop`` says so (the user cancelled), the import ends after the current record,
        with a note saying where.
        """
        result = ImportResult()
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise InputFileError(path, "no such file") from exc
        except IsADirectoryError as exc:
            raise InputFileError(path, "it is a folder, not a file") from exc
        except PermissionError as exc:
            raise InputFileError(path, "permission denied") from exc
        except OSError as exc:
            raise from_os_error(exc, path) from exc
        # The names lock is held for the whole import so a concurrent rename cannot take a name
        # this import is assigning (renames elsewhere wait, or report a retry hint).
        with handle, self.repo.names_lock():
            names = {b.name.lower() for b in self.repo.list_briefs(SessionFilter()) if b.name}
            for position, record in _read_records(handle, path):
                if should_stop is not None and should_stop():
                    result.notes.append(f"cancelled: record {position} and the rest were not imported")
                    break
                if isinstance(record, SerializationError):
                    result.skipped.append((f"record {position}", record.detail))
                    continue
                self._import_one(record, position, names, result)
        return result

    def _import_one(self, record: object, position: int, names: set[str], result: ImportResult) -> None:
        label = f"record {position}"
        try:
            meta, messages = _record_to_session(record)
        except SerializationError as exc:
            result.skipped.append((label, exc.detail))
            return
        if not is_session_id(meta.id):
            old = meta.id
            meta.id = new_session_id()
            result.notes.append(f"{label}: id {shorten(old, 40)!r} is not a UUID; imported as {meta.id}")
        dropped_name = None
        if meta.name is not None and meta.name.lower() in names:
            dropped_name, meta.name = meta.name, None
        try:
            self.repo.create(meta, messages)
        except SessionAlreadyExists:
            result.skipped.append((meta.id, "a session with this id already exists; left untouched"))
            return
        if dropped_name is not None:
            result.notes.append(f"{meta.id[:8]}: name {dropped_name!r} is taken; imported without a name")
        if meta.name:
            names.add(meta.name.lower())
        result.imported.append(meta)


def _raw_needle(lowered: str) -> bytes | None:
    """The needle as it appears in a transcript's raw bytes, for a quick pre-check; None when
    JSON escaping could hide it (quotes, backslashes, controls) or ASCII lower-casing differs."""
    if not lowered.isascii() or any(ch in lowered for ch in '"\\') or not lowered.isprintable():
        return None
    return lowered.encode("ascii")


def _describe(meta: SessionMetadata) -> str:
    label = meta.name or shorten(" ".join(meta.first_message.split()), 50)
    return f"{meta.id}  {label}"


def export_json(meta: SessionMetadata, messages: Sequence[Message]) -> str:
    """The JSON export document (what ``import`` reads back)."""
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "session": meta.model_dump(mode="json"),
        "messages": [m.model_dump(mode="json") for m in messages],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def export_markdown(meta: SessionMetadata, messages: Sequence[Message]) -> str:
    """A readable Markdown transcript with a metadata header.

    Markdown is for reading (``cat``, a pager), so control characters in untrusted text are shown
    as visible marks, never written raw; the JSON export is the lossless format.
    """
    title = clean(meta.name or meta.id)
    lines = [
        f"# Session {title}",
        "",
        f"- id: `{meta.id}`",
        f"- status: {meta.status.value}",
        f"- created: {meta.created.isoformat()}",
        f"- last active: {meta.last_active.isoformat()}",
        f"- messages: {len(messages)}",
        "",
    ]
    for message in messages:
        who = message.role.capitalize() + (" (interrupted)" if message.interrupted else "")
        lines += ["---", "", f"**{who}** · {message.timestamp.isoformat()}", "", clean(message.content), ""]
    return "\n".join(lines)


def _read_records(handle: BinaryIO, path: Path) -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed record or SerializationError) from an import file.

    A file whose first non-blank line is a whole session object is read as JSON Lines, one line
    at a time (corpora can be large); anything else is parsed as one JSON document.
    """
    consumed: list[bytes] = []
    first = b""
    for line in handle:
        consumed.append(line)
        if line.strip():
            first = line
            break
    if not first:
        yield 1, SerializationError(f"{path.name} is empty")
        return
    try:
        head = json.loads(first)
    except (ValueError, UnicodeDecodeError):
        head = None
    if isinstance(head, dict) and "messages" in head:
        yield len(consumed), head
        for number, line in enumerate(handle, start=len(consumed) + 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                yield number, SerializationError(f"line {number} is not valid JSON ({exc})")
        return
    body = b"".join(consumed) + handle.read()
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        yield 1, SerializationError(f"{path.name} is neither a chatcli JSON export nor JSON Lines ({exc})")
        return
    if isinstance(doc, list):
        yield from enumerate(doc, start=1)
    else:
        yield 1, doc


def _record_to_session(record: object) -> tuple[SessionMetadata, list[Message]]:
    """Turn one export document or corpus line into metadata and messages."""
    from pydantic import ValidationError

    from chatcli.session.models import Message, SessionMetadata, first_user_message

    if not isinstance(record, dict):
        raise SerializationError("not a JSON object")
    if record.get("format") == EXPORT_FORMAT:
        version = record.get("version")
        if not isinstance(version, int) or version > EXPORT_VERSION:
            raise SerializationError(f"export version {version!r} is not supported; upgrade chatcli")
        session = record.get("session")
        if not isinstance(session, dict):
            raise SerializationError("the export has no 'session' object")
        raw_meta: dict[str, Any] = dict(session)
    else:
        raw_meta = {k: record[k] for k in ("id", "name", "status", "created", "last_active") if k in record}
    raw_messages = record.get("messages")
    if not isinstance(raw_messages, list):
        raise SerializationError("'messages' is missing or not a list")
    try:
        messages = [Message.model_validate(m) for m in raw_messages]
    except ValidationError as exc:
        raise SerializationError(f"a message is invalid: {exc.errors(include_url=False)[0]['msg']}") from exc
    now = utc_now()
    sid = raw_meta.get("id")
    name = raw_meta.get("name")
    if name is not None:
        try:
            name = validate_session_name(str(name))
        except InvalidName:
            name = None
    try:
        meta = SessionMetadata(
            id=str(sid) if isinstance(sid, str) and sid else new_session_id(),
            status=raw_meta.get("status") or SessionStatus.ACTIVE,
            created=raw_meta.get("created") or (messages[0].timestamp if messages else now),
            last_active=raw_meta.get("last_active") or (messages[-1].timestamp if messages else now),
            first_message=first_user_message(messages),
            name=name,
            message_count=len(messages),
            custom_fields=raw_meta.get("custom_fields") or {},
        )
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise SerializationError(f"session field {loc or '?'}: {err['msg']}") from exc
    if messages and meta.last_active < messages[-1].timestamp:
        meta.last_active = messages[-1].timestamp
    return meta, messages
