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
    from markdown_it.token import Token
    from rich.markdown import Markdown

__all__ = ["ReplyView", "render_reply_markdown"]


def render_reply_markdown(text: str, *, hyperlinks: bool = True) -> Markdown:
    """A model reply as rich ``Markdown``, after :func:`~chatcli.sanitize.clean`.

    Markdown never interprets rich markup, and cleaning first removes every escape sequence the
    reply carried. Links keep rich's default (``hyperlinks=True``): rich itself writes a
    well-formed OSC 8 hyperlink around the link text (only on terminals), with the URL cleaned,
    so no sequence from the reply reaches the terminal. A link whose text is not its target
    (``[https://github.com/login](https://evil.example/)``) is followed by the real target in
    plain text, so what the link reads can never pass for where it leads. Pass
    ``hyperlinks=False`` to print every URL visibly after its link text, without OSC 8.
    """
    from rich.markdown import Markdown  # imported on first use: listings never need it

    markdown = Markdown(clean(text), hyperlinks=hyperlinks)
    if hyperlinks:
        _reveal_link_targets(markdown.parsed)
    return markdown


def _reveal_link_targets(tokens: list[Token]) -> None:
    """After every link whose text differs from its target, add `` (target)`` as plain text."""
    from markdown_it.token import Token

    for block in tokens:
        children = block.children
        if not children:
            continue
        revealed: list[Token] = []
        href = ""
        label: list[str] = []
        for token in children:
            revealed.append(token)
            if token.type == "link_open":
                href, label = str(token.attrs.get("href", "")), []
            elif token.type in ("text", "code_inline"):
                label.append(token.content)
            elif token.type == "link_close" and "".join(label).strip() != href:
                revealed.append(Token("text", "", 0, content=f" ({href})"))
        block.children = revealed


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
