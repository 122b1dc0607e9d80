"""Measurements in a pseudo-terminal (pexpect): ``chatcli --resume ID`` to its first prompt and
``chatcli --resume`` to the session browser's first paint. Cursor-position requests are answered
as a real terminal would."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from benchkit.common import CPR_REQUEST, PROMPT, BenchError, tail
from benchkit.results import Stats
from benchkit.workspace import Workspace


def pexpect_available() -> bool:
    """Whether pexpect (the ``test`` extra) is installed: without it nothing here is measured."""
    return importlib.util.find_spec("pexpect") is not None


def _pty_env(work: Workspace) -> dict[str, str]:
    """The measured environment, in a terminal whose size the pty gives (no ``COLUMNS``)."""
    env = work.env(TERM="xterm-256color")
    env.pop("COLUMNS", None)
    return env


def measure_resume_pty(work: Workspace, store: Path, session_id: str, runs: int) -> Stats:
    """``chatcli --resume ID`` in a pseudo-terminal, from spawn to its first prompt."""
    import pexpect  # type: ignore[import-untyped]

    env = _pty_env(work)
    args = ["--sessions-dir", str(store), "--resume", session_id]
    times: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        child = pexpect.spawn(
            str(work.chatcli), args, env=env, cwd=str(work.root), dimensions=(40, 100), timeout=work.timeout
        )
        child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default
        try:
            while True:
                # Answer the cursor-position request as a real terminal would.
                index = child.expect_exact([CPR_REQUEST, PROMPT])
                if index == 1:
                    break
                child.send(b"\x1b[1;1R")
            elapsed = (time.perf_counter() - start) * 1000.0
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            seen = (child.before or b"").decode("utf-8", "replace")
            raise BenchError(
                f"chatcli --resume did not reach its prompt ({type(exc).__name__}):\n{tail(seen)}"
            ) from exc
        finally:
            child.close(force=True)
        if i > 0:
            times.append(elapsed)
    return Stats(tuple(times))


def measure_browser_pty(work: Workspace, store: Path, runs: int) -> Stats:
    """``chatcli --resume`` (no ID) in a pseudo-terminal, from spawn to the browser's first paint
    (its status line drawn), then Esc."""
    import pexpect

    env = _pty_env(work)
    times: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        child = pexpect.spawn(
            str(work.chatcli),
            ["--sessions-dir", str(store), "--resume"],
            env=env,
            cwd=str(work.root),
            dimensions=(40, 100),
            timeout=work.timeout,
        )
        child.delaybeforesend = None
        try:
            while child.expect_exact([CPR_REQUEST, b"Esc cancels"]) == 0:
                child.send(b"\x1b[1;1R")
            elapsed = (time.perf_counter() - start) * 1000.0
            child.send(b"\x1b")
            child.expect_exact(b"No session chosen")
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            seen = (child.before or b"").decode("utf-8", "replace")
            raise BenchError(
                f"chatcli --resume did not paint its browser ({type(exc).__name__}):\n{tail(seen)}"
            ) from exc
        finally:
            child.close(force=True)
        if i > 0:
            times.append(elapsed)
    return Stats(tuple(times))
