"""Driving the real ``chatcli`` binary in a pseudo-terminal with pexpect: bounded waits that fail with
the screen so far (ANSI sequences stripped), a terminal emulator for what a user sees, keys."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pyte

from chatcli.session.store import FileRepository
from tests.helpers.factories import ago, seed

#: The installed console script; a checkout that was not installed runs the same entry point
#: through the interpreter (``chatcli = "chatcli.__main__:main"`` in pyproject.toml).
_SCRIPT = Path(sys.executable).parent / "chatcli"
CHATCLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "chatcli"]
TIMEOUT = 15.0
PROMPT = "you ›"
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

Spawn = Callable[..., pexpect.spawn]


def screen(child: pexpect.spawn) -> str:
    """What the child printed since the last match, ANSI sequences stripped."""
    before = child.before if isinstance(child.before, str) else ""
    return _ANSI.sub("", before).replace("\r", "")


def expect(child: pexpect.spawn, pattern: object, timeout: float = TIMEOUT) -> None:
    """``child.expect(pattern)``, failing with the stripped screen on a timeout or an early exit."""
    try:
        child.expect(pattern, timeout=timeout)
    except (pexpect.TIMEOUT, pexpect.EOF) as exc:
        kind = "timed out" if isinstance(exc, pexpect.TIMEOUT) else "the program ended"
        raise AssertionError(f"{kind} waiting for {pattern!r}; screen so far:\n{screen(child)}") from None


def finish(child: pexpect.spawn) -> str:
    """Press Ctrl-D at the prompt, wait for the exit and return the last screen (stripped)."""
    child.sendcontrol("d")
    expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, screen(child)
    return screen(child)


def session_ids(sessions_dir: Path) -> list[str]:
    if not sessions_dir.exists():
        return []
    return sorted(p.name for p in sessions_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


# --------------------------------------------------------------------------- issue 12: the everyday loop

ESC = "\x1b"
DOWN = "\x1b[B"


def seed_two(sessions_dir: Path) -> tuple[str, str]:
    """Two named sessions (alpha newer than beta); their ids."""
    repo = FileRepository(sessions_dir)
    alpha = seed(repo, "alpha question", replies=["alpha answer"], when=ago(5), name="alpha-proj")
    beta = seed(repo, "beta question", replies=["beta answer"], when=ago(10), name="beta-proj")
    return alpha.id, beta.id


# --------------------------------------------------------------------------- issue 12: narrow windows


class Terminal(pyte.Screen):
    """What a user sees: a terminal emulator fed with everything the child prints, answering its
    cursor position requests, with a scrollback.

    The scrollback gets the lines that scroll off the top and, like tmux (``scroll-on-clear``)
    and many emulators, the lines of a cleared screen up to its last used one: an erase of the
    whole screen, or an erase from the top-left corner down.
    """

    def __init__(self, child: pexpect.spawn, size: tuple[int, int]) -> None:
        rows, columns = size
        super().__init__(columns, rows)
        self.child = child
        self.stream = pyte.Stream(self)
        self.scrollback: list[str] = []
        child.logfile_read = self

    # pexpect's logfile interface: every string the child printed
    def write(self, data: str) -> None:
        self.stream.feed(data)

    def flush(self) -> None:
        pass

    def write_process_input(self, data: str) -> None:
        self.child.send(data)  # the answer to a cursor position request

    def index(self) -> None:
        if self.cursor.y == self.lines - 1 and not self.margins:
            self.scrollback.append(self.display[0].rstrip())
        super().index()

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        if how == 2 or (how == 0 and (self.cursor.x, self.cursor.y) == (0, 0)):
            used = [line.rstrip() for line in self.display]
            while used and not used[-1]:
                used.pop()
            self.scrollback += used
        super().erase_in_display(how, *args, **kwargs)

    def rows(self) -> list[str]:
        """The screen's lines, trailing blanks removed."""
        return [line.rstrip() for line in self.display]

    def settle(self, done: Callable[[list[str]], bool], what: str) -> list[str]:
        """Read the child's output until ``done(rows)`` holds; the rows."""
        deadline = time.monotonic() + TIMEOUT
        while not done(self.rows()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {what}:\n" + "\n".join(self.rows()))
            self.child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=0.05)
        return self.rows()


def in_terminal(spawn: Spawn, *args: str, size: tuple[int, int]) -> tuple[pexpect.spawn, Terminal]:
    child = spawn(*args, size=size, cpr=True)
    return child, Terminal(child, size)
