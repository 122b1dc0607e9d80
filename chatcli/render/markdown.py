"""A model's reply as rich Markdown: what the live view streams and a resumed transcript shows.

Apart from :mod:`chatcli.render.reply` (the live view, rich's ``Live`` and spinner): resuming a
session shows its replies without loading the live view's modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.render.links import prepare_links
from chatcli.sanitize import clean

if TYPE_CHECKING:
    from rich.markdown import Markdown

__all__ = ["render_reply_markdown"]


def render_reply_markdown(text: str, *, hyperlinks: bool = False) -> Markdown:
    """A model reply as rich ``Markdown``, after :func:`~chatcli.sanitize.clean`.

    Markdown never interprets rich markup, and cleaning first removes every escape sequence the
    reply carried. A link whose text is not its target (``[https://github.com/login](https://evil.example/)``)
    is followed by the real target in plain text, so what the link reads can never pass for where
    it leads. ``hyperlinks=True`` also makes links clickable with OSC 8 (rich writes the
    sequence, around a target made safe by :func:`~chatcli.render.links.safe_link_target`):
    pass :func:`~chatcli.render.console.hyperlinks_enabled` for the console it is printed on.
    """
    from rich.markdown import Markdown  # imported on first use: listings never need it

    # rich's own hyperlinks=False shows every URL, even after a link that is its own URL, and
    # drops the link's style: the links are prepared here instead (no target: no OSC 8).
    markdown = Markdown(clean(text), hyperlinks=True)
    prepare_links(markdown.parsed, osc8=hyperlinks)
    return markdown
