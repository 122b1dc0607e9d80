"""What every reader of another tool's files shares: bounded streaming reads, times, tool notes.

Every input here is untrusted. Files are opened only when they are regular files (a FIFO or a
device never blocks the read, see :func:`chatcli.session.import_file.open_input`), JSON Lines are
read a line at a time and each line (like each whole JSON document) is bounded by
:data:`MAX_RECORD_BYTES`; anything a reader cannot use becomes a
:class:`~chatcli.importers.base.SourceProblem` and the reading goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from chatcli.importers.base import ImportedMessage, SourceProblem
from chatcli.session.errors import InputFileError
from chatcli.session.fields import TIMESTAMP_MAX, TIMESTAMP_MIN
from chatcli.session.import_file import MAX_RECORD_BYTES, open_input

__all__ = [
    "MAX_RECORD_BYTES",
    "assistant",
    "iter_json_lines",
    "json_lines_from",
    "parse_time",
    "read_json_document",
    "strip_injected",
    "summarize",
    "text_of",
    "tool_note",
    "user",
]

_BLOCK = 1 << 16
#: How long the one-line summary of a tool call's arguments or result may be.
SUMMARY_LIMIT = 120
#: Blocks other tools inject into what looks like a user message: never the user's words.
_INJECTED = re.compile(
    r"<(environment_context|user_instructions|session_context|system-reminder|INSTRUCTIONS|"
    r"local-command-caveat|command-message|local-command-stdout|local-command-stderr)>.*?</\1>\s*",
    re.DOTALL,
)
_AGENTS_HEADER = re.compile(r"^# AGENTS\.md instructions for [^\n]*\n*", re.MULTILINE)
#: Argument keys that say best what a tool call did, in order of preference.
TELLING_KEYS = (
    "command",
    "cmd",
    "file_path",
    "path",
    "filePath",
    "absolute_path",
    "pattern",
    "query",
    "url",
    "description",
    "prompt",
    "output",
    "stdout",
    "content",
    "result",
    "error",
)


def problem(path: Path, line: int | None, reason: str) -> SourceProblem:
    """A problem at ``path`` (and ``line``, when known)."""
    return SourceProblem(f"{path}:{line}" if line is not None else str(path), reason)


def iter_json_lines(path: Path, problems: list[SourceProblem]) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield (line number, JSON object) for each usable line of a JSON Lines file.

    A line that is too long, not UTF-8, not JSON, nested too deeply or not an object is a problem
    with its ``file:line``; a file that cannot be opened (or is not a regular file) is one problem.
    """
    try:
        handle = open_input(path)
    except InputFileError as exc:
        problems.append(problem(path, None, exc.problem))
        return
    with handle:
        yield from json_lines_from(handle, path, problems)


def json_lines_from(
    handle: BinaryIO, path: Path, problems: list[SourceProblem]
) -> Iterator[tuple[int, dict[str, object]]]:
    """:func:`iter_json_lines` of an open binary stream (a decompressing one, say)."""
    number = 0
    try:
        while True:
            raw = handle.readline(MAX_RECORD_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(_BLOCK)
                problems.append(problem(path, number, "the line is longer than the limit per record"))
                continue
            if raw.strip():
                record = _object(raw, path, number, problems)
                if record is not None:
                    yield number, record
    except OSError as exc:
        problems.append(problem(path, number or None, f"it could not be read ({exc.strerror or exc})"))


def _object(raw: bytes, path: Path, number: int, problems: list[SourceProblem]) -> dict[str, object] | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        problems.append(problem(path, number, f"not UTF-8 text (at byte {exc.start})"))
        return None
    except (RecursionError, MemoryError):
        problems.append(problem(path, number, "it is nested too deeply to read"))
        return None
    except ValueError as exc:
        problems.append(problem(path, number, f"not valid JSON ({exc})"))
        return None
    if not isinstance(value, dict):
        problems.append(problem(path, number, "not a JSON object"))
        return None
    return value


def read_json_document(path: Path, problems: list[SourceProblem]) -> object | None:
    """One whole JSON document (up to :data:`MAX_RECORD_BYTES`), or None with a problem."""
    try:
        handle = open_input(path)
    except InputFileError as exc:
        problems.append(problem(path, None, exc.problem))
        return None
    with handle:
        try:
            data = handle.read(MAX_RECORD_BYTES + 1)
        except OSError as exc:
            problems.append(problem(path, None, f"it could not be read ({exc.strerror or exc})"))
            return None
    if len(data) > MAX_RECORD_BYTES:
        problems.append(problem(path, None, f"it is larger than {MAX_RECORD_BYTES >> 20} MiB, the limit"))
        return None
    try:
        document: object = json.loads(data.decode("utf-8-sig"))
        return document
    except UnicodeDecodeError as exc:
        problems.append(problem(path, None, f"not UTF-8 text (at byte {exc.start})"))
    except (RecursionError, MemoryError):
        problems.append(problem(path, None, "it is nested too deeply to read"))
    except ValueError as exc:
        problems.append(problem(path, None, f"not valid JSON ({exc})"))
    return None


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time, or seconds / milliseconds since 1970, as UTC; None when unusable."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 10**11 else value
            when = datetime.fromtimestamp(seconds, UTC)
        elif isinstance(value, str) and value:
            when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return when if TIMESTAMP_MIN <= when <= TIMESTAMP_MAX else None


def strip_injected(text: str) -> str:
    """``text`` without the context blocks a tool injects (environment, AGENTS.md, reminders)."""
    text = _INJECTED.sub("", text)
    if _AGENTS_HEADER.match(text):
        return ""
    return text.strip()


def _one_line(text: str, limit: int = SUMMARY_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def summarize(value: object) -> str:
    """A one-line summary of a tool call's arguments or result: the telling field, never a dump."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value) if value.lstrip()[:1] in ("{", "[") else value
        except (ValueError, RecursionError):
            parsed = value
        if not isinstance(parsed, str):
            return summarize(parsed)
        return _one_line(value)
    if isinstance(value, dict):
        for key in TELLING_KEYS:
            shown = _scalar_text(value.get(key))
            if shown:
                return _one_line(f"{key}: {shown}")
        keys = [str(k) for k in list(value)[:4]]
        return _one_line("with " + ", ".join(keys)) if keys else ""
    if isinstance(value, list):
        texts = [t for t in (text_of(item) for item in value[:20]) if t]
        return _one_line(" ".join(texts)) if texts else f"{len(value)} items"
    if value is None:
        return ""
    return _one_line(str(value))


def _scalar_text(value: object) -> str:
    """A string, a number or a list of them (a command's words) as text; "" for anything else."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value[:50]):
        return " ".join(str(v) for v in value[:50])
    if isinstance(value, list):
        return text_of(value)
    return ""


def tool_note(name: object, summary: str, *, result: bool = False) -> str:
    """The readable note a tool call (or its result) becomes inside an assistant message."""
    label = _one_line(str(name) if isinstance(name, str) and name else "tool", 60)
    if result:
        return f"[{label} result: {summary}]" if summary else f"[{label} result]"
    return f"[tool {label}: {summary}]" if summary else f"[tool {label}]"


def text_of(value: object) -> str:
    """The plain text of a content value: a string, ``{"text": …}`` or a list of such parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        text = value.get("text")
        return text if isinstance(text, str) else ""
    if isinstance(value, list):
        return "\n".join(t for t in (text_of(item) for item in value[:1000]) if t)
    return ""


def user(text: str, when: datetime | None) -> ImportedMessage:
    """A user prompt (injected context blocks already removed by the caller)."""
    return ImportedMessage("user", text, when)


def assistant(text: str, when: datetime | None) -> ImportedMessage:
    """Assistant text or a tool note."""
    return ImportedMessage("assistant", text, when)
