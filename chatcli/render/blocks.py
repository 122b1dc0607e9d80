"""Where a streaming Markdown reply can be cut: the blocks that are finished, and the live tail.

A reply arrives a few characters at a time. Its Markdown blocks (paragraphs, lists, fenced code,
tables, headings) are rendered together until :func:`finished_prefix` says a leading part of the
text can no longer change: from then on it is printed once, into the scrollback, and only the
rest stays live on screen (:class:`chatcli.render.reply.ReplyView`).

A part is finished when another top-level block has begun after a blank line, and the first
line of that block is settled. The blank line matters: a line that follows a paragraph directly
can still turn out to continue it (``#`` is an empty heading, ``#x`` more of the paragraph),
while nothing after a blank line can reach back into what came before (an unclosed code fence is
one block to the end of the text, so it is never cut). So does the settled line: ``2`` after a
list is a paragraph, ``2. two`` the list's next item. Link reference definitions
(``[1]: https://…``) arriving after the block that uses them are the one thing this misses; model
replies rarely use them.

The text must be :func:`~chatcli.sanitize.clean`: ``\\n`` is then its only line break.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = ["Finished", "finished_prefix", "opens_with_blank"]

#: Blocks that rich renders with a blank line before them even when printed on their own (the
#: blocks inside them ask for it): a list, a quote, a table.
_CONTAINERS = frozenset({"bullet_list_open", "ordered_list_open", "blockquote_open", "table_open"})


@dataclass(frozen=True, slots=True)
class Finished:
    """The first ``length`` characters of a text are finished blocks.

    ``gap``: rendered, they ask for a blank line before the next block (rich puts one after every
    block but a horizontal rule); see :func:`opens_with_blank` for who prints it.
    """

    length: int
    gap: bool


@cache
def _parser() -> MarkdownIt:
    """The parser rich's ``Markdown`` uses, so blocks are cut where rich sees them."""
    from markdown_it import MarkdownIt

    return MarkdownIt().enable("strikethrough").enable("table")


def finished_prefix(text: str) -> Finished | None:
    """How much of ``text`` (cleaned Markdown) is finished blocks; None when none is yet."""
    lines = text.split("\n")
    starts: list[tuple[int, str]] = []  # (first line, token type) of each top-level block
    for token in _parser().parse(text):
        if token.level == 0 and token.nesting >= 0 and token.map is not None:
            starts.append((token.map[0], token.type))
    for index in range(len(starts) - 1, 0, -1):
        line = starts[index][0]
        if not lines[line - 1].strip() and _settled(lines, line):
            return Finished(sum(len(kept) + 1 for kept in lines[:line]), starts[index - 1][1] != "hr")
    return None


def _settled(lines: list[str], line: int) -> bool:
    """Whether the first line of a block is known for what it is: it is complete, or it starts
    with a letter (a paragraph; ``2`` may yet become ``2. item``, a list item)."""
    first = lines[line].lstrip()
    return line < len(lines) - 1 or (first[:1].isalpha() and first[:1].isascii())


def opens_with_blank(text: str) -> bool:
    """Whether ``text`` rendered on its own already starts with the blank line that separates it
    from the blocks before it (it starts with a list, a quote or a table)."""
    for token in _parser().parse(text):
        if token.level == 0 and token.nesting >= 0:
            return token.type in _CONTAINERS
    return False
