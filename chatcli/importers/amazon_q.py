"""Amazon Q Developer CLI: ``/save`` files and the ``conversations`` table of ``data.sqlite3``.

Both hold a serialised ``ConversationState`` (``conversation_id``, ``history``). ``history`` is a
list of exchanges, either ``[user, assistant]`` pairs (older releases) or ``{"user", "assistant",
"request_metadata"}`` entries. A user message's ``content`` is ``{"Prompt": {"prompt": …}}`` (or
``{"Prompt": "…"}``, or a plain string), ``{"ToolUseResults": {"tool_use_results": […]}}`` or
``{"CancelledToolUses": {…}}``; an assistant message is ``{"Response": {"content"}}`` or
``{"ToolUse": {"content", "tool_uses": [{"name", "args"}]}}``. ``additional_context`` and
``env_context`` are what the tool injected, never the user's words. The database is
``<data dir>/amazon-q/data.sqlite3`` with one row per directory in ``conversations`` (``key`` is
the directory), and in later releases several per directory in ``conversations_v2``; it is opened
read-only and never modified.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from chatcli.importers.base import ImportedMessage, ImportedSession, Source, SourceProblem
from chatcli.importers.common import (
    MAX_RECORD_BYTES,
    assistant,
    parse_time,
    problem,
    read_json_document,
    strip_injected,
    summarize,
    text_of,
    tool_note,
    user,
)

__all__ = ["SOURCE"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: The tables conversations are kept in: one per directory (``conversations``), or several per
#: directory keyed by ``(key, conversation_id)`` in later releases (``conversations_v2``).
_TABLES = ("conversations", "conversations_v2")


def database(env: dict[str, str]) -> Path:
    """Where Amazon Q keeps ``data.sqlite3`` on this platform."""
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "amazon-q" / "data.sqlite3"
    data = env.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    return Path(data) / "amazon-q" / "data.sqlite3"


def locate(cwd: Path, all_projects: bool, env: dict[str, str]) -> list[Path]:
    """The database, when it exists (the writer keeps only this directory's row unless
    ``all_projects``)."""
    db = database(env)
    return [db] if db.is_file() else []


def read(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """The conversations of a ``data.sqlite3`` (every row) or of one ``/save`` JSON file."""
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if (path / "data.sqlite3").is_file():
            files.append(path / "data.sqlite3")
    else:
        files = [path]
    for file in files:
        if _is_sqlite(file):
            yield from _read_database(file, problems)
            continue
        document = read_json_document(file, problems)
        if document is not None:
            session = _session(document, str(file), None, file, problems)
            if session is not None:
                yield session


def _is_sqlite(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode) and os.pread(fd, 16, 0) == _SQLITE_MAGIC
    except OSError:
        return False
    finally:
        os.close(fd)


def _read_database(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    # mode=ro: SQLite never writes to the file (no journal, no schema change), even on error.
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        problems.append(problem(path, None, f"it cannot be opened as a database ({exc})"))
        return
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        found = [t for t in _TABLES if t in tables]
        if not found:
            problems.append(problem(path, None, "it has no Amazon Q 'conversations' table"))
        for table in found:
            yield from _read_table(connection, table, path, problems)
    except sqlite3.Error as exc:
        problems.append(problem(path, None, f"its conversations cannot be read ({exc})"))
    finally:
        connection.close()


def _read_table(
    connection: sqlite3.Connection, table: str, path: Path, problems: list[SourceProblem]
) -> Iterator[ImportedSession]:
    """Every row of ``table`` (``key`` is the directory); a row past the size limit is a problem."""
    rows = connection.execute(
        # ``table`` is one of _TABLES, never text from the file.
        f"SELECT key, CASE WHEN length(value) > ? THEN NULL ELSE value END FROM {table}",
        (MAX_RECORD_BYTES,),
    )
    for key, value in rows:
        where = f"{path} (directory {key})"
        if value is None:
            problems.append(SourceProblem(where, "the conversation is larger than the limit per record"))
            continue
        document = _decode(value, where, problems)
        if document is not None:
            session = _session(document, where, str(key), path, problems)
            if session is not None:
                yield session


def _decode(value: object, where: str, problems: list[SourceProblem]) -> object | None:
    try:
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        document: object = json.loads(text)
        return document
    except UnicodeDecodeError as exc:
        problems.append(SourceProblem(where, f"not UTF-8 text (at byte {exc.start})"))
    except (RecursionError, MemoryError):
        problems.append(SourceProblem(where, "it is nested too deeply to read"))
    except ValueError as exc:
        problems.append(SourceProblem(where, f"not valid JSON ({exc})"))
    return None


def _session(
    document: object, where: str, project: str | None, path: Path, problems: list[SourceProblem]
) -> ImportedSession | None:
    history = document.get("history") if isinstance(document, dict) else None
    if not isinstance(document, dict) or not isinstance(history, list):
        problems.append(SourceProblem(where, "not an Amazon Q conversation (no 'history' list)"))
        return None
    names: dict[str, str] = {}
    messages: list[ImportedMessage] = []
    for number, entry in enumerate(history, start=1):
        if isinstance(entry, list) and len(entry) == 2:
            user_part, assistant_part, metadata = entry[0], entry[1], None
        elif isinstance(entry, dict) and "user" in entry:
            user_part, assistant_part, metadata = (
                entry.get("user"),
                entry.get("assistant"),
                entry.get("request_metadata"),
            )
        else:
            problems.append(
                SourceProblem(f"{where}: history entry {number}", "not a user/assistant exchange")
            )
            continue
        when = parse_time(user_part.get("timestamp")) if isinstance(user_part, dict) else None
        messages.extend(_user(user_part, when, names))
        messages.extend(_assistant(assistant_part, _answered_at(metadata) or when, names))
    if not messages:
        return None
    source_id = document.get("conversation_id")
    return ImportedSession(
        source_id=str(source_id) if isinstance(source_id, str | int) else where,
        path=str(path),
        messages=tuple(messages),
        title=None,
        created=messages[0].timestamp,
        project=project,
    )


def _answered_at(metadata: object) -> datetime | None:
    if not isinstance(metadata, dict):
        return None
    return parse_time(metadata.get("stream_end_timestamp_ms")) or parse_time(
        metadata.get("request_start_timestamp_ms")
    )


def _user(part: object, when: datetime | None, names: dict[str, str]) -> list[ImportedMessage]:
    content = part.get("content") if isinstance(part, dict) else part
    if isinstance(content, str):
        content = {"Prompt": content}
    if not isinstance(content, dict):
        return []
    out: list[ImportedMessage] = []
    for kind, body in content.items():
        prompt = body.get("prompt") if isinstance(body, dict) else body if kind == "Prompt" else None
        if kind in ("Prompt", "CancelledToolUses") and isinstance(prompt, str):
            text = strip_injected(prompt)
            out.extend([user(text, when)] if text else [])
        results = body.get("tool_use_results") if isinstance(body, dict) else None
        for result in results if isinstance(results, list) else []:
            if isinstance(result, dict):
                name = names.get(str(result.get("tool_use_id")), "tool")
                out.append(assistant(tool_note(name, _result_text(result.get("content")), result=True), when))
    return out


def _result_text(blocks: object) -> str:
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict):
            if isinstance(block.get("Text"), str):
                return summarize(block["Text"])
            if "Json" in block:
                return summarize(block["Json"])
    return ""


def _assistant(part: object, when: datetime | None, names: dict[str, str]) -> list[ImportedMessage]:
    if not isinstance(part, dict):
        return []
    out: list[ImportedMessage] = []
    for body in part.values():
        if not isinstance(body, dict):
            continue
        text = text_of(body.get("content")).strip()
        if text:
            out.append(assistant(text, when))
        uses = body.get("tool_uses")
        for use in uses if isinstance(uses, list) else []:
            if isinstance(use, dict):
                name = str(use.get("orig_name") or use.get("name") or "tool")
                names[str(use.get("id"))] = name
                out.append(assistant(tool_note(name, summarize(use.get("args"))), when))
    return out


SOURCE = Source(
    tool="amazon-q",
    locate=locate,
    read=read,
    notes=(
        "additional context and environment details Amazon Q added to prompts are left out",
        "Amazon Q conversations have no title; the database keeps one conversation per directory",
    ),
)
