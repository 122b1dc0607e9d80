"""Ctrl-C while ``/sessions import`` runs in the REPL: the first asks the import to stop at its
next record and its report (what it saved) is shown; a second stops waiting for it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from tests.helpers import MakeRepl, Repl, until, write_corpus


def _interrupting_import(r: Repl, monkeypatch: pytest.MonkeyPatch, *, presses: int) -> list[bool]:
    """Make the import press Ctrl-C ``presses`` times as it reaches record 3 (the first press
    must reach it as its ``should_stop``); returns what ``should_stop`` said then."""
    original = r.service.import_file
    told: list[bool] = []

    def import_file(path: Path, **kwargs: Any) -> Any:
        real: Callable[[], bool] = kwargs["should_stop"]
        calls = 0

        def should_stop() -> bool:
            nonlocal calls
            calls += 1
            if calls == 3:
                os.kill(os.getpid(), signal.SIGINT)
                deadline = time.monotonic() + 5
                while not real() and time.monotonic() < deadline:
                    time.sleep(0.01)
                told.append(real())
                if presses > 1:
                    os.kill(os.getpid(), signal.SIGINT)
                    while "Cancelled." not in r.output and time.monotonic() < deadline:
                        time.sleep(0.01)
            return real()

        return original(path, **{**kwargs, "should_stop": should_stop})

    monkeypatch.setattr(r.service, "import_file", import_file)
    return told


def _with_guard(run: Callable[[], object]) -> list[int]:
    """Run with a SIGINT handler of our own around the REPL (it must restore it; the signals the
    REPL handles must never reach it)."""
    caught: list[int] = []

    def guard(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, guard)
    try:
        run()
        assert signal.getsignal(signal.SIGINT) is guard, "the REPL must restore the SIGINT handler"
    finally:
        signal.signal(signal.SIGINT, previous)
    return caught


def test_ctrl_c_stops_an_import_and_shows_what_it_saved(
    make_repl: MakeRepl, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before, the REPL said "Cancelled." and never showed the two sessions already saved."""
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 5, 1)
    r = make_repl()
    told = _interrupting_import(r, monkeypatch, presses=1)

    async def scenario(repl: Repl) -> None:
        repl.type(f"/sessions import {corpus}\r")
        await until(lambda: "were not imported" in repl.output, what="the import's report")
        repl.type("/sessions list\r")
        await until(lambda: "task-0-" in repl.output.split("were not imported")[-1], what="the next command")

    assert _with_guard(lambda: r.drive(scenario)) == []
    assert told == [True]
    assert (
        "Imported 2 sessions" in r.output and "cancelled: record 3 and the rest were not imported" in r.output
    )
    assert "Cancelled." not in r.output and "Traceback" not in r.output
    assert len(r.session_dirs()) == 2


def test_a_second_ctrl_c_stops_waiting_for_the_import(
    make_repl: MakeRepl, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 5, 1)
    r = make_repl()
    told = _interrupting_import(r, monkeypatch, presses=2)

    async def scenario(repl: Repl) -> None:
        repl.type(f"/sessions import {corpus}\r")
        await until(lambda: "Cancelled." in repl.output, what="the second Ctrl-C")
        await until(lambda: len(repl.session_dirs()) == 2, what="the import to end on its own")

    assert _with_guard(lambda: r.drive(scenario)) == []
    assert told == [True]
    assert "Imported" not in r.output and "Traceback" not in r.output
