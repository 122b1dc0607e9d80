"""The transcript format: ``conversation.jsonl`` holds one :class:`Message` per line.

Pure parsing, no I/O: the store reads the bytes, this module makes sense of them. A bad line is
skipped and reported, never fatal; a last line without its newline is a torn write.

A turn that failed is recorded by what is missing: the user message has no reply after it
(:func:`unanswered`). No line is ever rewritten, and no new field or marker line is needed, so
transcripts written by any chatcli version read the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatcli.session.models import Message

__all__ = ["Transcript", "line_parser", "parse_transcript", "unanswered"]


@dataclass(slots=True)
class Transcript:
    """Messages read back from a session, and what was wrong with the file, if anything.

    ``skipped_lines`` are 1-based line numbers that could not be parsed and were skipped;
    ``torn_tail`` is True when the last line is incomplete (a crash mid-append); it is repaired
    (set aside, never silently dropped) before the next append.
    """

    messages: list[Message] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)
    torn_tail: bool = False

    @property
    def warnings(self) -> list[str]:
        """Human-readable notes about skipped or torn lines."""
        notes: list[str] = []
        if self.skipped_lines:
            shown = ", ".join(str(n) for n in self.skipped_lines[:10])
            more = " …" if len(self.skipped_lines) > 10 else ""
            notes.append(f"skipped {len(self.skipped_lines)} unreadable line(s): {shown}{more}")
        if self.torn_tail:
            notes.append(
                "the last line is incomplete (interrupted write); it will be set aside on the next save"
            )
        return notes


def line_parser() -> Callable[[bytes], Message | None]:
    """A parser of one transcript line; invalid UTF-8 is replaced rather than losing the line.

    Made once per file read (it imports the models), then called for every line.
    """
    from pydantic import ValidationError

    from chatcli.session.models import Message

    validate = Message.model_validate_json

    def parse(raw: bytes) -> Message | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            return validate(raw)
        except ValidationError:
            pass
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                return validate(raw.decode("utf-8", "replace"))
            except ValidationError:
                return None
        return None

    return parse


def parse_transcript(data: bytes) -> Transcript:
    """Parse ``conversation.jsonl`` bytes into a :class:`Transcript` (never raises on bad lines)."""
    transcript = Transcript()
    if not data:
        return transcript
    lines = data.split(b"\n")
    last = lines.pop()
    parse = line_parser()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        message = parse(raw)
        if message is None:
            transcript.skipped_lines.append(number)
        else:
            transcript.messages.append(message)
    if last:
        transcript.torn_tail = True
        message = parse(last)
        if message is not None:
            transcript.messages.append(message)
    return transcript


def unanswered(messages: Sequence[Message]) -> list[bool]:
    """For each message, whether it is a user message the model has not answered.

    The transcript is append-only, so a turn that failed (an error, no text, Ctrl-C before the
    first token) is recorded by what is *not* there: no reply with text after the user message.
    Every request carries all user messages since the last reply (see
    :func:`chatcli.chat.context.normalize`), so exactly the user messages after the last
    assistant message with text are unanswered. Files written by any chatcli version read the same.
    """
    last_reply = max(
        (i for i, m in enumerate(messages) if m.role == "assistant" and m.content.strip()), default=-1
    )
    return [m.role == "user" and i > last_reply for i, m in enumerate(messages)]
