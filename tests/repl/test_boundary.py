"""The REPL's one error boundary: what each kind of failure looks like, and its exit code."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from rich.console import Console

from chatcli.errors import ExitCode
from chatcli.repl.boundary import ErrorBoundary
from chatcli.session.errors import SessionNotFound


def boundary() -> tuple[ErrorBoundary, io.StringIO]:
    out = io.StringIO()
    return ErrorBoundary(Console(file=out, width=100)), out


def test_a_step_that_succeeds_is_ok_and_silent() -> None:
    guard, out = boundary()
    with guard.guard("step") as outcome:
        pass
    assert outcome.exit_code is ExitCode.OK
    assert not outcome.failed
    assert out.getvalue() == ""


def test_an_expected_error_is_its_panel_and_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATCLI_LOG_DIR", str(tmp_path / "logs"))
    guard, out = boundary()
    with guard.guard("step") as outcome:
        raise SessionNotFound("nope")
    assert outcome.failed
    assert outcome.exit_code is SessionNotFound.exit_code
    assert "Session 'nope' not found" in out.getvalue()
    assert not (tmp_path / "logs").exists(), "an expected error is not a bug: nothing is logged"


def test_ctrl_c_is_a_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATCLI_LOG_DIR", str(tmp_path / "logs"))
    guard, out = boundary()
    with guard.guard("step") as outcome:
        raise KeyboardInterrupt
    assert outcome.exit_code is ExitCode.INTERRUPTED
    assert out.getvalue().strip() == "Cancelled."
    assert not (tmp_path / "logs").exists()


def test_an_unexpected_error_is_logged_and_shown_briefly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATCLI_LOG_DIR", str(tmp_path / "logs"))
    guard, out = boundary()
    with guard.guard("/sessions list") as outcome:
        raise RuntimeError("boom")
    assert outcome.exit_code is ExitCode.USER
    shown = out.getvalue()
    assert "Unexpected error: RuntimeError: boom" in shown
    assert "chatcli.log" in shown
    assert "Traceback" not in shown
    logged = (tmp_path / "logs" / "chatcli.log").read_text()
    assert "/sessions list" in logged
    assert "Traceback" in logged and "RuntimeError: boom" in logged


def test_the_repl_being_stopped_is_not_caught() -> None:
    guard, out = boundary()
    with pytest.raises(asyncio.CancelledError), guard.guard("step"):
        raise asyncio.CancelledError
    assert out.getvalue() == ""
