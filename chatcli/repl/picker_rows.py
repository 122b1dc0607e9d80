"""How the session browser looks: one row per session, the snippet under it, the preview lines.

Pure functions of what they are given (no prompt_toolkit application, no disk): every untrusted
text (names, tags, messages, snippets) is shown literally through :func:`~chatcli.sanitize.clean_inline`
and cut to the columns the screen has, wide characters counted two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.utils import get_cwidth

from chatcli.render.timefmt import SHORT_ID_LENGTH, short_id
from chatcli.repl.completion.snapshot import SnapshotEntry
from chatcli.sanitize import clean_inline

if TYPE_CHECKING:
    from chatcli.session.models import Message

__all__ = ["MIN_TITLE", "PIN_MARK", "fit", "preview_lines", "session_row", "snippet_row"]

#: What marks a pinned session's row (after its short id); pinned sessions are listed first.
PIN_MARK = "*"
#: A row's title (name, first message) keeps at least this many columns: the id gives way first,
#: then the age.
MIN_TITLE = 16
_INDENT = "  "
_GAP = "  "
#: What starts the line under a row that shows where the query matched inside a message.
SNIPPET_MARK = "    ↳ "


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns (wide characters count two), with an ellipsis
    when it was cut."""
    if get_cwidth(text) <= width:
        return text
    if width <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for char in text:
        used += get_cwidth(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def session_row(
    entry: SnapshotEntry, width: int, age: str, age_width: int, project: tuple[str, int] | None = None
) -> StyleAndTextTuples:
    """One picker row laid out by priority for a ``width``-column screen (no newline).

    The title always shows: the name (bold) followed by the first message, or the first message
    alone for an unnamed session, cut with an ellipsis, never padded beyond what the screen
    leaves. The age (right-aligned in ``age_width`` columns) comes next and the short id last:
    when the screen is too narrow for all three, the id gives way first, then the age. A pinned
    session is marked with :data:`PIN_MARK` in the margin; tags come before the first message.
    ``project``: the label of the session's project and the columns it is given, shown first.
    """
    room = width - len(_INDENT) - 1  # the last column stays free: a full line may wrap
    column = ""
    if project is not None and room >= MIN_TITLE + project[1] + len(_GAP):
        label = fit(clean_inline(project[0])[::-1], project[1])[::-1]  # the folder's own name shows
        column = label + " " * (project[1] - get_cwidth(label)) + _GAP
        room -= get_cwidth(column)
    age_cost = len(_GAP) + age_width
    show_age = room >= MIN_TITLE + age_cost
    show_id = room >= MIN_TITLE + age_cost + len(_GAP) + SHORT_ID_LENGTH
    title_room = room - (age_cost if show_age else 0) - (len(_GAP) + SHORT_ID_LENGTH if show_id else 0)
    # A first message may be megabytes: fold and clean only what a row can show.
    first = " ".join(entry.first_message[: 4 * width + 64].split())
    if entry.tags:
        first = "[" + ",".join(entry.tags) + "] " + first
    first = clean_inline(first)
    out: StyleAndTextTuples = [("bold", PIN_MARK + " ") if entry.pinned else ("", _INDENT)]
    if column:
        out.append(("class:dim", column))
    used = 0
    if entry.name:
        name = fit(clean_inline(entry.name), title_room)
        out.append(("bold", name))
        used = get_cwidth(name)
        rest = title_room - used - len(_GAP)
        if first and rest >= 4:
            first = fit(first, rest)
            out.append(("", _GAP + first))
            used += len(_GAP) + get_cwidth(first)
    else:
        first = fit(first or "(no messages)", title_room)
        out.append(("", first))
        used = get_cwidth(first)
    tail = " " * (title_room - used)
    if show_age:
        tail += _GAP + age.rjust(age_width)
    if show_id:
        tail += _GAP + short_id(entry.id)
    out.append(("", tail))
    return out


def snippet_row(snippet: str, width: int) -> str:
    """The line under a row showing the matching part of a message (literally, cut to ``width``)."""
    return fit(SNIPPET_MARK + clean_inline(" ".join(snippet.split())), width - 1)


def preview_lines(messages: Sequence[Message], total: int, width: int, rows: int) -> list[str]:
    """The last messages of a session, one line each (newest at the bottom), under a line saying
    how many there are: at most ``rows`` lines for a ``width``-column screen."""
    shown = list(messages)[-(rows - 1) :] if rows > 1 else []
    head = f"  last {len(shown)} of {total} message(s):" if total else "  (no messages)"
    lines = [fit(head, width - 1)]
    for message in shown:
        who = "you" if message.role == "user" else message.role
        text = clean_inline(" ".join(message.content[: 4 * width + 64].split())) or "(empty)"
        lines.append(fit(f"  {who}: {text}", width - 1))
    return lines
