"""Build an imported conversation: user prompts, and assistant replies with tool notes folded in.

Tools record a turn as several pieces: the assistant's text, its tool calls, the results (which
some tools store as *user* messages). :class:`Conversation` folds everything between two user
prompts into one assistant message, so a tool result is never counted as a prompt. Tool calls and
results become one short note each (:func:`call_note`, :func:`result_note`): the tool's name and
a one-line summary of its arguments or output (:func:`summarize`), never a JSON dump. The notes
have the shape every importer writes: ``[tool Bash: command: pytest -q]``, ``[Bash result: …]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from chatcli.importers.base import ImportedMessage
from chatcli.importers.common import TELLING_KEYS

__all__ = [
    "RECORD_ERRORS",
    "Conversation",
    "call_note",
    "one_line",
    "result_note",
    "summarize",
]

#: What reading one record of unexpected shape can raise; a reader reports the record and goes on.
RECORD_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError)

#: Longest summary of a tool's arguments or result, in characters.
NOTE_LIMIT = 120
#: Longest tool name shown in a note.
VALUE_LIMIT = 60


def one_line(text: str, limit: int = NOTE_LIMIT) -> str:
    """``text`` on one line (whitespace runs collapsed) and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _scalar(value: object) -> str:
    """A string, a number or a list of them (a command's words) as text; "" for anything else."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value[:50]):
        return " ".join(str(v) for v in value[:50])
    return ""


def summarize(value: object) -> str:
    """A one-line summary of a tool call's arguments or result: its telling field, never a dump.

    JSON text is parsed first; an object shows its first telling field (``command: make``) or
    else the names of its first keys; a list shows the text of its items.
    """
    if isinstance(value, str):
        if value.lstrip()[:1] in ("{", "["):
            try:
                return summarize(json.loads(value))
            except (ValueError, RecursionError):
                pass
        return one_line(value)
    if isinstance(value, Mapping):
        for key in TELLING_KEYS:
            shown = _scalar(value.get(key))
            if shown:
                return one_line(f"{key}: {shown}")
        keys = [str(key) for key in list(value)[:4]]
        return one_line("with " + ", ".join(keys)) if keys else ""
    if isinstance(value, list):
        texts = [_text(item) for item in value[:20]]
        shown = " ".join(text for text in texts if text)
        return one_line(shown) if shown else f"{len(value)} items"
    return "" if value is None else one_line(str(value))


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    text = value.get("text") if isinstance(value, Mapping) else None
    return text if isinstance(text, str) else ""


def _label(name: str) -> str:
    return one_line(name, VALUE_LIMIT) or "tool"


def call_note(name: str, arguments: object) -> str:
    """``[tool NAME: summary of its arguments]`` (the notes every importer writes)."""
    summary = summarize(arguments)
    return f"[tool {_label(name)}: {summary}]" if summary else f"[tool {_label(name)}]"


def result_note(name: str, output: object, *, failed: bool = False) -> str:
    """``[NAME result: summary of the output]``, or ``[NAME failed: the error]``."""
    label = f"{_label(name)} {'failed' if failed else 'result'}"
    summary = summarize(output)
    return f"[{label}: {summary}]" if summary else f"[{label}]"


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
        if self._reply_time is None:
            self._reply_time = timestamp  # the reply's time: that of its first dated piece
        self._pieces.append(text)

    def _close_reply(self) -> None:
        if self._pieces:
            content = "\n\n".join(self._pieces)
            self._messages.append(ImportedMessage("assistant", content, self._reply_time))
        self._pieces = []
        self._reply_time = None
