"""opencode: the sessions in its ``opencode.db``, or in the JSON ``storage`` folder of older versions.

Where (anomalyco/opencode, formerly sst/opencode: ``packages/opencode/src/global/index.ts`` and
``src/storage/db.ts``): the data folder ``$XDG_DATA_HOME/opencode`` (``~/.local/share/opencode``
on every platform); the database is ``$OPENCODE_DB`` (absolute, or relative to the data folder)
or ``opencode.db`` in it. Before the database, sessions were JSON files under ``storage/``
(``src/storage/json-migration.ts``): ``session/<project>/<id>.json``,
``message/<session>/<id>.json`` and ``part/<message>/<id>.json``; opencode copies them into the
database on first start, so that folder is read only when there is no database.

What (``src/session/session.sql.ts``, ``src/session/message-v2.ts``): table ``session``
(``id``, ``parent_id`` for a sub-agent's session, ``directory``, ``title``, ``revert``,
``time_created`` in milliseconds), ``message`` (``data``: ``role``, ``time.created``, and for an
assistant ``summary: true`` on a compaction summary) and ``part`` (``data`` tagged by ``type``:
``text`` (``synthetic`` when opencode injected it), ``reasoning``, ``tool`` (``tool``,
``state: {status, input, output | error}``), ``file``, ``step-start``, ``step-finish``,
``snapshot``, ``patch``, ``agent``, ``subtask``, ``retry``, ``compaction``). A session's
``revert`` (``{messageID, partID?}``) hides the reverted tail, so the import stops there too.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
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
)
from chatcli.session.errors import InputFileError
from chatcli.session.import_file import open_input

__all__ = ["SOURCE", "data_folder"]

DB_NAME = "opencode.db"
#: The placeholder titles opencode gives a session before it has named it.
_DEFAULT_TITLE = re.compile(r"^(New session|Child session) - \d{4}-\d\d-\d\dT")


@dataclass
class _Session:
    """One opencode session's own fields, whichever storage they came from."""

    source_id: str
    path: str
    title: str | None
    directory: str | None
    created: Any
    revert: dict[str, Any] = field(default_factory=dict)


def data_folder(env: dict[str, str]) -> Path:
    """opencode's data folder, as opencode resolves it from ``env`` (the XDG data home)."""
    xdg = env.get("XDG_DATA_HOME", "")
    if xdg:
        return Path(xdg) / "opencode"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "share" / "opencode"


def locate(cwd: Path, all_projects: bool, env: dict[str, str]) -> list[Path]:
    """opencode's database, or its JSON storage folder when there is no database yet."""
    data = data_folder(env)
    override = env.get("OPENCODE_DB", "")
    db = (data / override) if override and override != ":memory:" else data / DB_NAME
    if db.is_file():
        return [db]
    storage = data / "storage"
    return [storage] if storage.is_dir() else []


def read(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """The top-level sessions of an opencode database, data folder or JSON storage folder."""
    if path.is_dir():
        if (path / DB_NAME).is_file():
            yield from _read_db(path / DB_NAME, problems)
        elif (path / "session").is_dir():
            yield from _read_storage(path, problems)
        elif (path / "storage" / "session").is_dir():
            yield from _read_storage(path / "storage", problems)
        else:
            problems.append(SourceProblem(str(path), f"has no opencode {DB_NAME} or storage folder"))
    else:
        yield from _read_db(path, problems)


def _read_db(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    try:
        connection = open_readonly(path)
    except SourceError as exc:
        problems.append(SourceProblem(str(path), str(exc)))
        return
    try:
        yield from _db_sessions(connection, path, problems)
    except sqlite3.Error as exc:
        problems.append(SourceProblem(str(path), f"is not an opencode database ({exc})"))
    finally:
        connection.close()


def _db_sessions(
    connection: sqlite3.Connection, path: Path, problems: list[SourceProblem]
) -> Iterator[ImportedSession]:
    have = columns(connection, "session")
    wanted = ("title", "directory", "parent_id", "revert", "time_created")
    picked = ", ".join(name if name in have else f"NULL AS {name}" for name in wanted)
    rows = connection.execute(f"SELECT id, {picked} FROM session ORDER BY time_created, id").fetchall()
    for row in rows:
        if row["parent_id"]:
            continue
        session = _Session(
            source_id=str(row["id"]),
            path=str(path),
            title=row["title"] if isinstance(row["title"], str) else None,
            directory=str(row["directory"]) if row["directory"] else None,
            created=row["time_created"],
            revert=json_object(row["revert"]) or {},
        )
        try:
            messages = list(_db_messages(connection, session, problems))
        except sqlite3.Error as exc:
            problems.append(SourceProblem(f"{path} (session {session.source_id})", f"unreadable: {exc}"))
            continue
        yield from _finish(session, messages, problems)


def _db_messages(
    connection: sqlite3.Connection, session: _Session, problems: list[SourceProblem]
) -> Iterator[tuple[str, dict[str, Any] | None, list[dict[str, Any]], str]]:
    """(message id, its data, its parts' data, where) of each message of ``session``, in order."""
    messages = connection.execute(
        f"SELECT id, time_created, {bounded('data')} FROM message WHERE session_id = ?"
        " ORDER BY time_created, id",
        (session.source_id,),
    )
    for message in messages:
        base = f"{session.path} (session {session.source_id}, message {message['id']}"
        where = f"{base})"
        info = _record(message["data"], message["data_size"], where, problems)
        if info is not None and "created" not in _dict(info.get("time")):
            info["time"] = {"created": message["time_created"]}
        parts = []
        for part in connection.execute(
            f"SELECT id, {bounded('data')} FROM part WHERE message_id = ? ORDER BY id", (message["id"],)
        ):
            data = _record(part["data"], part["data_size"], f"{base}, part {part['id']})", problems)
            if data is not None:
                parts.append({**data, "id": str(part["id"])})
        yield str(message["id"]), info, parts, where


def _record(value: object, size: object, where: str, problems: list[SourceProblem]) -> dict[str, Any] | None:
    if isinstance(size, int) and size > MAX_RECORD_BYTES:
        problems.append(SourceProblem(where, "skipped: over 64 MiB"))
        return None
    record = json_object(value)
    if record is None:
        problems.append(SourceProblem(where, "skipped: its data is not a JSON object"))
    return record


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _read_storage(storage: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """Sessions of the pre-database JSON layout rooted at ``storage``."""
    for file in sorted((storage / "session").glob("*/*.json")):
        meta = _json_file(file, problems)
        if meta is None or meta.get("parentID"):
            continue
        time = _dict(meta.get("time"))
        session = _Session(
            source_id=file.stem,
            path=str(file),
            title=meta.get("title") if isinstance(meta.get("title"), str) else None,
            directory=meta.get("directory") if isinstance(meta.get("directory"), str) else None,
            created=time.get("created"),
            revert=_dict(meta.get("revert")),
        )
        messages = list(_storage_messages(storage, session.source_id, problems))
        yield from _finish(session, messages, problems)


def _storage_messages(
    storage: Path, session_id: str, problems: list[SourceProblem]
) -> Iterator[tuple[str, dict[str, Any] | None, list[dict[str, Any]], str]]:
    for file in sorted((storage / "message" / session_id).glob("*.json")):
        info = _json_file(file, problems)
        parts = []
        for part_file in sorted((storage / "part" / file.stem).glob("*.json")):
            part = _json_file(part_file, problems)
            if part is not None:
                parts.append({**part, "id": part_file.stem})
        yield file.stem, info, parts, str(file)


def _json_file(path: Path, problems: list[SourceProblem]) -> dict[str, Any] | None:
    try:
        with open_input(path) as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
    except InputFileError as exc:
        problems.append(SourceProblem(str(path), f"cannot be opened: {exc.problem}"))
        return None
    except OSError as exc:
        problems.append(SourceProblem(str(path), f"cannot be read ({exc.strerror or exc})"))
        return None
    if len(data) > MAX_RECORD_BYTES:
        problems.append(SourceProblem(str(path), "skipped: over 64 MiB"))
        return None
    record = json_object(data)
    if record is None:
        problems.append(SourceProblem(str(path), "skipped: not a JSON object"))
    return record


def _finish(
    session: _Session,
    messages: list[tuple[str, dict[str, Any] | None, list[dict[str, Any]], str]],
    problems: list[SourceProblem],
) -> Iterator[ImportedSession]:
    """Fold ``messages`` up to the session's revert point into one imported session."""
    conversation = Conversation()
    stop_message = session.revert.get("messageID")
    stop_part = session.revert.get("partID")
    for message_id, info, parts, where in messages:
        kept = parts
        if message_id == stop_message:
            if not stop_part:
                break
            kept = [part for part in parts if part["id"] < str(stop_part)]
        if info is not None:
            try:
                _add_message(conversation, info, kept)
            except RECORD_ERRORS as exc:
                problems.append(SourceProblem(where, f"message skipped: {exc}"))
        if message_id == stop_message:
            break
    folded = conversation.messages()
    if folded:
        title = session.title.strip() if isinstance(session.title, str) else ""
        yield ImportedSession(
            source_id=session.source_id,
            path=session.path,
            messages=folded,
            title=title if title and not _DEFAULT_TITLE.match(title) else None,
            created=epoch_time(session.created),
            project=session.directory or None,
        )


def _add_message(conversation: Conversation, info: dict[str, Any], parts: list[dict[str, Any]]) -> None:
    time = info.get("time")
    timestamp = epoch_time(time.get("created") if isinstance(time, dict) else None)
    role = info.get("role")
    if role == "user":
        texts = [
            part["text"]
            for part in parts
            if part.get("type") == "text"
            and isinstance(part.get("text"), str)
            and not part.get("synthetic")
            and not part.get("ignored")
        ]
        conversation.user("\n\n".join(texts), timestamp)
    elif role == "assistant" and info.get("summary") is not True:
        for part in parts:
            _add_assistant_part(conversation, part, timestamp)


def _add_assistant_part(conversation: Conversation, part: dict[str, Any], timestamp: Any) -> None:
    kind = part.get("type")
    if kind == "text" and isinstance(part.get("text"), str) and not part.get("synthetic"):
        conversation.assistant(part["text"], timestamp)
    elif kind == "tool":
        name = str(part.get("tool") or "tool")
        state = _dict(part.get("state"))
        conversation.note(call_note(name, state.get("input")), timestamp)
        if state.get("status") == "completed":
            conversation.note(result_note(name, state.get("output")), timestamp)
        elif state.get("status") == "error":
            conversation.note(result_note(name, state.get("error"), failed=True), timestamp)


SOURCE = Source(
    tool="opencode",
    locate=locate,
    read=read,
    notes=(
        "maps user text, assistant text and tool parts (call and result as notes)",
        "drops reasoning, synthetic (injected) text, files, step, snapshot, patch and retry parts",
        "drops compaction summaries",
        "skips sub-agent (child) sessions and the reverted tail of a session",
    ),
)
