"""A model's reply on screen: rich Markdown, and the live view that shows it as it streams."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from chatcli.sanitize import clean

if TYPE_CHECKING:
    from rich.markdown import Markdown

__all__ = ["ReplyView", "render_reply_markdown"]


def render_reply_markdown(text: str, *, hyperlinks: bool = True) -> Markdown:
    """A model reply as rich ``Markdown``, after :func:`~chatcli.sanitize.clean`.

    Markdown never interprets rich markup, and cleaning first removes every escape sequence the
    reply carried. Links keep rich's default (``hyperlinks=True``): rich itself writes a
    well-formed OSC 8 hyperlink around the link text (only on terminals), with the URL cleaned,
    so no sequence from the reply reaches the terminal; pass ``hyperlinks=False`` to print each
    URL visibly after its link text instead.
    """
    from rich.markdown import Markdown  # imported on first use: listings never need it

    return Markdown(clean(text), hyperlinks=hyperlinks)


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
