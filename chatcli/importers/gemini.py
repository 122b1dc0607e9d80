"""Gemini CLI: ``~/.gemini/tmp/<project id>/chats/session-*.json`` and ``session-*.jsonl``.

The project id is the SHA-256 of the project's path (older releases) or the short name
``~/.gemini/projects.json`` maps the path to. A ``.json`` file is one ``ConversationRecord``
(``sessionId``, ``startTime``, ``summary``, ``messages``); a ``.jsonl`` file is its append-only
log: a metadata line, then message records (a record whose ``id`` was seen before replaces it),
``{"$set": {…}}`` metadata patches (``messages`` in one replaces the list) and
``{"$rewindTo": id}``, which drops that message and everything after it (the user rewound).
Messages are ``user``, ``gemini`` (with ``toolCalls`` and ``thoughts``), ``info``, ``error``
and ``warning`` (the last three are the tool's own notices, not conversation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from chatcli.importers.base import ImportedMessage, ImportedSession, Source, SourceProblem
from chatcli.importers.common import (
    assistant,
    iter_json_lines,
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


def _tmp(env: dict[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home()) / ".gemini" / "tmp"


def _project_ids(cwd: Path, env: dict[str, str]) -> list[str]:
    ids = [hashlib.sha256(str(cwd).encode()).hexdigest()]
    registry = read_json_document(_tmp(env).parent / "projects.json", [])
    projects = registry.get("projects") if isinstance(registry, dict) else None
    if isinstance(projects, dict) and isinstance(projects.get(str(cwd)), str):
        ids.append(str(projects[str(cwd)]))
    return ids


def locate(cwd: Path, all_projects: bool, env: dict[str, str]) -> list[Path]:
    """This project's ``chats`` folder (every project's with ``all_projects``)."""
    tmp = _tmp(env)
    if all_projects:
        return sorted(p for p in tmp.glob("*/chats") if p.is_dir()) if tmp.is_dir() else []
    folders = [tmp / pid / "chats" for pid in _project_ids(cwd, env)]
    return [f for f in folders if f.is_dir()]


def read(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """The sessions of one session file, or of every ``session-*`` file of a folder."""
    if path.is_dir():
        folder = path / "chats" if (path / "chats").is_dir() else path
        files = sorted([*folder.glob("session-*.json"), *folder.glob("session-*.jsonl")])
    else:
        files = [path]
    for file in files:
        record = _load_jsonl(file, problems) if file.suffix == ".jsonl" else _load_json(file, problems)
        session = _session(file, record) if record is not None else None
        if session is not None:
            yield session


def _load_json(path: Path, problems: list[SourceProblem]) -> dict[str, object] | None:
    document = read_json_document(path, problems)
    if document is None:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
        problems.append(problem(path, None, "not a Gemini CLI session (no 'messages' list)"))
        return None
    return document


def _load_jsonl(path: Path, problems: list[SourceProblem]) -> dict[str, object] | None:
    meta: dict[str, object] = {}
    messages: dict[str, dict[str, object]] = {}
    for _, record in iter_json_lines(path, problems):
        target = record.get("$rewindTo")
        if isinstance(target, str):
            ids = list(messages)
            for key in ids[ids.index(target) :] if target in messages else ids:
                del messages[key]
        elif isinstance(record.get("id"), str) and "type" in record:
            messages[str(record["id"])] = record
        else:
            patch = record.get("$set", record)
            if isinstance(patch, dict):
                meta.update(patch)
                if isinstance(patch.get("messages"), list):
                    messages = {str(m.get("id")): m for m in patch["messages"] if isinstance(m, dict)}
    meta["messages"] = list(messages.values())
    return meta


def _session(path: Path, record: dict[str, object]) -> ImportedSession | None:
    messages: list[ImportedMessage] = []
    for item in record["messages"]:  # type: ignore[attr-defined]
        if isinstance(item, dict):
            messages.extend(_message(item))
    if not messages:
        return None
    summary = record.get("summary")
    return ImportedSession(
        source_id=str(record.get("sessionId") or path.stem),
        path=str(path),
        messages=tuple(messages),
        title=summary if isinstance(summary, str) and summary.strip() else None,
        created=parse_time(record.get("startTime")),
        project=None,
    )


def _message(item: dict[str, object]) -> list[ImportedMessage]:
    when = parse_time(item.get("timestamp"))
    kind = item.get("type")
    if kind == "user":
        text = strip_injected(text_of(item.get("content")))
        return [user(text, when)] if text else []
    if kind != "gemini":
        return []  # info, error and warning are the tool's notices; unknown types are skipped
    out: list[ImportedMessage] = []
    text = text_of(item.get("content")).strip()
    if text:
        out.append(assistant(text, when))
    calls = item.get("toolCalls")
    for call in calls if isinstance(calls, list) else []:
        if isinstance(call, dict):
            name = call.get("displayName") or call.get("name")
            out.append(assistant(tool_note(name, summarize(call.get("args"))), when))
            result = call.get("resultDisplay")
            shown = summarize(result) if isinstance(result, str) else _result(call.get("result"))
            out.append(assistant(tool_note(name, shown, result=True), when))
    return out  # thoughts are dropped


def _result(value: object) -> str:
    """A function response's output in one line (``[{"functionResponse": {"response": …}}]``)."""
    parts = value if isinstance(value, list) else [value]
    for part in parts:
        response = part.get("functionResponse") if isinstance(part, dict) else None
        if isinstance(response, dict):
            return summarize(response.get("response"))
    return summarize(value)


SOURCE = Source(
    tool="gemini",
    locate=locate,
    read=read,
    notes=(
        "thoughts and the tool's info, error and warning notices are left out",
        "messages after a rewind ($rewindTo) are left out: only the kept line is imported",
    ),
)
