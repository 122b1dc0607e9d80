"""Rendering of conversation messages: resumed history and the live, streaming reply."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from chatcli.render.results import render_reply_markdown
from chatcli.render.sanitize import clean, clean_inline, safe_text
from chatcli.render.timefmt import relative_age
from chatcli.session.outcomes import LoadedSession

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata

__all__ = ["RESUME_SHOWN", "ReplyView", "render_message", "render_resumed", "transcript_markdown"]

#: How many of the last messages are shown when a session is resumed.
RESUME_SHOWN = 6


def render_message(message: Message, console: Console) -> None:
    """One message: a role label, then the text (user text literal, replies as Markdown)."""
    label = "you" if message.role == "user" else message.role
    header = Text(
        f"{label} · {relative_age(message.timestamp)}", style="bold cyan" if label == "you" else "bold"
    )
    if message.interrupted:
        header.append(" (interrupted)", style="yellow")
    console.print(header)
    if message.role == "assistant":
        console.print(render_reply_markdown(message.content))
    else:
        console.print(safe_text(message.content))


def render_resumed(loaded: LoadedSession, console: Console) -> None:
    """The header of a resumed session, its last exchanges and any load warnings."""
    meta = loaded.metadata
    title = clean_inline(meta.name) if meta.name else meta.id[:8]
    shown = loaded.messages[-RESUME_SHOWN:]
    head = Text(f"Resumed session {title} ", style="bold green")
    head.append(
        f"({len(loaded.messages)} messages, last active {relative_age(meta.last_active)})", style="dim"
    )
    console.print(head)
    if len(loaded.messages) > len(shown):
        console.print(Text(f"… {len(loaded.messages) - len(shown)} earlier messages not shown", style="dim"))
    for message in shown:
        render_message(message, console)
    for warning in loaded.warnings:
        console.print(Text("warning: ", style="yellow") + safe_text(warning))


class ReplyView:
    """Shows a reply as it streams: a spinner until the first token, then live Markdown.

    On a terminal it redraws in place (rich ``Live``); elsewhere it prints the final reply once.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.text = ""
        self._live: Live | None = None

    def _renderable(self) -> RenderableType:
        if not self.text:
            return Spinner("dots", text=Text("thinking…", style="dim"))
        return render_reply_markdown(self.text)

    def __enter__(self) -> ReplyView:
        if self.console.is_terminal:
            self._live = Live(
                self._renderable(), console=self.console, refresh_per_second=12, transient=False
            )
            self._live.__enter__()
        return self

    def update(self, text: str) -> None:
        """Show ``text`` (the whole reply so far)."""
        self.text = text
        if self._live is not None:
            self._live.update(self._renderable())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            if not self.text:
                self._live.update(Text(""))
            self._live.__exit__(exc_type, exc, tb)
        elif self.text:
            self.console.print(render_reply_markdown(self.text))


def transcript_markdown(meta: SessionMetadata, messages: Sequence[Message]) -> str:
    """A readable Markdown transcript with a metadata header.

    Markdown is for reading (``cat``, a pager), so control characters in untrusted text are shown
    as visible marks, never written raw; the JSON export is the lossless format.
    """
    title = clean(meta.name or meta.id)
    lines = [
        f"# Session {title}",
        "",
        f"- id: `{meta.id}`",
        f"- status: {meta.status.value}",
        f"- created: {meta.created.isoformat()}",
        f"- last active: {meta.last_active.isoformat()}",
        f"- messages: {len(messages)}",
        "",
    ]
    for message in messages:
        who = message.role.capitalize() + (" (interrupted)" if message.interrupted else "")
        lines += ["---", "", f"**{who}** · {message.timestamp.isoformat()}", "", clean(message.content), ""]
    return "\n".join(lines)
