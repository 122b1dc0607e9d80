"""``--json`` output: every command result and error as a stable JSON document.

JSON output is data for programs, so strings are emitted exactly as stored (not sanitised).
Control characters can still never reach a terminal raw: :func:`dump_json` (through
:func:`chatcli.jsontext.dumps`, which ``sessions export --format json`` uses too) writes C0 controls
(ESC as ``\\u001b``), DEL, C1 controls, U+2028/U+2029, bidi controls and lone surrogates as
``\\uXXXX`` escapes, which every JSON parser reads back as the same characters.

Timestamps are ISO 8601 in UTC with a ``Z`` suffix (``2025-01-04T12:30:00.123456Z``). Field names
below are a public interface: new fields may be added, existing ones never change meaning.

Objects
-------

``session`` (a session's metadata)
    ``id``, ``name`` (null when unnamed), ``status`` (``"active"``/``"archived"``), ``created``,
    ``last_active``, ``first_message``, ``message_count``, ``file_count``, ``custom_fields``
    (an object; a fork has ``forked_from``).

``message``
    ``role`` (``"user"``/``"assistant"``/``"system"``), ``content``, ``timestamp``, ``id``,
    ``interrupted`` (true for a reply cut short).

``problem`` (a session that could not be read)
    ``kind`` (an error kind, see below), ``message`` (what to do about it), ``session_id``
    (null when unknown).

Results by command
------------------

``sessions list``
    ``{"sessions": [session…], "problems": [problem…], "status": "active"|"archived"|"all",
    "search": str|null, "total": int}`` (``total``: every matching session; more than the
    sessions listed when the limit, 50 unless ``--limit N``/``--no-limit``, cut the list)
``sessions show``
    ``{"session": session, "messages": [message…] (the last few), "total_messages": int,
    "warnings": [str…]}``
``sessions search``
    ``{"query": str, "hits": [{"session_id", "session_name", "role", "timestamp", "snippet",
    "message_index"}…], "truncated": bool, "sessions_searched": int, "warnings": [str…]}``
    (``warnings``: one per session that could not be searched, naming it and saying why; the
    other sessions are searched all the same)
``sessions delete``
    ``{"deleted": session}``
``sessions rename`` / ``archive`` / ``unarchive`` / ``fork``
    ``{"action": "renamed"|"archived"|"unarchived"|"forked"|…, "session": session,
    "source_id": str|null}`` (``source_id``: the session a fork was copied from)
``sessions import``
    ``{"imported": [session…], "skipped": [{"source", "reason"}…], "notes": [str…]}``
``sessions import --from TOOL``
    ``{"tool": str, "dry_run": bool, "sessions": [{"action": "imported"|"appended"|"unchanged",
    "source_id", "title", "messages": int, "session_id"}…], "messages_imported": int, "failed":
    [{"source" (file:line), "reason"}…], "notes": [str…]}``
``sessions prune``
    ``{"dry_run": bool, "cutoff": timestamp, "sessions": [session…] (deleted, or that would be),
    "failures": [{"session_id", "reason"}…], "not_reached": int}`` (``not_reached``: sessions
    left alone because the prune was cancelled before it got to them)
``sessions export``
    ``{"session_id": str, "format": "markdown"|"json", "path": str|null, "text": str|null}``
``sessions doctor``
    ``{"root": str, "repaired": bool, "healthy": bool, "sessions_checked": int, "findings":
    [{"target", "severity", "problems": [str…], "actions": [str…], "unrepairable": [str…]}…]}``
``help``
    ``{"title", "intro", "detailed": bool, "commands": [{"name", "usage", "summary", "aliases",
    "arguments": [{"name", "help"}…], "options": [{"flags", "help"}…], "details"}…]}``
a refused confirmation
    ``{"cancelled": true, "message": str}``

Errors
------

``{"error": {"kind": str, "message": str}}``: ``kind`` is the error's stable machine name
(``not_found``, ``ambiguous_id``, ``already_exists``, ``invalid_name``, ``invalid_metadata``,
``unsupported_version``, ``corrupted``, ``concurrent_modification``, ``storage``,
``permission_denied``, ``unsafe_path``, ``serialization``, ``refused``, ``usage``,
``unknown_command``, or ``internal`` for an unexpected failure); ``message`` is the text a user
would see.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from chatcli import jsontext
from chatcli.commands.results import (
    Cancelled,
    CommandHelp,
    ExportResult,
    HelpResult,
    ImportReport,
    SessionChanged,
)
from chatcli.errors import ChatcliError
from chatcli.importers.run import ToolImport
from chatcli.render.timefmt import iso_utc
from chatcli.session.errors import SessionError
from chatcli.session.fields import SessionView
from chatcli.session.health import DoctorReport
from chatcli.session.outcomes import (
    DeleteResult,
    ListResult,
    PruneResult,
    SearchHit,
    SearchResult,
    SessionDetail,
)
from chatcli.session.transfer import ALREADY_EXISTS, ImportResult

if TYPE_CHECKING:
    from chatcli.session.models import Message

__all__ = [
    "dump_json",
    "dumps_json",
    "error_to_json",
    "message_to_json",
    "session_to_json",
    "to_json",
]

JSONValue = Any


def session_to_json(meta: SessionView) -> dict[str, JSONValue]:
    """A session's metadata as a ``session`` object."""
    return {
        "id": meta.id,
        "name": meta.name,
        "status": meta.status.value,
        "created": iso_utc(meta.created),
        "last_active": iso_utc(meta.last_active),
        "first_message": meta.first_message,
        "message_count": meta.message_count,
        "file_count": meta.file_count,
        "custom_fields": dict(meta.custom_fields),
    }


def message_to_json(message: Message) -> dict[str, JSONValue]:
    """One transcript message as a ``message`` object."""
    return {
        "role": message.role,
        "content": message.content,
        "timestamp": iso_utc(message.timestamp),
        "id": message.id,
        "interrupted": message.interrupted,
    }


def _problem(exc: SessionError) -> dict[str, JSONValue]:
    session_id = getattr(exc, "session_id", None)
    return {
        "kind": exc.kind,
        "message": exc.user_message(),
        "session_id": session_id if isinstance(session_id, str) else None,
    }


def _hit(hit: SearchHit) -> dict[str, JSONValue]:
    return {
        "session_id": hit.session_id,
        "session_name": hit.session_name,
        "role": hit.role,
        "timestamp": iso_utc(hit.timestamp),
        "snippet": hit.snippet,
        "message_index": hit.message_index,
    }


def _command_help(entry: CommandHelp) -> dict[str, JSONValue]:
    return {
        "name": entry.name,
        "usage": entry.usage,
        "summary": entry.summary,
        "aliases": list(entry.aliases),
        "arguments": [{"name": name, "help": text} for name, text in entry.arguments],
        "options": [{"flags": flags, "help": text} for flags, text in entry.options],
        "details": entry.details,
    }


def _list(result: ListResult) -> dict[str, JSONValue]:
    return {
        "sessions": [session_to_json(m) for m in result.sessions],
        "problems": [_problem(p) for p in result.problems],
        "status": result.status,
        "search": result.search,
        "total": len(result.sessions) if result.total is None else result.total,
    }


def _detail(result: SessionDetail) -> dict[str, JSONValue]:
    return {
        "session": session_to_json(result.metadata),
        "messages": [message_to_json(m) for m in result.recent],
        "total_messages": result.total_messages,
        "warnings": list(result.warnings),
    }


def _search(result: SearchResult) -> dict[str, JSONValue]:
    return {
        "query": result.query,
        "hits": [_hit(h) for h in result.hits],
        "truncated": result.truncated,
        "sessions_searched": result.sessions_searched,
        "warnings": list(result.warnings),
    }


def _import(result: ImportResult) -> dict[str, JSONValue]:
    return {
        "imported": [session_to_json(m) for m in result.imported],
        "skipped": [{"source": source, "reason": reason} for source, reason in result.skipped]
        + [{"source": session_id, "reason": ALREADY_EXISTS} for session_id in result.existing],
        "notes": list(result.notes),
    }


def _tool_import(result: ToolImport) -> dict[str, JSONValue]:
    return {
        "tool": result.tool,
        "dry_run": result.dry_run,
        "sessions": [
            {
                "action": e.action,
                "source_id": e.source_id,
                "title": e.title,
                "messages": e.messages,
                "session_id": e.session_id,
            }
            for e in result.entries
        ],
        "messages_imported": result.messages_imported,
        "failed": [{"source": p.where, "reason": p.reason} for p in result.problems],
        "notes": list(result.notes),
    }


def _prune(result: PruneResult) -> dict[str, JSONValue]:
    return {
        "dry_run": result.dry_run,
        "cutoff": iso_utc(result.cutoff),
        "sessions": [session_to_json(m) for m in result.sessions],
        "failures": [{"session_id": sid, "reason": reason} for sid, reason in result.failures],
        "not_reached": result.not_reached,
    }


def _changed(result: SessionChanged) -> dict[str, JSONValue]:
    return {"action": result.verb, "session": session_to_json(result.metadata), "source_id": result.source_id}


def _export(result: ExportResult) -> dict[str, JSONValue]:
    return {
        "session_id": result.session_id,
        "format": result.fmt,
        "path": str(result.path) if result.path is not None else None,
        "text": result.text,
    }


def _help(result: HelpResult) -> dict[str, JSONValue]:
    return {
        "title": result.title,
        "intro": result.intro,
        "detailed": result.detailed,
        "commands": [_command_help(c) for c in result.commands],
    }


def _doctor(result: DoctorReport) -> dict[str, JSONValue]:
    return {
        "root": str(result.root),
        "repaired": result.repaired,
        "healthy": result.healthy,
        "sessions_checked": result.sessions_checked,
        "findings": [
            {
                "target": f.target,
                "severity": f.severity,
                "problems": list(f.problems),
                "actions": list(f.actions),
                "unrepairable": list(f.unrepairable),
            }
            for f in result.findings
        ],
    }


_CONVERTERS: dict[type, Callable[[Any], JSONValue]] = {
    DoctorReport: _doctor,
    ListResult: _list,
    SessionDetail: _detail,
    SearchResult: _search,
    DeleteResult: lambda r: {"deleted": session_to_json(r.metadata)},
    ImportResult: _import,
    ImportReport: lambda r: _import(r.result),
    ToolImport: _tool_import,
    PruneResult: _prune,
    SessionChanged: _changed,
    ExportResult: _export,
    HelpResult: _help,
    Cancelled: lambda r: {"cancelled": True, "message": r.message},
}


def to_json(result: object) -> JSONValue:
    """The JSON document (dicts, lists, strings, numbers) for a command result.

    Raises ``TypeError`` for a type without a documented JSON form.
    """
    for cls in type(result).__mro__:
        converter = _CONVERTERS.get(cls)
        if converter is not None:
            return converter(result)
    raise TypeError(f"no JSON form for {type(result).__name__}")


def error_to_json(exc: BaseException) -> dict[str, JSONValue]:
    """``{"error": {"kind": ..., "message": ...}}`` for any exception.

    A :class:`~chatcli.errors.ChatcliError` keeps its ``kind``; anything else is ``internal``
    with its type and text.
    """
    if isinstance(exc, ChatcliError):
        return {"error": {"kind": exc.kind, "message": exc.user_message()}}
    detail = str(exc)
    text = f"Unexpected error: {type(exc).__name__}" + (f": {detail}" if detail else "")
    return {"error": {"kind": "internal", "message": text}}


def _default(value: object) -> JSONValue:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps_json(obj: JSONValue, *, indent: int | None = 2) -> str:
    """``obj`` as JSON text (UTF-8 friendly, control and invisible characters escaped)."""
    return jsontext.dumps(obj, indent=indent, default=_default)


def dump_json(obj: JSONValue, stream: IO[str], *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON plus a newline to ``stream`` and flush it."""
    stream.write(dumps_json(obj, indent=indent) + "\n")
    stream.flush()
