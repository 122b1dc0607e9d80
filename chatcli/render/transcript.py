"""The one transcript renderer: ``sessions show``, resume and the Markdown export.

:func:`to_turns` turns stored messages into :class:`Turn` objects (who spoke, when, what they
said, sanitised, and whether the reply was cut short). Two renderers read them:

* :func:`render_transcript` prints turns on a rich console (``sessions show`` and, through
  :func:`render_resumed`, a resumed session in the REPL): a role label, its age, an
  ``(interrupted)`` mark, then the text, literal and cut after :data:`MESSAGE_PREVIEW_CHARS`;
* :func:`transcript_markdown` writes the whole session as Markdown (``sessions export``).

Content is cleaned with :func:`chatcli.sanitize.clean` in both: Markdown is for reading (``cat``,
a pager), so control characters are shown as visible marks there too; the JSON export is the
lossless format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.text import Text

from chatcli.render.styles import DIM, ROLE_STYLES, WARNING_STYLE, plural, warning
from chatcli.render.timefmt import relative_age, short_id
from chatcli.sanitize import clean, clean_inline
from chatcli.session.transcript import unanswered

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.outcomes import LoadedSession

__all__ = [
    "MARKDOWN_LABELS",
    "MESSAGE_PREVIEW_CHARS",
    "RESUME_SHOWN",
    "SCREEN_LABELS",
    "Turn",
    "render_resumed",
    "render_transcript",
    "to_turns",
    "transcript_markdown",
]

#: On screen, a message is cut after this many characters (the export keeps it whole).
MESSAGE_PREVIEW_CHARS = 1500
#: How many of the last messages are shown when a session is resumed.
RESUME_SHOWN = 6
#: Who spoke, as the screen says it.
SCREEN_LABELS: Mapping[str, str] = {"user": "You", "assistant": "Assistant", "system": "System"}
#: Who spoke, as the Markdown export says it.
MARKDOWN_LABELS: Mapping[str, str] = {"user": "User", "assistant": "Assistant", "system": "System"}


@dataclass(frozen=True, slots=True)
class Turn:
    """One message, ready to show.

    ``label`` says who spoke; ``content`` is the cleaned text (its first characters when the
    message was cut, ``omitted`` counting the rest); ``interrupted`` marks a reply cut short,
    ``unanswered`` a user message the model has not answered (its turn failed).
    """

    role: str
    label: str
    timestamp: datetime
    content: str
    omitted: int
    interrupted: bool
    unanswered: bool = False


def to_turns(
    messages: Sequence[Message], *, labels: Mapping[str, str], limit: int | None = None
) -> list[Turn]:
    """``messages`` as turns, labelled from ``labels``; content cut after ``limit`` characters.

    ``messages`` is a whole transcript or its last messages (what is unanswered is read from the end).
    """
    turns = []
    for message, no_reply in zip(messages, unanswered(messages), strict=True):
        content = message.content
        kept = content if limit is None else content[:limit]
        turns.append(
            Turn(
                role=message.role,
                label=labels.get(message.role) or clean_inline(message.role),
                timestamp=message.timestamp,
                content=clean(kept),
                omitted=len(content) - len(kept),
                interrupted=message.interrupted,
                unanswered=no_reply,
            )
        )
    return turns


# ---------------------------------------------------------------------------------------- screen


def _turn_block(turn: Turn) -> Group:
    """A role label with its age (and ``(interrupted)``), then the text, then a blank line."""
    header = Text(turn.label, style=ROLE_STYLES.get(turn.role, "bold"))
    header.append(f"  {relative_age(turn.timestamp)}", style=DIM)
    if turn.interrupted:
        header.append("  (interrupted)", style=WARNING_STYLE)
    if turn.unanswered:
        header.append("  (not answered)", style=WARNING_STYLE)
    body = Text(turn.content)
    if turn.omitted:
        body.append(f"… ({turn.omitted} more characters)", style=DIM)
    return Group(header, body, Text())


def render_transcript(messages: Sequence[Message], console: Console) -> None:
    """Print messages with role labels (``You``/``Assistant``/``System``) and ages."""
    for turn in to_turns(messages, labels=SCREEN_LABELS, limit=MESSAGE_PREVIEW_CHARS):
        console.print(_turn_block(turn))


def render_resumed(loaded: LoadedSession, console: Console) -> None:
    """The header of a resumed session, its last :data:`RESUME_SHOWN` messages and any warnings."""
    meta = loaded.metadata
    title = clean_inline(meta.name) if meta.name else short_id(meta.id)
    total = len(loaded.messages)
    shown = loaded.messages[-RESUME_SHOWN:]
    head = Text(f"Resumed session {title} ", style="bold green")
    head.append(f"({plural(total, 'message')}, last active {relative_age(meta.last_active)})", style=DIM)
    console.print(head)
    if total > len(shown):
        console.print(Text(f"… {total - len(shown)} earlier messages not shown", style=DIM))
    render_transcript(shown, console)
    if shown and unanswered(shown)[-1]:
        console.print(Text("The last message has no reply: /retry sends it again.", style=DIM))
    for text in loaded.warnings:
        console.print(warning(text))


# ---------------------------------------------------------------------------------------- markdown


def transcript_markdown(meta: SessionMetadata, messages: Sequence[Message]) -> str:
    """A readable Markdown transcript of a whole session, with a metadata header."""
    lines = [
        f"# Session {clean(meta.name or meta.id)}",
        "",
        f"- id: `{meta.id}`",
        f"- status: {meta.status.value}",
        f"- created: {meta.created.isoformat()}",
        f"- last active: {meta.last_active.isoformat()}",
        f"- messages: {len(messages)}",
        "",
    ]
    for turn in to_turns(messages, labels=MARKDOWN_LABELS):
        who = turn.label + (" (interrupted)" if turn.interrupted else "")
        who += " (not answered)" if turn.unanswered else ""
        lines += ["---", "", f"**{who}** · {turn.timestamp.isoformat()}", "", turn.content, ""]
    return "\n".join(lines)
