"""Codex CLI: ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`` (and ``archived_sessions/``).

A rollout is JSON Lines of ``{"timestamp", "type", "payload"}``: ``session_meta`` (``id``,
``cwd``), ``response_item`` (``message`` with ``input_text`` / ``output_text`` parts,
``function_call`` / ``function_call_output``, ``custom_tool_call`` / ``…_output``,
``local_shell_call``, ``web_search_call``, ``reasoning``), and ``event_msg``, ``turn_context``
and ``compacted``, which repeat or describe what the response items hold and are skipped. Older
rollouts put the meta object and the items on their lines directly. ``.jsonl.zst`` files are
read only when a zstd module (``zstandard``) can be imported. ``CODEX_HOME`` defaults to
``~/.codex``.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

from chatcli.importers.base import ImportedMessage, ImportedSession, Source, SourceProblem
from chatcli.importers.common import (
    assistant,
    iter_json_lines,
    json_lines_from,
    parse_time,
    problem,
    strip_injected,
    summarize,
    text_of,
    tool_note,
    user,
)
from chatcli.session.errors import InputFileError
from chatcli.session.import_file import open_input

__all__ = ["SOURCE"]

_PATTERNS = ("rollout-*.jsonl", "rollout-*.jsonl.zst")
_ITEM_TYPES = frozenset(
    (
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "local_shell_call",
        "web_search_call",
        "reasoning",
    )
)


def _home(env: dict[str, str]) -> Path:
    configured = env.get("CODEX_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path(env.get("HOME") or Path.home()) / ".codex"


def _rollouts(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for pattern in _PATTERNS for p in folder.rglob(pattern))


def locate(cwd: Path, all_projects: bool, env: dict[str, str]) -> list[Path]:
    """Every rollout (live and archived) whose ``session_meta.cwd`` is ``cwd`` (all with
    ``all_projects``; a compressed one is kept, as its meta cannot be read first)."""
    home = _home(env)
    files = _rollouts(home / "sessions") + _rollouts(home / "archived_sessions")
    if all_projects:
        return files
    return [f for f in files if f.suffix == ".zst" or _meta_cwd(f) == str(cwd)]


def _meta_cwd(path: Path) -> str | None:
    ignored: list[SourceProblem] = []
    for _, record in iter_json_lines(path, ignored):
        payload = record.get("payload") if record.get("type") == "session_meta" else record
        cwd = payload.get("cwd") if isinstance(payload, dict) else None
        return cwd if isinstance(cwd, str) else None
    return None


def read(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """The session of one rollout file, or of every rollout under a folder."""
    for file in _rollouts(path) if path.is_dir() else [path]:
        session = _read_file(file, problems)
        if session is not None:
            yield session


def _zstd() -> ModuleType | None:
    try:
        return importlib.import_module("zstandard")
    except ImportError:
        return None


def _records(path: Path, problems: list[SourceProblem]) -> Iterator[tuple[int, dict[str, object]]]:
    if path.suffix != ".zst":
        yield from iter_json_lines(path, problems)
        return
    zstd = _zstd()
    if zstd is None:
        problems.append(
            problem(path, None, "it is compressed with zstd: install the Python package 'zstandard'")
        )
        return
    try:
        handle = open_input(path)
    except InputFileError as exc:
        problems.append(problem(path, None, exc.problem))
        return
    with handle:
        try:
            stream = io.BufferedReader(zstd.ZstdDecompressor().stream_reader(handle))
            yield from json_lines_from(stream, path, problems)
        except zstd.ZstdError as exc:
            problems.append(problem(path, None, f"it is not valid zstd data ({exc})"))


def _read_file(path: Path, problems: list[SourceProblem]) -> ImportedSession | None:
    source_id, project, created = path.name, None, None
    messages: list[ImportedMessage] = []
    names: dict[str, str] = {}
    for number, record in _records(path, problems):
        kind, payload = record.get("type"), record.get("payload")
        if "payload" not in record:  # an older rollout: the meta object and the items themselves
            if kind in _ITEM_TYPES:
                kind, payload = "response_item", record
            elif kind is None and "id" in record:
                kind, payload = "session_meta", record
        if not isinstance(payload, dict):
            continue
        if kind == "session_meta" and number <= 2:
            source_id = str(payload.get("id") or source_id)
            project = str(payload["cwd"]) if isinstance(payload.get("cwd"), str) else project
            created = parse_time(payload.get("timestamp")) or parse_time(record.get("timestamp"))
        elif kind == "response_item":
            when = parse_time(record.get("timestamp")) or parse_time(payload.get("timestamp"))
            messages.extend(_item(payload, when, names))
        # event_msg, turn_context, compacted and unknown types: skipped
    if not messages:
        return None
    return ImportedSession(source_id, str(path), tuple(messages), None, created, project)


def _item(item: dict[str, object], stamp: datetime | None, names: dict[str, str]) -> list[ImportedMessage]:
    kind = item.get("type")
    if kind == "message":
        role = item.get("role")
        text = text_of(item.get("content"))
        if role == "user":
            text = strip_injected(text)
            return [user(text, stamp)] if text else []
        if role == "assistant" and text.strip():
            return [assistant(text.strip(), stamp)]
        return []  # developer and system messages: instructions, not conversation
    if kind in ("function_call", "custom_tool_call"):
        name = str(item.get("name") or "tool")
        names[str(item.get("call_id"))] = name
        args = item.get("arguments") if kind == "function_call" else item.get("input")
        return [assistant(tool_note(name, summarize(args)), stamp)]
    if kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output")
        if isinstance(output, dict):
            output = output.get("content", output.get("output"))
        name = names.get(str(item.get("call_id")), "tool")
        return [assistant(tool_note(name, summarize(output), result=True), stamp)]
    if kind == "local_shell_call":
        action = item.get("action")
        command = action.get("command") if isinstance(action, dict) else None
        shown = " ".join(str(c) for c in command) if isinstance(command, list) else ""
        return [assistant(tool_note("shell", summarize(shown)), stamp)]
    if kind == "web_search_call":
        action = item.get("action")
        return [assistant(tool_note("web_search", summarize(action)), stamp)]
    return []  # reasoning (and its encrypted content) is dropped


SOURCE = Source(
    tool="codex",
    locate=locate,
    read=read,
    notes=(
        "reasoning items (and their encrypted content) and developer instructions are left out",
        "rollouts have no title",
    ),
)
