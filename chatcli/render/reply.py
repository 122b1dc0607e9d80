"""A model's reply on screen: the live view that shows it as it streams (as the rich Markdown of
:func:`chatcli.render.markdown.render_reply_markdown`, re-exported here)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

from chatcli.render.blocks import finished_prefix, opens_with_blank
from chatcli.render.console import hyperlinks_enabled
from chatcli.render.markdown import render_reply_markdown
from chatcli.sanitize import clean

__all__ = ["ReplyView", "render_reply_markdown"]

#: Rows of the terminal the live tail leaves free (the line the cursor rests on, and one spare).
_SPARE_ROWS = 2


class _Tail:
    """The live part of a streaming reply: the unfinished blocks, cut to the rows that fit.

    Rendered by rich's refresh thread whenever it draws, from the view's current tail.
    """

    def __init__(self, view: ReplyView) -> None:
        self.view = view

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        tail = self.view.tail
        if not tail:
            yield Spinner("dots", text=Text("thinking…", style="dim"))
            return
        markdown = render_reply_markdown(tail, hyperlinks=hyperlinks_enabled(console))
        lines = console.render_lines(markdown, options.update(height=None), pad=False)
        room = max(1, console.size.height - _SPARE_ROWS)
        if len(lines) > room:
            hidden = len(lines) - room + 1
            lines = [
                [
                    Segment(
                        f"… ({hidden} more lines above, shown when the block ends)", console.get_style("dim")
                    )
                ],
                *lines[-room + 1 :],
            ]
        for index, line in enumerate(lines):
            if index:
                yield Segment.line()
            yield from line


class ReplyView:
    """Shows a reply as it streams: a spinner until the first token, then live Markdown.

    On a terminal, finished blocks (:func:`~chatcli.render.blocks.finished_prefix`) are printed
    once into the scrollback as they complete, and only the unfinished tail is redrawn in place
    (rich ``Live``), cut to its last rows when taller than the terminal: the newest text is always
    on screen. Elsewhere the final reply is printed once.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.text = ""
        #: The raw text not yet printed for good (the end of :attr:`text`).
        self._pending = ""
        #: The cleaned :attr:`_pending`: what the live region shows.
        self.tail = ""
        #: The blocks printed so far ask for a blank line before the next one.
        self._gap = False
        self._live: Live | None = None

    def __enter__(self) -> ReplyView:
        if self.console.is_terminal:
            self._live = Live(
                _Tail(self),
                console=self.console,
                refresh_per_second=12,
                transient=True,
                vertical_overflow="crop",
            )
            self._live.__enter__()
        return self

    def update(self, text: str) -> None:
        """Show ``text`` (the whole reply so far, which only ever grows)."""
        self.append(text[len(self.text) :])

    def append(self, added: str) -> None:
        """Show the reply so far with ``added`` (the next chunk) at its end."""
        self.text += added
        self._pending += added
        self.tail = clean(self._pending)
        if self._live is not None and "\n" in added:
            self._commit()

    def _commit(self) -> None:
        """Print the finished blocks of the tail above the live region, for good."""
        done = finished_prefix(self.tail)
        if done is None or self._live is None:
            return
        lines = self.tail[: done.length].count("\n")
        cut = 0
        for _ in range(lines):  # the same lines of the raw text: clean() keeps every "\n"
            cut = self._pending.index("\n", cut) + 1
        self._print(self.tail[: done.length])
        self._gap = done.gap
        self._pending = self._pending[cut:]
        self.tail = clean(self._pending)

    def _print(self, cleaned: str) -> None:
        """Print blocks for good, after the blank line the blocks before them ask for: the reply
        then looks the same as if it had been printed at once."""
        if self._gap and not opens_with_blank(cleaned):
            self.console.print()
        self.console.print(render_reply_markdown(cleaned, hyperlinks=hyperlinks_enabled(self.console)))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            if self.tail:
                self._print(self.tail)
        elif self.text:
            self._print(clean(self.text))
