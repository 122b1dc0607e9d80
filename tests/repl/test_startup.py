"""Start-up: how ``--resume`` and ``--continue`` choose the first session, and start-up errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from prompt_toolkit.history import History
from rich.console import Console

import chatcli.repl.startup as startup_module
from chatcli.commands.spec import UsageError
from chatcli.errors import ExitCode
from chatcli.repl.completion.snapshot import SnapshotCache
from chatcli.repl.startup import ReplOptions, initial_session, run_repl
from chatcli.session.models import Message
from chatcli.session.outcomes import LoadedSession
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository


def _service(tmp_path: Path) -> SessionService:
    return SessionService(FileRepository(tmp_path / "sessions"))


def _initial_session(options: ReplOptions, service: SessionService, console: Console) -> LoadedSession | None:
    return initial_session(options, service, SnapshotCache(service), console)


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=100), buf


def test_resume_picker_with_no_sessions_starts_fresh_without_a_picker(tmp_path: Path) -> None:
    console, buf = _console()
    assert _initial_session(ReplOptions(resume=""), _service(tmp_path), console) is None
    assert "No saved sessions" in buf.getvalue()
    assert not (tmp_path / "sessions").exists()


def test_resume_picker_needs_a_terminal_when_sessions_exist(tmp_path: Path) -> None:
    service = _service(tmp_path)
    service.start_session([Message(role="user", content="hello")])
    console, _ = _console()
    with pytest.raises(UsageError, match="needs a terminal"):
        _initial_session(ReplOptions(resume=""), service, console)


def test_continue_takes_the_latest_active_session(tmp_path: Path) -> None:
    service = _service(tmp_path)
    service.start_session([Message(role="user", content="older")])
    newest = service.start_session([Message(role="user", content="newer")])
    console, _ = _console()
    loaded = _initial_session(ReplOptions(continue_latest=True), service, console)
    assert loaded is not None
    assert loaded.metadata.id == newest.id
    assert [m.content for m in loaded.messages] == ["newer"]


def test_continue_with_nothing_saved_starts_fresh(tmp_path: Path) -> None:
    console, buf = _console()
    assert _initial_session(ReplOptions(continue_latest=True), _service(tmp_path), console) is None
    assert "No earlier session" in buf.getvalue()


def test_resume_by_name(tmp_path: Path) -> None:
    service = _service(tmp_path)
    meta = service.start_session([Message(role="user", content="named one")])
    service.rename(meta.id, "my-work")
    console, _ = _console()
    loaded = _initial_session(ReplOptions(resume="my-work"), service, console)
    assert loaded is not None
    assert loaded.metadata.id == meta.id


# --------------------------------------------------------------------------- run_repl's boundary


def test_a_bad_option_is_a_config_error_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_repl(ReplOptions(backend="gpt")) == ExitCode.CONFIG
    captured = capsys.readouterr()
    assert "not a backend" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_resuming_a_missing_session_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ReplOptions(resume="nope", sessions_dir=str(tmp_path / "sessions"))
    assert run_repl(options) == ExitCode.USER
    assert "Session 'nope' not found" in capsys.readouterr().err


def test_an_unexpected_start_up_failure_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHATCLI_LOG_DIR", str(tmp_path / "logs"))

    def broken() -> History:
        raise RuntimeError("no history today")

    monkeypatch.setattr(startup_module, "history_file", broken)
    assert run_repl(ReplOptions(sessions_dir=str(tmp_path / "sessions"))) == ExitCode.USER
    err = capsys.readouterr().err
    assert "Unexpected error" in err and "Traceback" not in err
    assert "RuntimeError: no history today" in (tmp_path / "logs" / "chatcli.log").read_text()


def test_ctrl_c_during_start_up_exits_as_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> History:
        raise KeyboardInterrupt

    monkeypatch.setattr(startup_module, "history_file", interrupted)
    assert run_repl(ReplOptions(sessions_dir=str(tmp_path / "sessions"))) == ExitCode.INTERRUPTED
    assert "Traceback" not in capsys.readouterr().err
