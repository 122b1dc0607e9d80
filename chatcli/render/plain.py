"""Plain output without rich: the few results that are a line or two of plain text, written
straight to a pipe or a file exactly as the rich console of :mod:`chatcli.render.console` would
write them, so that ``chatcli sessions search WORD | …`` with nothing found never loads rich.

A search's sessions are written here too when piped: one line per session (its best match cut
to the width with ``…``, never wrapped onto lines of its own, so that ``grep`` and ``head`` see
whole rows), with the columns of the terminal's table.

Exactness is kept by construction. This module also holds what both paths share: whether a
stream gets terminal output (:func:`is_terminal`), the width of plain output
(:func:`plain_width`) and the words of the lines (:func:`no_match_line`). And a line is written
here only when rich would print it unchanged: printable ASCII (one cell a character, nothing to
escape) no wider than the width (nothing to wrap). Anything else returns False, and the caller
renders with rich.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

from chatcli.render.timefmt import relative_age, short_id
from chatcli.sanitize import clean_inline, shorten
from chatcli.session.outcomes import SearchResult

if TYPE_CHECKING:
    from chatcli.session.all_projects import ProjectsSearchResult

__all__ = [
    "PLAIN_WIDTH",
    "is_terminal",
    "no_match_line",
    "plain_width",
    "plural",
    "quoted",
    "search_rows",
    "write_plain",
]

#: Width of plain output written to a pipe or a file when ``COLUMNS`` does not say otherwise.
PLAIN_WIDTH = 100


def is_terminal(tty: bool, env: Mapping[str, str]) -> bool:
    """Whether a stream gets terminal output (colours, boxes): a TTY, or ``FORCE_COLOR`` set; never
    with ``TERM`` dumb or unknown."""
    dumb = env.get("TERM", "").lower() in {"dumb", "unknown"}
    return (tty or env.get("FORCE_COLOR", "") != "") and not dumb


def plain_width(env: Mapping[str, str]) -> int:
    """The width of plain output that is not a terminal: ``COLUMNS``, else :data:`PLAIN_WIDTH`."""
    try:
        value = int(env.get("COLUMNS", ""))
    except ValueError:
        return PLAIN_WIDTH
    return value if value > 0 else PLAIN_WIDTH


def quoted(text: str, limit: int = 60) -> str:
    """``'text'``, cleaned for one line and cut to ``limit`` characters."""
    return f"'{clean_inline(shorten(text, limit))}'"


def no_match_line(result: SearchResult) -> str:
    """What a search that found nothing says."""
    return f"No messages match {quoted(result.query)} ({result.sessions_searched:,} searched)."


def _lines(result: object, width: int) -> list[str] | None:
    """The lines of ``result`` when it is one this module writes (else None)."""
    if not isinstance(result, SearchResult) or result.warnings:
        return None
    notice = [result.notice] if result.notice else []
    if not result.sessions:
        return [*notice, no_match_line(result)]
    if result.every_hit:
        return None
    rows = search_rows(result, width)
    return None if rows is None else [*notice, *rows]


def search_title(result: SearchResult | ProjectsSearchResult, searched: str) -> str:
    """The line above a search's results: its hits and sessions, or, when there were too many
    to count, that there were more than so many (and which sessions are shown)."""
    query, shown = quoted(result.query, 40), len(result.sessions)
    if not result.counted:
        more = f"More than {result.total_hits - 1:,} matches"
        return f"{more} for {query}; {searched} (showing the newest {shown})"
    matches = f"{result.total_hits:,} match{'' if result.total_hits == 1 else 'es'}"
    title = f"{matches} for {query} in {plural(result.sessions_matched, 'session')}; {searched}"
    return title + (f" (showing {shown})" if result.truncated else "")


def search_footer(counted: bool) -> str:
    """The hint under results the limit cut (or that were too many to count)."""
    if counted:
        return "(more sessions match: use --limit N)"
    return "(too many matches to count: add words to narrow the search, or use --limit N)"


def plural(count: int, word: str) -> str:
    """``1 session``, ``2 sessions``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _one_cell(ch: str) -> bool:
    """Printable ASCII, ``…`` and the control pictures (``␛``) that cleaned text shows controls as."""
    return (ch.isascii() and ch.isprintable()) or ch == "…" or "\u2400" <= ch <= "\u243f"


def _cells(text: str) -> int | None:
    """The width of ``text`` in cells when every character takes one (see :func:`_one_cell`)."""
    if text.isascii():
        return len(text) if text.isprintable() else None
    return len(text) if all(_one_cell(ch) for ch in text) else None


def search_rows(result: SearchResult, width: int) -> list[str] | None:
    """A search's heading, one line per session (``Session  Hits  Active  Best match``) and the
    hint when sessions were left out; None when a cell holds a character wider or narrower than
    one cell (rich lays those out) or the width leaves no room for the match."""
    searched = f"{result.sessions_searched:,} searched"
    rows = [("Session", "Hits", "Active", "Best match")]
    for found in result.sessions:
        hit = found.best
        who = short_id(hit.session_id) + (" " + clean_inline(hit.session_name) if hit.session_name else "")
        snippet = clean_inline(" ".join(hit.snippet.split()))
        rows.append((shorten(who, 30), str(found.hit_count), relative_age(found.last_active), snippet))
    if any(_cells(cell) is None for row in rows for cell in row):
        return None
    widths = [max(len(row[col]) for row in rows) for col in range(3)]
    room = width - sum(widths) - 2 * 3
    if room < 20:
        return None
    lines = [search_title(result, searched)]
    for number, (who, hits, age, match) in enumerate(rows):
        cut = match if number == 0 else _around_match(match, result.query, room)
        count = hits.rjust(widths[1]) if number else hits.ljust(widths[1])
        lines.append(f"{who.ljust(widths[0])}  {count}  {age.ljust(widths[2])}  {cut}".rstrip())
    if result.truncated:
        lines.append(search_footer(result.counted))
    return lines


def _around_match(snippet: str, query: str, room: int) -> str:
    """``snippet`` cut to ``room`` characters around the first word of ``query`` it holds (a
    snippet is centred on its match: cutting its end would cut the match), ``…`` at each cut."""
    if len(snippet) <= room:
        return snippet
    lowered = snippet.lower()
    words = [w.strip('"*').lower() for w in query.replace('"', " ").split()]
    found = [at for at in (lowered.find(w) for w in words if w) if at >= 0]
    start = max(0, min(min(found, default=0) - room // 3, len(snippet) - room + 1))
    body = snippet[start : start + room - (start > 0) - 1]
    if start + len(body) + (start > 0) >= len(snippet):  # the end is reached: no cut there
        body = snippet[start : start + room - (start > 0)]
        return ("…" if start > 0 else "") + body
    return ("…" if start > 0 else "") + body + "…"


def write_plain(result: object, stream: IO[str], env: Mapping[str, str] | None = None) -> bool:
    """Write ``result`` to ``stream`` as the plain console would, if it is a pipe or a file and the
    result's lines are ones rich would print unchanged; False (nothing written) otherwise."""
    environ = os.environ if env is None else env
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError, OSError):
        tty = False
    if tty or is_terminal(tty, environ):
        return False
    width = plain_width(environ)
    lines = _lines(result, width)
    if lines is None or not all(_cells(line) is not None and len(line) <= width for line in lines):
        return False
    stream.write("".join(line.rstrip() + "\n" for line in lines))
    return True
