"""``--json`` output: every command result and error as a stable JSON document.

The fields of every document are documented in ``docs/json-output.md`` (a public interface: new
fields may be added, existing ones never change meaning). Strings are emitted exactly as stored;
:func:`dump_json` (through :func:`chatcli.jsontext.dumps`) escapes every control character, so
none reaches a terminal raw. Timestamps are ISO 8601 in UTC with a ``Z`` suffix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    PromptReply,
    SessionChanged,
    TagsChanged,
)
from chatcli.errors import ChatcliError
from chatcli.importers.outcome import ToolImport
from chatcli.render.timefmt import iso_utc
from chatcli.session.all_projects import Project, ProjectsListResult, ProjectsSearchResult
from chatcli.session.errors import SessionError
from chatcli.session.fields import SessionView, TokenTotals
from chatcli.session.health import DoctorReport
from chatcli.session.outcomes import (
    DeleteResult,
    EmptyTrashResult,
    ListResult,
    PruneResult,
    RestoreResult,
    SearchHit,
    SearchResult,
    SessionDetail,
    SessionMatches,
    TrashResult,
)
from chatcli.session.transfer import ALREADY_EXISTS, ImportResult

if TYPE_CHECKING:
    from chatcli.session.models import Message
    from chatcli.session.trashed import TrashedSession

__all__ = [
    "dump_json",
    "dumps_json",
    "error_to_json",
    "message_to_json",
    "session_to_json",
    "to_json",
    "usage_to_json",
]

JSONValue = Any


def _counts(totals: TokenTotals) -> dict[str, JSONValue]:
    return {
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "total_tokens": totals.total_tokens,
        "replies": totals.replies,
    }


def usage_to_json(usage: Mapping[str, TokenTotals]) -> dict[str, JSONValue]:
    """A session's reported tokens as a ``usage`` object (totals, then ``by_model``)."""
    return {
        **_counts(TokenTotals.of_all(usage)),
        "by_model": {model: _counts(totals) for model, totals in usage.items()},
    }


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
        "usage": usage_to_json(meta.usage),
        "pinned": meta.pinned,
        "tags": list(meta.tags),
    }


def message_to_json(message: Message) -> dict[str, JSONValue]:
    """One transcript message as a ``message`` object."""
    return {
        "role": message.role,
        "content": message.content,
        "timestamp": iso_utc(message.timestamp),
        "id": message.id,
        "interrupted": message.interrupted,
        "model": message.model,
        "usage": message.usage.model_dump() if message.usage is not None else None,
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
        "system_prompt": result.metadata.system_prompt,
        "messages": [message_to_json(m) for m in result.recent],
        "total_messages": result.total_messages,
        "warnings": list(result.warnings),
        "trashed": _trashed(result.trashed) if result.trashed is not None else None,
    }


def _found(found: SessionMatches, every_hit: bool) -> dict[str, JSONValue]:
    return {
        "session_id": found.session_id,
        "session_name": found.session_name,
        "last_active": iso_utc(found.last_active),
        "hit_count": found.hit_count,
        "best": _hit(found.best),
        "hits": [_hit(h) for h in (found.hits if every_hit else [found.best])],
    }


def _search(result: SearchResult) -> dict[str, JSONValue]:
    return {
        "query": result.query,
        "sort": result.sort,
        "sessions": [_found(found, result.every_hit) for found in result.sessions],
        "hits": [_hit(h) for h in result.hits],
        "total_hits": result.total_hits,
        "sessions_matched": result.sessions_matched,
        "sessions_searched": result.sessions_searched,
        "counted": result.counted,
        "truncated": result.truncated,
        "warnings": list(result.warnings),
        "notice": result.notice,
    }


def _where(project: Project) -> dict[str, JSONValue]:
    return {"project": str(project.folder), "sessions_dir": str(project.sessions_dir)}


def _projects_list(result: ProjectsListResult) -> dict[str, JSONValue]:
    return {
        "sessions": [{**session_to_json(r.session), **_where(r.project)} for r in result.sessions],
        "problems": [{"kind": "project", "message": note, "session_id": None} for note in result.notes],
        "status": result.status,
        "search": result.search,
        "total": result.total,
        "projects": [_where(p) for p in result.projects],
    }


def _projects_search(result: ProjectsSearchResult) -> dict[str, JSONValue]:
    return {
        "query": result.query,
        "sort": result.sort,
        "sessions": [{**_found(f.matches, result.every_hit), **_where(f.project)} for f in result.sessions],
        "total_hits": result.total_hits,
        "sessions_matched": result.sessions_matched,
        "sessions_searched": result.sessions_searched,
        "counted": result.counted,
        "truncated": result.truncated,
        "warnings": list(result.notes),
        "projects": [_where(p) for p in result.projects],
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
        "pinned_kept": result.pinned_kept,
    }


def _trashed(entry: TrashedSession) -> dict[str, JSONValue]:
    return {
        "trash_id": entry.trash_id,
        "session": session_to_json(entry.metadata),
        "deleted_at": iso_utc(entry.deleted_at),
        "reason": entry.reason,
        "name": entry.name,
    }


def _trash(result: TrashResult) -> dict[str, JSONValue]:
    return {
        "sessions": [_trashed(t) for t in result.sessions],
        "problems": [_problem(p) for p in result.problems],
        "expired": _empty(result.expired) if result.expired is not None else None,
    }


def _empty(result: EmptyTrashResult) -> dict[str, JSONValue]:
    return {
        "dry_run": result.dry_run,
        "sessions": [_trashed(t) for t in result.sessions],
        "failures": [{"session_id": sid, "reason": reason} for sid, reason in result.failures],
        "not_reached": result.not_reached,
        "retention": result.retention,
    }


def _changed(result: SessionChanged) -> dict[str, JSONValue]:
    return {"action": result.verb, "session": session_to_json(result.metadata), "source_id": result.source_id}


def _tags(result: TagsChanged) -> dict[str, JSONValue]:
    return {
        "action": result.verb,
        "session": session_to_json(result.metadata),
        "tags": list(result.given),
        "unchanged": result.unchanged,
    }


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
    ProjectsListResult: _projects_list,
    ProjectsSearchResult: _projects_search,
    SessionDetail: _detail,
    SearchResult: _search,
    DeleteResult: lambda r: {"deleted": session_to_json(r.metadata), "trash_id": r.trash_id},
    TrashResult: _trash,
    RestoreResult: lambda r: {
        "restored": session_to_json(r.metadata),
        "dropped_name": r.dropped_name,
        "name_taken_by": r.name_taken_by,
    },
    EmptyTrashResult: _empty,
    ImportResult: _import,
    ImportReport: lambda r: _import(r.result),
    ToolImport: _tool_import,
    PruneResult: _prune,
    SessionChanged: _changed,
    TagsChanged: _tags,
    ExportResult: _export,
    HelpResult: _help,
    Cancelled: lambda r: {"cancelled": True, "message": r.message},
    PromptReply: lambda r: {
        "session_id": r.session_id,
        "reply": r.reply,
        "usage": None
        if r.usage is None
        else dict(zip(("prompt_tokens", "completion_tokens", "total_tokens"), r.usage, strict=True)),
    },
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

    A :class:`~chatcli.errors.ChatcliError` keeps its ``kind``, Ctrl-C is ``interrupted``;
    anything else is ``internal`` with its type and text.
    """
    if isinstance(exc, ChatcliError):
        return {"error": {"kind": exc.kind, "message": exc.user_message()}}
    if isinstance(exc, KeyboardInterrupt):
        return {"error": {"kind": "interrupted", "message": "Interrupted (Ctrl-C)."}}
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
