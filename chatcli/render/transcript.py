"""The one transcript renderer: ``sessions show``, resume and the Markdown export.

:func:`to_turns` turns stored messages into :class:`Turn` objects (who spoke, when, what they
said, sanitised, and whether the reply was cut short). Two renderers read them, with the same
role labels (:data:`ROLE_LABELS`) and the same header, ``label · time (marks)``:

* :func:`render_transcript` prints turns on a rich console (``sessions show`` and, through
  :func:`render_resumed`, a resumed session in the REPL): the time is an age (``5m ago``), a
  reply is rendered Markdown as when it streamed (on a terminal; elsewhere its source, as
  typed), what a person typed is shown literally, cut after :data:`MESSAGE_PREVIEW_CHARS`;
* :func:`transcript_markdown` writes the whole session as Markdown (``sessions export``): times
  are ``2026-12-02 09:16 UTC``; what a person typed is fenced, so a Markdown viewer shows it
  verbatim (line breaks, ``*``, fences of its own: the fence is longer than any inside), and a
  reply is kept as Markdown unless it would spill into what follows (an unclosed fence), when it
  is fenced too.

Content is cleaned with :func:`chatcli.sanitize.clean` in both: Markdown is for reading (``cat``,
a pager), so control characters are shown as visible marks there too; the JSON export is the
lossless format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.text import Text

from chatcli.render.console import hyperlinks_enabled
from chatcli.render.styles import DIM, ROLE_STYLES, WARNING_STYLE, plural, warning
from chatcli.render.timefmt import iso_minute, relative_age, short_id
from chatcli.sanitize import clean, clean_inline
from chatcli.session.transcript import unanswered

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.outcomes import LoadedSession

__all__ = [
    "MESSAGE_PREVIEW_CHARS",
    "RESUME_SHOWN",
    "ROLE_LABELS",
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
#: Who spoke, on screen and in the export alike.
ROLE_LABELS: Mapping[str, str] = {"user": "You", "assistant": "Assistant", "system": "System"}


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


def to_turns(messages: Sequence[Message], *, limit: int | None = None) -> list[Turn]:
    """``messages`` as turns, labelled from :data:`ROLE_LABELS`; content cut after ``limit`` characters.

    ``messages`` is a whole transcript or its last messages (what is unanswered is read from the end).
    """
    turns = []
    for message, no_reply in zip(messages, unanswered(messages), strict=True):
        content = message.content
        kept = content if limit is None else content[:limit]
        turns.append(
            Turn(
                role=message.role,
                label=ROLE_LABELS.get(message.role) or clean_inline(message.role),
                timestamp=message.timestamp,
                content=clean(kept),
                omitted=len(content) - len(kept),
                interrupted=message.interrupted,
                unanswered=no_reply,
            )
        )
    return turns


# ---------------------------------------------------------------------------------------- screen


def _marks(turn: Turn) -> str:
    """`` (interrupted)`` and `` (not answered)`` as they apply."""
    return (" (interrupted)" if turn.interrupted else "") + (" (not answered)" if turn.unanswered else "")


def _turn_block(turn: Turn, console: Console) -> Group:
    """``label · age (marks)``, then the text (a reply as Markdown on a terminal), then a blank line."""
    header = Text(turn.label, style=ROLE_STYLES.get(turn.role, "bold"))
    header.append(f" · {relative_age(turn.timestamp)}", style=DIM)
    header.append(_marks(turn), style=WARNING_STYLE)
    more = Text(f"… ({turn.omitted} more characters)", style=DIM) if turn.omitted else Text()
    if turn.role == "assistant" and console.is_terminal:
        from chatcli.render.markdown import render_reply_markdown  # rich's Markdown: not for listings

        reply = render_reply_markdown(turn.content, hyperlinks=hyperlinks_enabled(console))
        return Group(header, reply, *([more] if turn.omitted else []), Text())
    body = Text(turn.content)
    body.append_text(more)
    return Group(header, body, Text())


def render_transcript(messages: Sequence[Message], console: Console) -> None:
    """Print messages with role labels (``You``/``Assistant``/``System``) and ages."""
    for turn in to_turns(messages, limit=MESSAGE_PREVIEW_CHARS):
        console.print(_turn_block(turn, console))


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


def _fence(text: str) -> list[str]:
    """``text`` in a fenced block longer than any run of backticks inside it: shown verbatim."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text.removesuffix("\n"), fence]


def _contained(markdown: str) -> bool:
    """Whether ``markdown`` ends where it ends: nothing after it is swallowed into its last block
    (an unclosed code fence, an HTML block, a list that runs on)."""
    from markdown_it import MarkdownIt

    probe = "chatcli-end-of-message"
    tokens = MarkdownIt().enable("strikethrough").enable("table").parse(f"{markdown}\n\n{probe}\n")
    *_, opening, inline, _closing = tokens
    return opening.type == "paragraph_open" and opening.level == 0 and inline.content == probe


def _message_markdown(turn: Turn) -> list[str]:
    """A message's lines in the export: a reply as Markdown (fenced if it would spill over),
    anything else fenced, so it reads exactly as typed."""
    if turn.role == "assistant" and _contained(turn.content):
        return [turn.content]
    return _fence(turn.content)


def transcript_markdown(meta: SessionMetadata, messages: Sequence[Message]) -> str:
    """A readable Markdown transcript of a whole session, with a metadata header."""
    lines = [
        f"# Session {clean(meta.name or meta.id)}",
        "",
        f"- id: `{meta.id}`",
        f"- status: {meta.status.value}",
        f"- created: {iso_minute(meta.created)}",
        f"- last active: {iso_minute(meta.last_active)}",
        f"- messages: {len(messages)}",
        "",
    ]
    for turn in to_turns(messages):
        header = f"**{turn.label}** · {iso_minute(turn.timestamp)}{_marks(turn)}"
        lines += ["---", "", header, "", *_message_markdown(turn), ""]
    return "\n".join(lines)
