"""Writing another tool's conversations into the store: ``sessions import --from TOOL``.

:data:`SOURCES` maps each tool to its reader. :func:`import_from` finds the tool's files (or
reads the paths given), turns every :class:`~chatcli.importers.base.ImportedSession` into a
chatcli session and reports what it did. Each session records where it came from in
``custom_fields.imported_from`` (``tool``, ``source_id``, ``path``, ``project``, and how many
source messages it holds), so running the import again skips what is already there and appends
only new messages. Consecutive messages of one role are merged (a reply and its tool notes
become one assistant message), so a session alternates like one chatcli wrote. Nothing is
written with ``dry_run``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.importers import amazon_q, claude_code, codex, gemini, goose, llm, opencode
from chatcli.importers.base import ImportedMessage, ImportedSession, Source, SourceProblem
from chatcli.importers.outcome import TOOLS, ImportedEntry, ToolImport
from chatcli.session.errors import InvalidName, StorageError
from chatcli.session.fields import utc_now, validate_session_name

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.repository import SessionRepository

__all__ = ["MAX_MESSAGE_CHARS", "SOURCES", "TOOLS", "ImportedEntry", "ToolImport", "import_from"]

#: The readers available, by tool.
SOURCES: dict[str, Source] = {
    s.tool: s
    for s in (
        amazon_q.SOURCE,
        claude_code.SOURCE,
        codex.SOURCE,
        gemini.SOURCE,
        goose.SOURCE,
        opencode.SOURCE,
        llm.SOURCE,
    )
}
#: The longest message imported; longer text is cut with a note saying how much was left out.
MAX_MESSAGE_CHARS = 1_000_000
#: What joins merged messages of one role.
_JOINER = "\n\n"
PROVENANCE = "imported_from"


def import_from(
    repo: SessionRepository,
    tool: str,
    paths: Sequence[Path],
    *,
    cwd: Path,
    all_projects: bool = False,
    env: dict[str, str] | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ToolImport:
    """Import ``tool``'s conversations from ``paths`` (default: where the tool keeps this
    project's, or every project's with ``all_projects``). Never raises for bad input: each
    unreadable file, record or session is a problem in the result."""
    source = SOURCES[tool]
    result = ToolImport(tool, dry_run)
    environ = dict(os.environ if env is None else env)
    targets = list(paths) or source.locate(cwd, all_projects, environ)
    result.searched = [str(t) for t in targets]
    only_here = not paths and not all_projects
    # A dry run takes no lock: the lock file would be a write (and would create the store).
    with contextlib.nullcontext() if dry_run else repo.names_lock():
        known = _imported_sessions(repo, tool)
        names = {b.name.lower() for b in repo.list_briefs() if b.name}
        for index, target in enumerate(targets):
            if on_progress is not None:
                on_progress(index, len(targets))
            if should_stop is not None and should_stop():
                result.notes.append(f"cancelled: {len(targets) - index} location(s) were not read")
                break
            for session in _sessions(source, target, result.problems):
                if should_stop is not None and should_stop():  # a tool's folder holds thousands
                    result.notes.append("cancelled: the rest was not imported")
                    return result
                if only_here and session.project and not _same_dir(session.project, cwd):
                    continue
                try:
                    _write(repo, tool, session, known=known, names=names, result=result)
                except StorageError as exc:
                    result.problems.append(SourceProblem(session.path, exc.user_message().splitlines()[0]))
                    result.notes.append("stopped: the store could not be written; the rest was not imported")
                    return result
    if on_progress is not None:
        on_progress(len(targets), len(targets))
    return result


def _sessions(source: Source, target: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """The reader's sessions; anything it raises costs the rest of that location, with a problem."""
    try:
        yield from source.read(target, problems)
    except (RecursionError, MemoryError):
        problems.append(SourceProblem(str(target), "it is nested too deeply to read"))
    except Exception as exc:  # a reader's bug or an unforeseen input: one problem, never a traceback
        from chatcli.logs import log_exception

        log_exception(exc, f"importing from {target}")
        problems.append(SourceProblem(str(target), f"it could not be read ({type(exc).__name__}: {exc})"))


def _same_dir(project: str, cwd: Path) -> bool:
    try:
        return Path(project).resolve() == cwd.resolve()
    except (OSError, ValueError, RuntimeError):
        return project == str(cwd)


def _imported_sessions(repo: SessionRepository, tool: str) -> dict[str, SessionMetadata]:
    """The sessions imported from ``tool`` before, by the source's id."""
    found: dict[str, SessionMetadata] = {}
    for meta in repo.list():
        origin = meta.custom_fields.get(PROVENANCE)
        if (
            isinstance(origin, dict)
            and origin.get("tool") == tool
            and isinstance(origin.get("source_id"), str)
        ):
            found[origin["source_id"]] = meta
    return found


def _write(
    repo: SessionRepository,
    tool: str,
    session: ImportedSession,
    *,
    known: dict[str, SessionMetadata],
    names: set[str],
    result: ToolImport,
) -> None:
    title = session.title or next((m.content for m in session.messages if m.role == "user"), "")
    label = " ".join(title.split())[:80]
    existing = known.get(session.source_id)
    if existing is not None:
        _append_new(repo, session, existing, label, result)
        return
    messages = to_messages(session.messages, session.created)
    if not messages:
        result.notes.append(f"{session.path}: {session.source_id} has no message to import")
        return
    meta = _new_metadata(tool, session, messages, names)
    if not result.dry_run:
        repo.create(meta, messages)
    if meta.name:
        names.add(meta.name.lower())
    known[session.source_id] = meta
    result.entries.append(ImportedEntry("imported", session.source_id, label, len(messages), meta.id))


def _new_metadata(
    tool: str, session: ImportedSession, messages: list[Message], names: set[str]
) -> SessionMetadata:
    from chatcli.session.models import SessionMetadata, new_session_id

    meta = SessionMetadata.from_messages(new_session_id(), messages, when_empty=utc_now())
    origin: dict[str, object] = {"tool": tool, "source_id": session.source_id, "path": session.path}
    if session.project:
        origin["project"] = session.project
    origin["messages"] = len(session.messages)
    origin["written"] = len(messages)
    fields: dict[str, object] = {PROVENANCE: origin}
    if session.title:
        name = _free_name(session.title, names)
        if name is not None:
            meta.name = name
        else:
            fields["title"] = session.title[:1000]
    meta.custom_fields = fields
    return meta


def _free_name(title: str, names: set[str]) -> str | None:
    try:
        name = validate_session_name(title.strip())
    except InvalidName:
        return None
    return None if name.lower() in names else name


def _append_new(
    repo: SessionRepository, session: ImportedSession, meta: SessionMetadata, label: str, result: ToolImport
) -> None:
    origin = dict(meta.custom_fields[PROVENANCE])
    done = origin.get("messages")
    done = done if isinstance(done, int) and done >= 0 else len(session.messages)
    if len(session.messages) <= done:
        result.entries.append(ImportedEntry("unchanged", session.source_id, label, 0, meta.id))
        return
    if origin.get("written") != meta.message_count:
        result.notes.append(
            f"{meta.id[:8]}: continued in chatcli since it was imported; its new messages in the source "
            "were not appended"
        )
        result.entries.append(ImportedEntry("unchanged", session.source_id, label, 0, meta.id))
        return
    new = to_messages(session.messages[done:], meta.last_active)
    if not result.dry_run:
        for message in new:
            repo.append_message(meta.id, message)
        origin.update(messages=len(session.messages), written=meta.message_count + len(new))

        def record(m: SessionMetadata) -> None:
            m.custom_fields = {**m.custom_fields, PROVENANCE: origin}

        repo.update(meta.id, record)
    result.entries.append(ImportedEntry("appended", session.source_id, label, len(new), meta.id))


def to_messages(items: Sequence[ImportedMessage], start: datetime | None) -> list[Message]:
    """chatcli messages from imported ones: empty ones dropped, each cut to
    :data:`MAX_MESSAGE_CHARS`, times never going backwards (a missing time is the one before),
    and consecutive messages of one role merged into one."""
    from chatcli.session.models import Message

    merged: list[tuple[str, list[str], datetime]] = []
    when = start or utc_now()
    for item in items:
        text = item.content.strip()
        if not text:
            continue
        when = max(when, item.timestamp) if item.timestamp is not None else when
        if merged and merged[-1][0] == item.role:
            merged[-1][1].append(text)
        else:
            merged.append((item.role, [text], when))
    return [
        Message(role=role, content=_bounded(_JOINER.join(parts)), timestamp=at) for role, parts, at in merged
    ]


def _bounded(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[:MAX_MESSAGE_CHARS] + f"\n[… {len(text) - MAX_MESSAGE_CHARS} more characters not imported]"
