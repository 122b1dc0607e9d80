"""The styles and the small ``rich.text.Text`` builders every terminal renderer shares.

Every builder cleans what it is given (:mod:`chatcli.sanitize`) before it becomes a ``Text``, so
untrusted strings are shown literally: never read as rich markup, never sent as escape sequences.
"""

from __future__ import annotations

from rich.text import Text

from chatcli.render.plain import plural, quoted
from chatcli.render.timefmt import short_id
from chatcli.sanitize import clean_inline, clean_lines
from chatcli.session.fields import SessionView

__all__ = [
    "DIM",
    "MATCH_STYLE",
    "NARROW_WIDTH",
    "OK_STYLE",
    "ROLE_STYLES",
    "TINY_WIDTH",
    "WARNING_STYLE",
    "heading",
    "one_line",
    "plural",
    "quoted",
    "session_label",
    "warning",
]

#: Below this console width tables drop their least useful columns.
NARROW_WIDTH = 80
#: Below this width they drop a few more.
TINY_WIDTH = 60

ROLE_STYLES = {"user": "bold cyan", "assistant": "bold green", "system": "bold magenta"}
MATCH_STYLE = "bold reverse"
WARNING_STYLE = "yellow"
OK_STYLE = "green"
DIM = "dim"


def one_line(text: str) -> str:
    """``text`` with whitespace runs folded to single spaces, cleaned for a table cell."""
    return clean_inline(" ".join(text.split()))


def session_label(meta: SessionView) -> Text:
    """``1a2b3c4d (fix-login)``: the short id plus the name when there is one."""
    text = Text(short_id(meta.id), style="bold")
    if meta.name:
        text.append(" (")
        text.append(clean_inline(meta.name), style="cyan")
        text.append(")")
    return text


def warning(message: str) -> Text:
    """``Warning: …`` in the warning style, the message cleaned."""
    text = Text("Warning: ", style=f"bold {WARNING_STYLE}")
    text.append(clean_lines(message), style=WARNING_STYLE)
    return text


def heading(text: str) -> Text:
    """A bold line above a table (a table title would wrap at the table's width)."""
    return Text(text, style="bold")
