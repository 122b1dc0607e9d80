"""Build an imported conversation: user prompts, and assistant replies with tool notes folded in.

Tools record a turn as several pieces: the assistant's text, its tool calls, the results (which
some tools store as *user* messages). :class:`Conversation` folds everything between two user
prompts into one assistant message, so a tool result is never counted as a prompt. Tool calls and
results become one short line each (:func:`call_note`, :func:`result_note`): the tool's name and
a summary of its arguments or output, never a JSON dump.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from chatcli.importers.base import ImportedMessage

__all__ = [
    "RECORD_ERRORS",
    "Conversation",
    "call_note",
    "one_line",
    "result_note",
    "summarize_arguments",
]

#: What reading one record of unexpected shape can raise; a reader reports the record and goes on.
RECORD_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError)

#: Longest summary of a tool's arguments or result, in characters.
NOTE_LIMIT = 120
#: Longest single argument value shown inside a summary.
VALUE_LIMIT = 60


def one_line(text: str, limit: int = NOTE_LIMIT) -> str:
    """``text`` on one line (whitespace runs collapsed) and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _value(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(one_line(value, VALUE_LIMIT), ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{…}"
    if isinstance(value, list | tuple):
        return f"[{len(value)} items]"
    return one_line(str(value), VALUE_LIMIT)


def summarize_arguments(arguments: object) -> str:
    """A one-line ``key=value, …`` summary of a tool call's arguments (JSON text or an object)."""
    if isinstance(arguments, str):
        text = arguments
        try:
            arguments = json.loads(text)
        except (ValueError, RecursionError):
            return one_line(text)
    if isinstance(arguments, Mapping):
        pairs = [f"{key}={_value(value)}" for key, value in arguments.items()]
        return one_line(", ".join(pairs))
    if arguments is None:
        return ""
    return one_line(_value(arguments))


def call_note(name: str, arguments: object) -> str:
    """``[tool] name(summary of arguments)``."""
    return f"[tool] {one_line(name, VALUE_LIMIT) or 'tool'}({summarize_arguments(arguments)})"


def result_note(name: str, output: str, *, failed: bool = False) -> str:
    """``[tool result] name: first line of the output (+N more lines)``, or ``[tool error] …``."""
    label = "[tool error]" if failed else "[tool result]"
    lines = [line for line in output.splitlines() if line.strip()]
    summary = one_line(lines[0]) if lines else "(no output)"
    if len(lines) > 1:
        summary += f" (+{len(lines) - 1} more lines)"
    return f"{label} {one_line(name, VALUE_LIMIT) or 'tool'}: {summary}"


class Conversation:
    """Collects one session's messages in order, folding assistant pieces between prompts."""

    def __init__(self) -> None:
        self._messages: list[ImportedMessage] = []
        self._pieces: list[str] = []
        self._reply_time: datetime | None = None

    def user(self, text: str, timestamp: datetime | None) -> None:
        """Add a user prompt (blank text is ignored); closes the assistant reply before it."""
        if not text.strip():
            return
        self._close_reply()
        self._messages.append(ImportedMessage("user", text, timestamp))

    def assistant(self, text: str, timestamp: datetime | None) -> None:
        """Add assistant text to the current reply (blank text is ignored)."""
        if text.strip():
            self._add_piece(text, timestamp)

    def note(self, text: str, timestamp: datetime | None) -> None:
        """Add a one-line tool note to the current reply."""
        self._add_piece(text, timestamp)

    def messages(self) -> tuple[ImportedMessage, ...]:
        """Every message so far, oldest first (the open reply included)."""
        self._close_reply()
        return tuple(self._messages)

    def _add_piece(self, text: str, timestamp: datetime | None) -> None:
        if not self._pieces:
            self._reply_time = timestamp
        self._pieces.append(text)

    def _close_reply(self) -> None:
        if self._pieces:
            content = "\n\n".join(self._pieces)
            self._messages.append(ImportedMessage("assistant", content, self._reply_time))
        self._pieces = []
        self._reply_time = None
