"""Plain output without rich: the few results that are a line or two of plain text, written
straight to a pipe or a file exactly as the rich console of :mod:`chatcli.render.console` would
write them, so that ``chatcli sessions search WORD | …`` with nothing found never loads rich.

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
from typing import IO

from chatcli.sanitize import clean_inline, shorten
from chatcli.session.outcomes import SearchResult

__all__ = ["PLAIN_WIDTH", "is_terminal", "no_match_line", "plain_width", "quoted", "write_plain"]

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


def _lines(result: object) -> list[str] | None:
    """The lines of ``result`` when it is one this module writes (else None)."""
    if isinstance(result, SearchResult) and not result.sessions and not result.warnings:
        return [*([result.notice] if result.notice else []), no_match_line(result)]
    return None


def write_plain(result: object, stream: IO[str], env: Mapping[str, str] | None = None) -> bool:
    """Write ``result`` to ``stream`` as the plain console would, if it is a pipe or a file and the
    result's lines are ones rich would print unchanged; False (nothing written) otherwise."""
    environ = os.environ if env is None else env
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError, OSError):
        tty = False
    lines = _lines(result)
    if lines is None or tty or is_terminal(tty, environ):
        return False
    width = plain_width(environ)
    if not all(line.isascii() and line.isprintable() and len(line) <= width for line in lines):
        return False
    stream.write("".join(line.rstrip() + "\n" for line in lines))
    return True
