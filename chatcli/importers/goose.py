"""goose: the sessions in its ``sessions.db``, and the JSONL session files of older versions.

Where (block/goose ``crates/goose/src/config/paths.rs``): ``$GOOSE_PATH_ROOT/data`` when that is
an absolute path, else ``%APPDATA%\\Block\\goose\\data`` on Windows, else ``$XDG_DATA_HOME/goose``
(``~/.local/share/goose``) on Linux and macOS; sessions live in its ``sessions/`` folder.

What (``crates/goose/src/session/session_manager.rs``): table ``sessions`` (``id``, ``name`` or
the older ``description``, ``working_dir``, ``created_at``, ``session_type``) and table
``messages`` (``role``, ``content_json``: a list of content items, ``created_timestamp`` in
seconds, ``metadata_json``: ``userVisible``/``agentVisible``). Content items
(``crates/goose/src/conversation/message.rs``) are tagged by ``type``: ``text``, ``toolRequest``
(``toolCall: {status, value: {name, arguments}}``), ``toolResponse`` (``toolResult: {status,
value: {content: […]}}``, stored in a *user* message), ``thinking``, ``redactedThinking``,
``image`` and a few UI-only kinds. Older goose wrote one ``<id>.jsonl`` per session
(``crates/goose/src/session/legacy.rs``): a metadata line, then one message per line; goose
copies those into ``sessions.db`` once, so a file whose id is already in the database is skipped.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatcli.importers.base import ImportedSession, Source, SourceProblem
from chatcli.importers.fold import RECORD_ERRORS, Conversation, call_note, result_note
from chatcli.importers.sqlite_source import (
    MAX_RECORD_BYTES,
    SourceError,
    bounded,
    columns,
    epoch_time,
    json_object,
    open_readonly,
    text_time,
)
from chatcli.session.errors import InputFileError
from chatcli.session.import_file import open_input

__all__ = ["SOURCE", "default_folder"]

DB_NAME = "sessions.db"
#: Session kinds goose lists for the user; ``hidden`` and ``specialist`` are its own sub-agents.
USER_SESSION_TYPES = frozenset({"user", "scheduled", "terminal"})


def default_folder(env: dict[str, str]) -> Path:
    """goose's ``sessions`` folder, as goose itself resolves it from ``env``."""
    root = env.get("GOOSE_PATH_ROOT", "")
    if root and Path(root).is_absolute():
        return Path(root) / "data" / "sessions"
    if os.name == "nt" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "Block" / "goose" / "data" / "sessions"
    xdg = env.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else _home(env) / ".local" / "share"
    return base / "goose" / "sessions"


def _home(env: dict[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def locate(cwd: Path, all_projects: bool, env: dict[str, str]) -> list[Path]:
    """The goose sessions folder, when it exists (every project's sessions are in it)."""
    folder = default_folder(env)
    return [folder] if folder.is_dir() else []


def read(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """The sessions of a goose ``sessions.db``, a legacy ``.jsonl`` file, or a sessions folder."""
    if path.is_dir():
        yield from _read_folder(path, problems)
    elif path.suffix == ".jsonl":
        yield from _read_jsonl(path, problems)
    else:
        yield from _read_db(path, problems, set())


def _read_folder(folder: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    if not (folder / DB_NAME).exists() and (folder / "sessions").is_dir():
        folder = folder / "sessions"  # goose's data folder rather than its sessions folder
    db = folder / DB_NAME
    files = sorted(folder.glob("*.jsonl"))
    if not db.is_file() and not files:
        problems.append(SourceProblem(str(folder), f"has no goose {DB_NAME} or session files"))
        return
    known: set[str] = set()
    if db.is_file():
        yield from _read_db(db, problems, known)
    for file in files:
        if file.stem not in known:
            yield from _read_jsonl(file, problems)


def _read_db(path: Path, problems: list[SourceProblem], known: set[str]) -> Iterator[ImportedSession]:
    """Every user session of ``path``; adds each session id found to ``known``."""
    try:
        connection = open_readonly(path)
    except SourceError as exc:
        problems.append(SourceProblem(str(path), str(exc)))
        return
    try:
        yield from _db_sessions(connection, path, problems, known)
    except sqlite3.Error as exc:
        problems.append(SourceProblem(str(path), f"is not a goose session database ({exc})"))
    finally:
        connection.close()


def _db_sessions(
    connection: sqlite3.Connection, path: Path, problems: list[SourceProblem], known: set[str]
) -> Iterator[ImportedSession]:
    have = columns(connection, "sessions")
    wanted = ("name", "description", "session_type", "created_at")
    picked = ", ".join(name if name in have else f"NULL AS {name}" for name in wanted)
    rows = connection.execute(
        f"SELECT id, working_dir, {picked} FROM sessions ORDER BY created_at, id"
    ).fetchall()
    for row in rows:
        session_id = str(row["id"])
        known.add(session_id)
        if (row["session_type"] or "user") not in USER_SESSION_TYPES:
            continue
        try:
            conversation = _db_conversation(connection, path, session_id, problems)
        except sqlite3.Error as exc:
            problems.append(SourceProblem(f"{path} (session {session_id})", f"unreadable: {exc}"))
            continue
        messages = conversation.messages()
        if messages:
            yield ImportedSession(
                source_id=session_id,
                path=str(path),
                messages=messages,
                title=_title(row["name"], row["description"]),
                created=text_time(row["created_at"]),
                project=str(row["working_dir"]) if row["working_dir"] else None,
            )


def _title(*candidates: object) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def _db_conversation(
    connection: sqlite3.Connection, path: Path, session_id: str, problems: list[SourceProblem]
) -> Conversation:
    conversation = Conversation()
    tools: dict[str, str] = {}
    # metadata_json came with goose's schema version 3; older databases have none.
    metadata = (
        bounded("metadata_json")
        if "metadata_json" in columns(connection, "messages")
        else "NULL AS metadata_json, NULL AS metadata_json_size"
    )
    rows = connection.execute(
        f"SELECT id, role, created_timestamp, {bounded('content_json')}, {metadata}"
        " FROM messages WHERE session_id = ? ORDER BY timestamp, id",
        (session_id,),
    )
    for row in rows:
        where = f"{path} (session {session_id}, message {row['id']})"
        sizes = (row["content_json_size"] or 0, row["metadata_json_size"] or 0)
        if max(sizes) > MAX_RECORD_BYTES or row["content_json"] is None:
            reason = "over 64 MiB" if max(sizes) > MAX_RECORD_BYTES else "has no content"
            problems.append(SourceProblem(where, f"message skipped: {reason}"))
            continue
        record = {
            "role": row["role"],
            "created": row["created_timestamp"],
            "content": _json_list(row["content_json"]),
            "metadata": json_object(row["metadata_json"]) or {},
        }
        _add_message(conversation, record, tools, where, problems)
    return conversation


def _json_list(value: object) -> Any:
    if not isinstance(value, str | bytes):
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def _add_message(
    conversation: Conversation,
    record: dict[str, Any],
    tools: dict[str, str],
    where: str,
    problems: list[SourceProblem],
) -> None:
    """Fold one goose message (role, created, content list, metadata) into ``conversation``."""
    try:
        _fold_message(conversation, record, tools, where, problems)
    except RECORD_ERRORS as exc:
        problems.append(SourceProblem(where, f"message skipped: unexpected shape ({exc})"))


def _fold_message(
    conversation: Conversation,
    record: dict[str, Any],
    tools: dict[str, str],
    where: str,
    problems: list[SourceProblem],
) -> None:
    content = record.get("content")
    if not isinstance(content, list):
        problems.append(SourceProblem(where, "message skipped: its content is not a JSON list"))
        return
    metadata = record.get("metadata")
    if isinstance(metadata, dict) and metadata.get("userVisible") is False:
        return
    timestamp = epoch_time(record.get("created"))
    items = [item for item in content if isinstance(item, dict)]
    if record.get("role") == "user":
        for item in items:
            if item.get("type") == "toolResponse":
                conversation.note(_response_note(item, tools), timestamp)
        texts = [item["text"] for item in items if item.get("type") == "text" and _is_text(item)]
        conversation.user("\n".join(texts), timestamp)
    elif record.get("role") == "assistant":
        for item in items:
            _add_assistant_item(conversation, item, tools, timestamp)


def _is_text(item: dict[str, Any]) -> bool:
    return isinstance(item.get("text"), str)


def _add_assistant_item(
    conversation: Conversation, item: dict[str, Any], tools: dict[str, str], timestamp: Any
) -> None:
    kind = item.get("type")
    if kind == "text" and _is_text(item):
        conversation.assistant(item["text"], timestamp)
    elif kind in ("toolRequest", "frontendToolRequest"):
        call = item.get("toolCall")
        value = call.get("value") if isinstance(call, dict) else None
        if isinstance(value, dict):
            name = str(value.get("name", "tool"))
            tools[str(item.get("id"))] = name
            conversation.note(call_note(name, value.get("arguments")), timestamp)
        elif isinstance(call, dict):
            conversation.note(result_note("tool call", call.get("error"), failed=True), timestamp)


def _response_note(item: dict[str, Any], tools: dict[str, str]) -> str:
    name = tools.get(str(item.get("id")), "tool")
    result = item.get("toolResult")
    if not isinstance(result, dict) or result.get("status") == "error":
        error = result.get("error", "") if isinstance(result, dict) else ""
        return result_note(name, str(error), failed=True)
    value = result.get("value")
    contents = value.get("content") if isinstance(value, dict) else value
    failed = isinstance(value, dict) and value.get("isError") is True
    return result_note(name, _content_text(contents), failed=failed)


def _content_text(contents: object) -> str:
    """The text of MCP content items, preferring those meant for the user."""
    if not isinstance(contents, list):
        return ""
    items = [item for item in contents if isinstance(item, dict)]
    for_user = [item for item in items if "user" in _audience(item)]
    texts = []
    for item in for_user or items:
        if item.get("type") == "text":
            texts.append(str(item.get("text", "")))
        elif item.get("type") == "resource" and isinstance(item.get("resource"), dict):
            texts.append(str(item["resource"].get("text") or item["resource"].get("uri", "")))
        elif item.get("type") == "image":
            texts.append("[image]")
    return "\n".join(texts)


def _audience(item: dict[str, Any]) -> list[Any]:
    annotations = item.get("annotations")
    audience = annotations.get("audience") if isinstance(annotations, dict) else None
    return audience if isinstance(audience, list) else []


def _read_jsonl(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """One legacy goose session file: a metadata line, then a message per line."""
    conversation = Conversation()
    tools: dict[str, str] = {}
    header: dict[str, Any] = {}
    try:
        for number, line in _bounded_lines(path):
            where = f"{path}:{number}"
            record = json_object(line) if line is not None else None
            if record is None:
                reason = "longer than 64 MiB" if line is None else "not a JSON object"
                problems.append(SourceProblem(where, f"line skipped: {reason}"))
            elif number == 1:
                header = record
            else:
                _add_message(conversation, record, tools, where, problems)
    except InputFileError as exc:
        problems.append(SourceProblem(str(path), f"cannot be opened: {exc.problem}"))
        return
    except OSError as exc:
        problems.append(SourceProblem(str(path), f"cannot be read ({exc.strerror or exc})"))
        return
    messages = conversation.messages()
    if messages:
        yield ImportedSession(
            source_id=path.stem,
            path=str(path),
            messages=messages,
            title=_title(header.get("name"), header.get("description")),
            created=text_time(header.get("created_at")) or messages[0].timestamp,
            project=str(header["working_dir"]) if header.get("working_dir") else None,
        )


def _bounded_lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """(line number, text) of each non-blank line; ``None`` for a line over the size limit."""
    with open_input(path) as handle:
        number = 0
        while True:
            raw = handle.readline(MAX_RECORD_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass
                yield number, None
            elif raw.strip():
                yield number, raw.decode("utf-8", "replace")


SOURCE = Source(
    tool="goose",
    locate=locate,
    read=read,
    notes=(
        "maps user text, assistant text, tool requests and tool responses (as notes)",
        "drops thinking, redacted thinking, images, UI-only items and agent-only messages",
        "skips goose's hidden and specialist (sub-agent) sessions",
    ),
)
