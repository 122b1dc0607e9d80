"""Ctrl-C during a command that writes many sessions (an import, a prune, emptying the trash):
the first one asks it to stop at its next step and what it did is reported; a second one stops
at once; a question asked on the terminal still ends at the first."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from chatcli.commands.catalog import build_registry
from chatcli.errors import ExitCode
from chatcli.session.store import FileRepository
from chatcli.sigint import sigint_interrupts, sigint_stops
from tests.helpers import ago, chatcli, seed, write_corpus

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _pty(*args: str, cwd: Path) -> Any:
    """``chatcli ARGS`` in a pseudo-terminal (100 columns, so the report's lines stay whole)."""
    import pexpect  # type: ignore[import-untyped]

    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", NO_COLOR="1")
    return pexpect.spawn(
        sys.executable,
        ["-m", "chatcli", *args],
        env=env,
        cwd=str(cwd),
        dimensions=(40, 100),
        encoding="utf-8",
        timeout=60,
    )


def _sessions_in(folder: Path) -> int:
    return sum(1 for entry in os.scandir(folder) if not entry.name.startswith(".")) if folder.exists() else 0


def test_ctrl_c_stops_an_import_and_reports_exactly_what_it_saved(tmp_path: Path) -> None:
    """Before, the import died with "Interrupted." and said nothing of the sessions it had saved."""
    import pexpect

    corpus, store = tmp_path / "corpus.jsonl", tmp_path / "sessions"
    write_corpus(corpus, 6000, 1)
    child = _pty("sessions", "--sessions-dir", str(store), "import", str(corpus), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while _sessions_in(store) == 0 and time.monotonic() < deadline:
            child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=0.02)  # keeps the pty drained
        assert child.isalive(), "the import ended before it could be interrupted"
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    screen = ANSI.sub("", child.before)
    saved = _sessions_in(store)
    assert child.exitstatus == ExitCode.INTERRUPTED, screen
    assert 0 < saved < 6000, saved
    assert f"Imported {saved:,} sessions" in screen or f"Imported {saved} sessions" in screen, (saved, screen)
    stopped = re.search(r"cancelled: record (\d+) and the rest were not imported", screen)
    assert stopped is not None and int(stopped.group(1)) == saved + 1, screen
    assert "Interrupted." not in screen and "Traceback" not in screen
    health = chatcli(["sessions", "--sessions-dir", str(store), "doctor"], cwd=tmp_path)
    assert health.code == 0 and f"All {saved} sessions" in health.out, health


def test_the_first_ctrl_c_asks_to_stop_and_the_second_interrupts() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGINT)
    with sigint_stops(stop):
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_question_asked_meanwhile_still_ends_at_the_first_ctrl_c() -> None:
    stop = threading.Event()
    with sigint_stops(stop):
        with pytest.raises(KeyboardInterrupt), sigint_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGINT)  # the command's own handler is back
        assert stop.is_set()


def test_outside_the_main_thread_the_handlers_are_left_alone() -> None:
    seen: list[object] = []

    def guard(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, guard)
    try:

        def in_thread() -> None:
            with sigint_stops(threading.Event()), sigint_interrupts():
                seen.append(signal.getsignal(signal.SIGINT))

        worker = threading.Thread(target=in_thread)
        worker.start()
        worker.join()
        assert seen == [guard]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_only_the_commands_that_write_many_sessions_stop_cleanly() -> None:
    registry = build_registry()
    cleanly = sorted(c.name for c in registry.commands(scope="repl") if c.stops_cleanly)
    assert cleanly == ["sessions import", "sessions prune", "sessions trash empty"]
    assert registry.stops_cleanly(["sessions", "import", "x.jsonl"])
    assert registry.stops_cleanly(["sessions", "trash", "empty", "--yes"])
    assert not registry.stops_cleanly(["sessions", "trash"])
    assert not registry.stops_cleanly(["sessions", "search", "x"])
    assert not registry.stops_cleanly(["sessions", "bogus"]) and not registry.stops_cleanly([])


def test_ctrl_c_at_the_prune_question_still_ends_the_command(tmp_path: Path) -> None:
    """prune stops cleanly once it runs, yet its question must end at the first Ctrl-C."""
    import pexpect

    store = tmp_path / "sessions"
    repo = FileRepository(store)
    for text in ("an old one", "another old one"):
        seed(repo, text, when=ago(60 * 24 * 200))
    child = _pty("sessions", "--sessions-dir", str(store), "prune", "--older-than", "90d", cwd=tmp_path)
    try:
        child.expect(r"\[y/N\]")
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert "Interrupted." in child.before and child.exitstatus == ExitCode.INTERRUPTED, child.before
    assert _sessions_in(store) == 2


def test_with_json_a_ctrl_c_that_stops_at_once_is_a_json_error(tmp_path: Path) -> None:
    """Before, ``--json`` output got a plain "Interrupted." on standard error."""
    import pexpect

    store = tmp_path / "sessions"
    child = _pty("sessions", "--json", "--sessions-dir", str(store), "import", "-", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not (store / ".locks" / "names.lock").exists() and time.monotonic() < deadline:
            child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=0.02)  # it reads the terminal now
        time.sleep(0.2)
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == ExitCode.INTERRUPTED, child.before
    assert re.search(r'"kind": "interrupted"', child.before) and "Interrupted." not in child.before.replace(
        "Interrupted (Ctrl-C).", ""
    ), child.before
