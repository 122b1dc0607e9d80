"""The transcript format: ``conversation.jsonl`` holds one :class:`Message` per line.

Pure parsing, no I/O: the store reads the bytes, this module makes sense of them. A bad line is
skipped and reported, never fatal, whatever goes wrong with it (an unforeseen failure also logs
its traceback, see :mod:`chatcli.logs`); a last line without its line end that is not a
complete message is a torn write.

A turn that failed is recorded by what is missing: the user message has no reply after it
(:func:`unanswered`). No line is ever rewritten, and no new field or marker line is needed, so
transcripts written by any chatcli version read the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from chatcli.records import SlotRecord

if TYPE_CHECKING:
    from chatcli.session.models import Message

__all__ = ["LINE_ENDS", "Transcript", "TranscriptTail", "line_parser", "parse_transcript", "unanswered"]

#: The bytes that end a transcript line: ``\n`` (what chatcli writes), and ``\r`` (alone, or in
#: ``\r\n``) from files edited or copied elsewhere. ``bytes.splitlines`` splits on exactly these.
LINE_ENDS = (b"\n", b"\r")


class Transcript(SlotRecord):
    """Messages read back from a session, and what was wrong with the file, if anything.

    ``skipped_lines`` are 1-based line numbers that could not be parsed and were skipped;
    ``torn_tail`` is True when the last line is incomplete (a crash mid-append: no line end, and
    not a complete message); it is repaired (set aside, never silently dropped) before the next
    append. ``open_end``: the last line is a complete message without its line end (written by
    hand, or a crash between the two): it is read like any other, and gets its end on the next
    save or repair.

    A plain class rather than a dataclass, for start-up time (docs/architecture.md, "Start-up").
    """

    __slots__ = ("messages", "open_end", "skipped_lines", "torn_tail")

    def __init__(
        self,
        messages: list[Message] | None = None,
        skipped_lines: list[int] | None = None,
        torn_tail: bool = False,
        open_end: bool = False,
    ) -> None:
        self.messages: list[Message] = [] if messages is None else messages
        self.skipped_lines: list[int] = [] if skipped_lines is None else skipped_lines
        self.torn_tail = torn_tail
        self.open_end = open_end

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


class TranscriptTail(Transcript):
    """The last messages of a transcript (``messages``, oldest first) and ``total``: how many
    messages the whole transcript holds (its non-blank lines, less those found unreadable).

    Read from the end of the file, so ``skipped_lines`` only covers the part that was read.
    """

    __slots__ = ("total",)

    def __init__(
        self,
        messages: list[Message] | None = None,
        skipped_lines: list[int] | None = None,
        torn_tail: bool = False,
        open_end: bool = False,
        total: int = 0,
    ) -> None:
        super().__init__(messages, skipped_lines, torn_tail, open_end)
        self.total = total


def line_parser() -> Callable[[bytes], Message | None]:
    """A parser of one transcript line; invalid UTF-8 is replaced rather than losing the line, and
    a line that cannot be read for any reason is None (unreadable), never an exception.

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

    def parse_any(raw: bytes) -> Message | None:
        try:
            return parse(raw)
        except Exception as exc:  # any failure on one line makes it an unreadable line, never a crash
            from chatcli.logs import log_exception

            log_exception(exc, "parsing a transcript line")
            return None

    return parse_any


def parse_transcript(data: bytes) -> Transcript:
    """Parse ``conversation.jsonl`` bytes into a :class:`Transcript` (never raises on bad lines).

    ``\n``, ``\r\n`` and a lone ``\r`` all end a line (a file edited elsewhere keeps every
    message; a JSON line never holds a raw CR or LF). A last line without its end is torn only if
    it is not a complete message: a complete one is read, and gets its end on the next save.
    """
    transcript = Transcript()
    if not data:
        return transcript
    parse = line_parser()
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        if not raw.strip():
            transcript.torn_tail = transcript.torn_tail or not raw.endswith(LINE_ENDS)
            continue
        message = parse(raw)
        if message is not None:
            transcript.messages.append(message)
            transcript.open_end = not raw.endswith(LINE_ENDS)
        elif raw.endswith(LINE_ENDS):
            transcript.skipped_lines.append(number)
        else:
            transcript.torn_tail = True
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
