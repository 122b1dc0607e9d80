"""Rendering results for the renderer tests: consoles (plain and terminal), hostile sessions and
search hits, and the check that hostile text reached the screen inert."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

from rich.console import Console

from chatcli.render.terminal import render
from chatcli.session.models import SessionMetadata, new_session_id, utc_now
from chatcli.session.outcomes import (
    SearchHit,
    SessionMatches,
)

SGR = re.compile(r"\x1b\[[0-9;]*m")
#: Never on screen: control characters other than newline (tab only inside message content).
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

HOSTILE_NAME_PARTS = [
    "[bold red]x[/]",
    "[link=https://evil]x[/link]",
    "\x1b[2J",
    "\x1b]52;c;aGk=\x07",
    "\x1b]8;;http://x\x1b\\t\x1b]8;;\x1b\\",
    "\x9b2J",
    "nul\x00",
    "safe\rEVIL",
    "rtl\u202eevil",
]
HOSTILE = " ".join(HOSTILE_NAME_PARTS)
VISIBLE = ["[bold red]x[/]", "[link=https://evil]x[/link]", "␛[2J", "␛]52;c;aGk=␇", "\\x9b2J", "safe␍EVIL"]


def listed_meta(
    first: str = "How do I fix the login bug?",
    *,
    name: str | None = None,
    messages: int = 3,
    age: timedelta = timedelta(minutes=5),
    archived: bool = False,
) -> SessionMetadata:
    meta = SessionMetadata.new(new_session_id(), first)
    meta.message_count = messages
    meta.last_active = utc_now() - age
    if name is not None:
        meta.set_name(name)
    if archived:
        meta.archive()
    return meta


def hostile_meta() -> SessionMetadata:
    """Metadata whose name bypasses validation (as a hand-edited file could)."""
    meta = listed_meta(HOSTILE)
    return meta.model_copy(update={"name": HOSTILE})


def plain_console(width: int = 100) -> tuple[Console, StringIO]:
    buf = StringIO()
    return Console(file=buf, force_terminal=False, width=width, color_system=None), buf


def terminal_console(width: int = 160) -> tuple[Console, StringIO]:
    buf = StringIO()
    return Console(file=buf, force_terminal=True, color_system="truecolor", width=width), buf


def render_plain(result: object, width: int = 100) -> str:
    console, buf = plain_console(width)
    render(result, console)
    return buf.getvalue()


def render_terminal(result: object, width: int = 160) -> str:
    console, buf = terminal_console(width)
    render(result, console)
    return buf.getvalue()


def assert_inert(output: str, *, bidi_allowed: bool = False) -> str:
    """Assert no escape sequence other than rich's SGR styling; return the text without SGR.

    Bidi controls may only appear inside message content (``bidi_allowed``), never in names,
    ids, table cells or error messages.
    """
    stripped = SGR.sub("", output)
    assert "\x1b" not in stripped, repr(stripped)
    assert FORBIDDEN.search(stripped) is None, repr(stripped)
    if not bidi_allowed:
        assert BIDI.search(stripped) is None, repr(stripped)
    return stripped


def squash(text: str) -> str:
    """Output with table borders and whitespace removed, for content checks across cells."""
    return re.sub(r"[\s|│]+", " ", text)


# ------------------------------------------------------------------------------------ search


def make_hit(snippet: str, *, name: str | None = "fix-login", role: str = "user") -> SearchHit:
    return SearchHit(new_session_id(), name, role, utc_now() - timedelta(hours=3), snippet, 4)


def found(hit: SearchHit, count: int = 1) -> SessionMatches:
    """A session's matches with ``hit`` as its best (and only listed) hit."""
    return SessionMatches(hit.session_id, hit.session_name, hit.timestamp, count, hit, [hit], float(-count))
