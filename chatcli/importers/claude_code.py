"""Claude Code: ``~/.claude/projects/<cwd with non-alphanumerics as ->/<session id>.jsonl``.

Each line is one record: ``user`` and ``assistant`` records (``uuid``, ``parentUuid``,
``timestamp``, ``message.content`` as a string or a list of ``text`` / ``tool_use`` /
``tool_result`` / ``thinking`` blocks), ``summary`` records (``summary``: the title) and others
(``system``, ``file-history-snapshot``, …) that are not part of the conversation. A file may hold
several branches (an edited prompt, a retry): the main line is the ``parentUuid`` chain from the
last record back to the root; ``isSidechain`` records (sub-agents) and ``isMeta`` ones (injected
by the tool) are left out. ``CLAUDE_CONFIG_DIR`` replaces ``~/.claude``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chatcli.importers.base import ImportedMessage, ImportedSession, Source, SourceProblem
from chatcli.importers.common import (
    assistant,
    iter_json_lines,
    parse_time,
    strip_injected,
    summarize,
    text_of,
    tool_note,
    user,
)

__all__ = ["SOURCE"]

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def _root(env: dict[str, str]) -> Path:
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(env.get("HOME") or Path.home()) / ".claude"


def locate(cwd: Path, all_projects: bool, env: dict[str, str]) -> list[Path]:
    """This project's folder under ``projects/`` (every project's with ``all_projects``)."""
    projects = _root(env) / "projects"
    if all_projects:
        return sorted(p for p in projects.glob("*") if p.is_dir()) if projects.is_dir() else []
    folder = projects / _NOT_ALNUM.sub("-", str(cwd))
    return [folder] if folder.is_dir() else []


def read(path: Path, problems: list[SourceProblem]) -> Iterator[ImportedSession]:
    """The sessions of one ``.jsonl`` file, or of every ``.jsonl`` file of a folder."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    for file in files:
        session = _read_file(file, problems)
        if session is not None:
            yield session


@dataclass
class _Node:
    parent: str | None
    messages: list[ImportedMessage]


@dataclass
class _File:
    nodes: dict[str, _Node] = field(default_factory=dict)
    tool_names: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    leaf: str | None = None
    session_id: str | None = None
    project: str | None = None


def _read_file(path: Path, problems: list[SourceProblem]) -> ImportedSession | None:
    state = _File()
    for _, record in iter_json_lines(path, problems):
        kind = record.get("type")
        if kind == "summary" and isinstance(record.get("summary"), str):
            state.titles[str(record.get("leafUuid", ""))] = str(record["summary"])
        elif kind == "custom-title" and isinstance(record.get("customTitle"), str):
            state.titles[""] = str(record["customTitle"])
        elif kind in ("user", "assistant", "system") and isinstance(record.get("uuid"), str):
            _add(state, record)
    chain = _main_line(state)
    if not chain:
        return None
    messages = tuple(m for uuid in chain for m in state.nodes[uuid].messages)
    title = (
        state.titles.get("") or state.titles.get(state.leaf or "") or next(iter(state.titles.values()), None)
    )
    return ImportedSession(
        source_id=state.session_id or path.stem,
        path=str(path),
        messages=messages,
        title=title,
        created=messages[0].timestamp if messages else None,
        project=state.project,
    )


def _add(state: _File, record: dict[str, object]) -> None:
    if record.get("isSidechain") is True:
        return
    uuid = str(record["uuid"])
    parent = record.get("parentUuid") or record.get("logicalParentUuid")
    messages = [] if record.get("isMeta") is True or record["type"] == "system" else _messages(state, record)
    state.nodes[uuid] = _Node(parent if isinstance(parent, str) else None, messages)
    state.leaf = uuid
    if isinstance(record.get("sessionId"), str) and state.session_id is None:
        state.session_id = str(record["sessionId"])
    if isinstance(record.get("cwd"), str) and state.project is None:
        state.project = str(record["cwd"])


def _messages(state: _File, record: dict[str, object]) -> list[ImportedMessage]:
    when = parse_time(record.get("timestamp"))
    message = record.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not isinstance(content, list):
        return []
    out: list[ImportedMessage] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text = text_of(block)
            if record["type"] == "user":
                text = strip_injected(text)
                out.extend([user(text, when)] if text else [])
            elif text.strip():
                out.append(assistant(text.strip(), when))
        elif kind == "tool_use":
            name = str(block.get("name") or "tool")
            state.tool_names[str(block.get("id"))] = name
            out.append(assistant(tool_note(name, summarize(block.get("input"))), when))
        elif kind == "tool_result":
            name = state.tool_names.get(str(block.get("tool_use_id")), "tool")
            out.append(assistant(tool_note(name, summarize(block.get("content")), result=True), when))
        # thinking, redacted_thinking, image and unknown blocks are dropped
    return out


def _main_line(state: _File) -> list[str]:
    """The uuids from the root to the last record, following ``parentUuid`` (cycles cut)."""
    chain: list[str] = []
    seen: set[str] = set()
    current = state.leaf
    while current is not None and current in state.nodes and current not in seen:
        seen.add(current)
        chain.append(current)
        current = state.nodes[current].parent
    chain.reverse()
    return chain


SOURCE = Source(
    tool="claude-code",
    locate=locate,
    read=read,
    notes=(
        "thinking blocks, sub-agent (sidechain) records and injected meta records are left out",
        "only the main line of a branched conversation is imported",
    ),
)
