"""The rich consoles chatcli prints through, configured once from the environment.

``make_console`` decides between two kinds of output:

* **terminal**: the stream is a TTY (or ``FORCE_COLOR`` is set, or ``force_plain=False``):
  colours, rounded boxes, the terminal's own width;
* **plain**: the stream is a pipe or a file, ``TERM`` is ``dumb``, or ``force_plain=True``:
  no escape sequences at all, no box drawing (tables are aligned columns, errors one
  ``error: …`` line plus hints), and a fixed width (``COLUMNS`` or 100) when the output is not a
  terminal, so piped output does not depend on the window it was run in.

Either way no line ends in blanks (rich pads table cells and keeps the space where it wraps), and a
reader that closes the pipe early raises :class:`BrokenPipeError` for the front end to end quietly.

``NO_COLOR`` set to any non-empty value (https://no-color.org) turns every style off, so a
terminal console then writes no escape sequences either. The colour depth comes from
``COLORTERM``/``TERM`` in the environment given. Rich's automatic highlighting and emoji codes are
off: all styling is explicit in the renderers (:mod:`chatcli.render.terminal` and its helpers).
A terminal console writes OSC 8 hyperlinks only where :func:`chatcli.render.links.osc8_supported`
says the terminal is known to show them (:func:`hyperlinks_enabled`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import IO, Literal

from rich import box
from rich.console import Console
from rich.segment import Segment

from chatcli.render.links import osc8_supported
from chatcli.render.plain import PLAIN_WIDTH, is_terminal, plain_width

__all__ = ["PLAIN_WIDTH", "hyperlinks_enabled", "is_plain", "make_console", "table_box"]

ColourSystem = Literal["auto", "standard", "256", "truecolor"]


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _colour_system(env: Mapping[str, str]) -> ColourSystem:
    """The colour depth the terminal announces (``COLORTERM``, ``TERM``), from ``env`` only."""
    if sys.platform == "win32":
        return "auto"
    if env.get("COLORTERM", "").strip().lower() in {"truecolor", "24bit"}:
        return "truecolor"
    if env.get("TERM", "").strip().lower().endswith("256color"):
        return "256"
    return "standard"


#: Blanks (and colour codes among them) at the end of a line.
_TRAILING_BLANKS = re.compile(r"(?:[ \t]|\x1b\[[0-9;]*m)+(?=\n)")
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _strip_trailing_blanks(text: str) -> str:
    """``text`` with the blanks before each newline removed (the colour codes there kept)."""
    return _TRAILING_BLANKS.sub(lambda match: "".join(_SGR.findall(match.group())), text)


class _Console(Console):
    """A rich console whose lines never end in blanks, and that reports a closed pipe as
    :class:`BrokenPipeError` (rich's default is to exit with status 1): the front ends treat a
    reader that went away as a normal end. ``hyperlinks``: the terminal shows OSC 8 links."""

    hyperlinks = False

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return _strip_trailing_blanks(super()._render_buffer(buffer))

    def on_broken_pipe(self) -> None:
        """Stop writing and let the caller end quietly."""
        self.quiet = True
        raise BrokenPipeError


def make_console(
    *,
    stderr: bool = False,
    force_plain: bool | None = None,
    file: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Console:
    """A console for stdout (or stderr, or ``file``) configured for where it writes.

    ``force_plain``: ``True`` always writes plain text, ``False`` always writes terminal output
    (e.g. ``--color=always``), ``None`` decides from the stream and the environment (``env``,
    default ``os.environ``): ``NO_COLOR``, ``FORCE_COLOR``, ``TERM=dumb`` and ``COLUMNS``.
    """
    environ = os.environ if env is None else env
    stream: IO[str] = file if file is not None else (sys.stderr if stderr else sys.stdout)
    tty = _isatty(stream)
    terminal = is_terminal(tty, environ) if force_plain is None else not force_plain
    colour = terminal and environ.get("NO_COLOR", "") == ""
    width = None if tty else plain_width(environ)
    console = _Console(
        file=file,
        stderr=stderr,
        force_terminal=terminal,
        force_interactive=terminal and tty,
        color_system=_colour_system(environ) if colour else None,
        no_color=not colour,
        width=width,
        markup=True,
        emoji=False,
        highlight=False,
        soft_wrap=False,
    )
    console.hyperlinks = colour and tty and osc8_supported(environ)
    return console


def hyperlinks_enabled(console: Console) -> bool:
    """True when ``console`` writes to a terminal known to show OSC 8 hyperlinks."""
    return isinstance(console, _Console) and console.hyperlinks and console.is_terminal


def is_plain(console: Console) -> bool:
    """True when ``console`` is not a terminal: a pipe, a file, ``TERM=dumb`` or plain mode."""
    return not console.is_terminal


def table_box(console: Console) -> box.Box | None:
    """The table border for ``console``: a light header rule on terminals, none otherwise (plain
    output is aligned columns; pair it with ``pad_edge=not is_plain(console)``)."""
    return None if is_plain(console) else box.SIMPLE_HEAD
