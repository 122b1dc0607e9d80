"""Keys typed while a reply streams: kept for the next prompt, never echoed over the reply.

Between prompts the terminal is in its ordinary (cooked) mode, which echoes every key where the
cursor is: in the middle of the live reply, whose redraw then leaves the echoed line behind as a
stale copy in the scrollback. :func:`quiet_typing` turns the echo off for the length of a reply.
The keys stay in the terminal's input queue (the mode is changed without flushing it), so what
was typed appears at the next prompt; Ctrl-C still interrupts (signals are left on).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import IO

__all__ = ["quiet_typing"]


@contextlib.contextmanager
def quiet_typing(stream: IO[str] | None = None) -> Iterator[None]:
    """While inside: the terminal on ``stream`` (default stdin) does not echo keys.

    Does nothing when ``stream`` is not a terminal, or where there is no ``termios`` (Windows).
    """
    try:
        import termios
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    source = sys.stdin if stream is None else stream
    try:
        fd = source.fileno()
        saved = termios.tcgetattr(fd)
    except (AttributeError, ValueError, OSError, termios.error):
        yield  # not a terminal (a pipe, a closed or replaced stdin): nothing echoes
        return
    quiet = list(saved)
    quiet[3] = saved[3] & ~(termios.ECHO | termios.ECHONL)
    try:
        termios.tcsetattr(fd, termios.TCSANOW, quiet)  # TCSANOW: the keys typed ahead are kept
    except termios.error:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
