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
    args = ["--sessions-dir", str(store), "--resume", session_id]
    return _timed_runs(work, args, PROMPT, runs, "did not reach its prompt")


def measure_browser_pty(work: Workspace, store: Path, runs: int) -> Stats:
    """``chatcli --resume`` (no ID) in a pseudo-terminal, from spawn to the browser's first paint
    (its status line drawn), then Esc."""
    args = ["--sessions-dir", str(store), "--resume"]
    return _timed_runs(
        work, args, b"Esc cancels", runs, "did not paint its browser", leave=b"No session chosen"
    )


def _timed_runs(
    work: Workspace, args: list[str], until: bytes, runs: int, failed: str, *, leave: bytes | None = None
) -> Stats:
    """``chatcli ARGS`` spawned ``runs`` + 1 times (the first a warm-up) in a 100×40 pty, each timed
    from spawn until ``until`` is drawn; with ``leave``, Esc is then sent and ``leave`` awaited."""
    import pexpect  # type: ignore[import-untyped]

    env = _pty_env(work)
    times: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        child = pexpect.spawn(
            str(work.chatcli), args, env=env, cwd=str(work.root), dimensions=(40, 100), timeout=work.timeout
        )
        child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default
        try:
            while child.expect_exact([CPR_REQUEST, until]) == 0:
                child.send(b"\x1b[1;1R")  # answer the cursor-position request as a terminal would
            elapsed = (time.perf_counter() - start) * 1000.0
            if leave is not None:
                child.send(b"\x1b")
                child.expect_exact(leave)
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            seen = (child.before or b"").decode("utf-8", "replace")
            raise BenchError(f"chatcli --resume {failed} ({type(exc).__name__}):\n{tail(seen)}") from exc
        finally:
            child.close(force=True)
        if i > 0:
            times.append(elapsed)
    return Stats(tuple(times))
