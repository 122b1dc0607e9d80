"""Export and import formats: the JSON export document and the files ``sessions import`` reads.

An export is one JSON document (``format``, ``version``, ``session``, ``messages``); an import
reads such a document, a JSON array of them, or a JSON-Lines corpus (one session object a line).
The readable Markdown export is a transcript rendering and lives in :mod:`chatcli.render.transcript`.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from chatcli import jsontext
from chatcli.sanitize import shorten
from chatcli.session.errors import (
    InvalidName,
    SerializationError,
    SessionAlreadyExists,
    SessionError,
    StorageError,
)
from chatcli.session.fields import is_session_id, new_session_id, utc_now, validate_session_name
from chatcli.session.import_file import open_input, read_records
from chatcli.session.repository import SessionFilter, SessionRepository

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.store.batch import NewSession

# The pydantic models are imported inside the functions that build them, so that importing this
# module (the renderers import ImportResult) never imports pydantic.

__all__ = [
    "ALREADY_EXISTS",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "ImportResult",
    "export_json",
    "import_sessions",
]

EXPORT_FORMAT = "chatcli-session"
EXPORT_VERSION = 1
#: Metadata fields a JSON-Lines corpus line may carry beside its ``messages``.
_CORPUS_FIELDS = ("id", "name", "status", "created", "last_active")
#: Metadata fields taken from the record when given; otherwise derived from the messages.
_OVERRIDABLE = ("status", "created", "last_active", "custom_fields", "system_prompt", "pinned", "tags")


#: Why a session whose id is already taken was not imported (the JSON ``skipped`` reason).
ALREADY_EXISTS = "a session with this id already exists; left untouched"


@dataclass(slots=True)
class ImportResult:
    """What an import created, what it skipped (with reasons) and the ids it left alone.

    ``skipped`` holds the records that failed; ``existing`` the ids of sessions that already
    exist, left untouched (not a failure: importing the same file twice imports nothing new).
    """

    imported: list[SessionMetadata] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def export_json(meta: SessionMetadata, messages: Sequence[Message]) -> str:
    """The JSON export document (what ``import`` reads back); control and bidi characters are
    written as ``\\uXXXX`` escapes (:func:`chatcli.jsontext.dumps`), as in every JSON output."""
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "session": meta.model_dump(mode="json"),
        "messages": [m.model_dump(mode="json") for m in messages],
    }
    return jsontext.dumps(doc, indent=2) + "\n"


def import_sessions(
    repo: SessionRepository,
    path: Path,
    *,
    should_stop: Callable[[], bool] | None = None,
    new_ids: bool = False,
    stream: BinaryIO | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import sessions from a JSON export, a JSON array of them, or a JSON-Lines corpus.

    Existing ids are never overwritten: such a session is left alone (``existing``), or with
    ``new_ids`` imported as a copy under a new id. A name already taken is dropped with a note;
    everything else is imported even if one record is bad. ``stream`` (e.g. standard input) is
    read instead of opening ``path``, which then only names it in messages. When
    ``should_stop`` says so (the user cancelled), the import ends after the current record,
    with a note saying where.

    Sessions are created :data:`BATCH` at a time (:meth:`SessionRepository.create_many`: their
    disk flushes and index writes shared, a batch indexed while the next is read and written);
    a session is counted as imported only once its batch is durable. ``progress`` is told how
    many bytes of the file were read after each batch.
    """
    result = ImportResult()
    handle: contextlib.AbstractContextManager[BinaryIO] = (
        contextlib.nullcontext(stream) if stream is not None else open_input(path)
    )
    # The names lock is held for the whole import so a concurrent rename cannot take a name
    # this import is assigning (renames elsewhere wait, or report a retry hint).
    with handle as source, repo.names_lock(), _rare_collections():
        names = {b.name.lower() for b in repo.list_briefs(SessionFilter()) if b.name}
        batch = _Batch(repo, names, result, new_ids=new_ids)
        records = _until_stopped(read_records(source, path), should_stop, result)
        batch.run(records, (lambda: progress(_offset(source))) if progress is not None else (lambda: None))
    return result


def _until_stopped(
    records: Iterator[tuple[int, object]], should_stop: Callable[[], bool] | None, result: ImportResult
) -> Iterator[tuple[int, object]]:
    """``records`` until ``should_stop`` says so (the user cancelled: a note says where)."""
    for position, record in records:
        if should_stop is not None and should_stop():
            result.notes.append(f"cancelled: record {position} and the rest were not imported")
            return
        yield position, record


#: Sessions created together (one index transaction, their flushes issued at once).
BATCH = 256
#: Allocations between two passes of the cyclic garbage collector while an import runs.
_COLLECT_EVERY = 20_000


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    """The cyclic garbage collector runs rarely meanwhile: an import makes hundreds of thousands
    of objects (records, messages), none in a cycle, and a pass every 700 allocations (the
    default) cost it a tenth of its time."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], _COLLECT_EVERY), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _offset(source: BinaryIO) -> int:
    """How far ``source`` was read (0 when it cannot tell: a pipe)."""
    try:
        return source.tell()
    except (OSError, ValueError):
        return 0


class _Stopped(Exception):
    """The store failed (disk full, permissions): the import stops, the report says where."""


@dataclass(slots=True)
class _Pending:
    """One record of a batch: the session it holds (or None) and what to report about it."""

    label: str
    session: tuple[SessionMetadata, list[Message]] | None = None
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


class _Batch:
    """Records read into batches, created together; each record's outcome goes to ``result`` in order."""

    def __init__(
        self, repo: SessionRepository, names: set[str], result: ImportResult, *, new_ids: bool
    ) -> None:
        self.repo = repo
        self.names = names
        self.result = result
        self.new_ids = new_ids
        #: The batches handed to the repository, their outcomes to come (oldest first).
        self.waiting: collections.deque[list[_Pending]] = collections.deque()

    def run(self, records: Iterator[tuple[int, object]], after_batch: Callable[[], None]) -> None:
        """Create the sessions of ``records``, a batch at a time, and report each; a store
        failure stops the import (reported)."""
        created = self.repo.create_many(self._batches(records))
        with contextlib.closing(created):
            try:
                for outcomes in created:
                    self._finish(self.waiting.popleft(), outcomes)
                    after_batch()
            except StorageError as exc:
                self._stopped(self.waiting.popleft() if self.waiting else [], exc)
            except _Stopped:
                pass

    def _batches(self, records: Iterator[tuple[int, object]]) -> Iterator[list[NewSession]]:
        """The sessions of ``records``, :data:`BATCH` records at a time (each batch's records
        wait in ``waiting`` for its outcomes)."""
        items: list[_Pending] = []
        for position, record in records:
            items.append(self._prepare(position, record))
            if len(items) >= BATCH:
                self.waiting.append(items)
                yield [item.session for item in items if item.session is not None]
                items = []
        if items:
            self.waiting.append(items)
            yield [item.session for item in items if item.session is not None]

    def _prepare(self, position: int, record: object) -> _Pending:
        """One record, checked (its name reserved)."""
        item = _Pending(f"record {position}")
        if isinstance(record, SerializationError):
            item.skipped = record.detail
            return item
        try:
            meta, messages, bad_name = _record_to_session(record)
        except SerializationError as exc:
            item.skipped = exc.detail
            return item
        except Exception as exc:
            # Anything in one record (a date that overflows in UTC, a value nested too deeply, the
            # next parser bug) costs only that record.
            item.skipped = _failure(exc)
            return item
        if not is_session_id(meta.id):
            old = meta.id
            meta.id = new_session_id()
            item.notes.append(f"{item.label}: id {shorten(old, 40)!r} is not a UUID; imported as {meta.id}")
        if meta.name is not None and meta.name.lower() in self.names:
            item.notes.append(f"{meta.id[:8]}: name {meta.name!r} is taken; imported without a name")
            meta.name = None
        if bad_name is not None:
            item.notes.append(f"{meta.id[:8]}: {bad_name}; imported without a name")
        if meta.name:
            self.names.add(meta.name.lower())
        item.session = (meta, messages)
        return item

    def _finish(self, items: list[_Pending], found: list[SessionError | None]) -> None:
        """Report each record of a created batch, in order (with ``new_ids``, the sessions
        whose id was taken are created first as copies under new ids)."""
        todo = [item for item in items if item.session is not None]
        outcomes = {id(item): outcome for item, outcome in zip(todo, found, strict=True)}
        retry = [item for item in todo if isinstance(outcomes[id(item)], SessionAlreadyExists)]
        failed: StorageError | None = None
        if retry and self.new_ids:
            try:
                self._copies(retry, outcomes)
            except StorageError as exc:
                failed = exc
        unsaved = {id(item) for item in retry} if failed is not None else set()
        for item in items:
            if id(item) not in unsaved:
                self._report(item, outcomes.get(id(item)))
        if failed is not None:
            self._stopped(retry, failed)
            raise _Stopped from failed

    def _stopped(self, items: list[_Pending], exc: StorageError) -> None:
        """The store failed on ``items``: the import stops there (the report says where)."""
        todo = [item for item in items if item.session is not None]
        if todo:
            self.result.skipped.append((todo[0].label, exc.user_message().splitlines()[0]))
            self.result.notes.append(
                f"stopped: {todo[0].label} could not be saved; the rest were not imported"
            )

    def _copies(self, retry: list[_Pending], outcomes: dict[int, SessionError | None]) -> None:
        """With ``new_ids``: the sessions whose id was taken, created as copies under new ids."""
        sessions = [item.session for item in retry if item.session is not None]
        for item, (meta, _) in zip(retry, sessions, strict=True):
            old = meta.id
            meta.id = new_session_id()
            item.notes.append(f"{old[:8]} already exists: imported a copy as {meta.id}")
        (found,) = list(self.repo.create_many([sessions]))
        outcomes.update({id(item): outcome for item, outcome in zip(retry, found, strict=True)})

    def _report(self, item: _Pending, failure: SessionError | None) -> None:
        """Record in ``result`` what happened to one record."""
        if item.session is None:
            self.result.skipped.append((item.label, item.skipped or "it could not be read"))
            return
        meta = item.session[0]
        if failure is not None:
            if meta.name:
                self.names.discard(meta.name.lower())
            if isinstance(failure, SessionAlreadyExists):
                self.result.existing.append(meta.id)
            else:
                self.result.skipped.append((item.label, _failure(failure)))
            return
        self.result.notes.extend(item.notes)
        self.result.imported.append(meta)


def _record_to_session(record: object) -> tuple[SessionMetadata, list[Message], str | None]:
    """Turn one export document or corpus line into metadata, messages and why its name was
    dropped (None when it was not).

    What the record leaves out is derived from its messages (the rules of
    :meth:`SessionMetadata.from_messages`); an invalid name (one that reads as a session id
    included) is dropped, anything else invalid raises :class:`SerializationError`.
    """
    from pydantic import ValidationError

    from chatcli.session.models import SessionMetadata

    raw_meta, messages = _record_parts(record)
    sid = raw_meta.get("id")
    try:
        name, bad_name = _valid_name_or_none(raw_meta.get("name"))
        given = {key: raw_meta[key] for key in _OVERRIDABLE if raw_meta.get(key)}
        if name is not None:
            given["name"] = name
        meta = SessionMetadata.from_messages(  # validated once, all together
            str(sid) if isinstance(sid, str) and sid else new_session_id(),
            messages,
            when_empty=utc_now(),
            given=given,
        )
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise SerializationError(f"session field {loc or '?'}: {err['msg']}") from exc
    if messages and meta.last_active < messages[-1].timestamp:
        meta.last_active = messages[-1].timestamp
    return meta, messages, bad_name


def _record_parts(record: object) -> tuple[dict[str, Any], list[Message]]:
    """The raw metadata fields and the validated messages of one record."""
    from pydantic import ValidationError

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
        raw_meta = {k: record[k] for k in _CORPUS_FIELDS if k in record}
    raw_messages = record.get("messages")
    if not isinstance(raw_messages, list):
        raise SerializationError("'messages' is missing or not a list")
    _give_ids(raw_messages)
    try:
        messages = _messages_adapter().validate_python(raw_messages)
    except ValidationError as exc:
        raise SerializationError(f"a message is invalid: {exc.errors(include_url=False)[0]['msg']}") from exc
    return raw_meta, messages


@functools.cache
def _messages_adapter() -> TypeAdapter[list[Message]]:
    """Validates a record's messages in one call (built once, on first use)."""
    from pydantic import TypeAdapter

    from chatcli.session.models import Message

    return TypeAdapter(list[Message])


#: The bits of 16 random bytes a UUID4 keeps, and those it sets (its version 4, its RFC 4122 variant).
_ID_KEEP = bytes.fromhex("ffffffffffff0fff3fffffffffffffff")
_ID_SET = bytes.fromhex("00000000000040008000000000000000")


class _RandomBytes:
    """Bytes from the system's random source, read a block at a time (one read gives thousands
    of ids; each system call lets the index thread take the interpreter); a process forked
    meanwhile reads its own."""

    def __init__(self) -> None:
        self.block = b""
        self.used = 0
        self.pid = 0

    def take(self, count: int) -> bytes:
        """``count`` random bytes, never given out before."""
        if self.used + count > len(self.block) or self.pid != os.getpid():
            self.block, self.used, self.pid = os.urandom(max(count, 1 << 16)), 0, os.getpid()
        self.used += count
        return self.block[self.used - count : self.used]


_RANDOM = _RandomBytes()


def _give_ids(raw_messages: list[Any]) -> None:
    """Give each message object without an ``id`` a new random one (a UUID4 in hex, as
    :class:`Message` would make), from one read of the system's random source for the whole
    record rather than one per message."""
    missing = [m for m in raw_messages if isinstance(m, dict) and "id" not in m]
    if not missing:
        return
    count = len(missing)
    bits = int.from_bytes(_RANDOM.take(16 * count)) & int.from_bytes(_ID_KEEP * count)
    text = f"{bits | int.from_bytes(_ID_SET * count):0{32 * count}x}"
    for number, message in enumerate(missing):
        message["id"] = text[32 * number : 32 * number + 32]


def _failure(exc: BaseException) -> str:
    """Why a record could not be imported, in one line."""
    if isinstance(exc, SessionError):
        return exc.user_message().splitlines()[0]
    if isinstance(exc, RecursionError | MemoryError):
        return "it is nested too deeply to read"
    if not isinstance(exc, ArithmeticError | ValueError | TypeError):
        from chatcli.logs import log_exception

        log_exception(exc, "importing one record")
    return f"it holds a value chatcli cannot store ({type(exc).__name__}: {shorten(str(exc), 80)})"


def _valid_name_or_none(name: object) -> tuple[str | None, str | None]:
    """``(name, None)`` if ``name`` is a valid session name; an absent name is ``(None, None)``
    and an invalid one ``(None, why)``: it imports as no name, with a note saying why."""
    if name is None:
        return None, None
    try:
        return validate_session_name(str(name)), None
    except InvalidName as exc:
        return None, f"the name is not valid ({exc.detail})"
