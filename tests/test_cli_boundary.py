"""The command line's one parser for global options and its one error boundary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from chatcli.cli import run_sessions
from chatcli.errors import ExitCode
from chatcli.render import terminal
from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from tests.helpers import make_meta, user


def _chatcli(args: Sequence[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc
    return proc


@pytest.fixture
def one_session(repo: FileRepository) -> SessionMetadata:
    meta = make_meta("hello there", name="greeting")
    repo.create(meta, [user("hello there")])
    return meta


@pytest.mark.parametrize(
    "line",
    [
        ["sessions", "list", "--json", "--sessions-dir", "{dir}"],
        ["sessions", "--sessions-dir={dir}", "list", "--json"],
        ["--sessions-dir", "{dir}", "sessions", "list", "--json"],
        ["sessions", "--json", "--sessions-dir", "{dir}", "list"],
    ],
    ids=["after", "between-inline", "before-sessions", "json-first"],
)
def test_global_options_are_read_wherever_they_stand(
    line: list[str], one_session: SessionMetadata, sessions_dir: Path, tmp_path: Path
) -> None:
    args = [word.format(dir=sessions_dir) for word in line]
    proc = _chatcli(args, tmp_path)
    assert proc.returncode == 0, proc
    assert [s["id"] for s in json.loads(proc.stdout)["sessions"]] == [one_session.id]


def test_json_mode_reaches_errors_raised_before_the_command_is_parsed(
    sessions_dir: Path, tmp_path: Path
) -> None:
    proc = _chatcli(["sessions", "--json", "--sessions-dir", str(sessions_dir), "lsit"], tmp_path)
    assert proc.returncode == ExitCode.USAGE
    assert json.loads(proc.stderr)["error"]["kind"] == "unknown_command"
    missing = _chatcli(["sessions", "list", "--sessions-dir"], tmp_path)
    assert missing.returncode == ExitCode.USAGE
    assert "--sessions-dir needs a value" in missing.stderr


def test_a_literal_value_that_looks_like_the_option_is_not_taken_after_double_dash(
    one_session: SessionMetadata, sessions_dir: Path, tmp_path: Path
) -> None:
    proc = _chatcli(
        ["sessions", "--sessions-dir", str(sessions_dir), "search", "--json", "--", "--json"], tmp_path
    )
    assert proc.returncode == 0, proc
    assert json.loads(proc.stdout)["hits"] == []


def test_a_failure_while_rendering_is_caught_by_the_boundary(
    one_session: SessionMetadata,
    sessions_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken_render(result: object, console: object) -> None:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(terminal, "render", broken_render)
    monkeypatch.setenv("CHATCLI_LOG_DIR", str(tmp_path / "logs"))
    code = run_sessions(["--sessions-dir", str(sessions_dir), "list"])
    captured = capsys.readouterr()
    assert code == ExitCode.USER
    assert "Unexpected error: RuntimeError: renderer exploded" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "renderer exploded" in (tmp_path / "logs" / "chatcli.log").read_text(encoding="utf-8")


def test_configuration_errors_exit_with_their_own_code(tmp_path: Path) -> None:
    printed = _chatcli(["--print-config"], tmp_path, CHATCLI_BACKEND="bogus")
    assert printed.returncode == ExitCode.CONFIG == 4
    assert "CHATCLI_BACKEND" in printed.stderr
    started = _chatcli(["--base-url", "ftp://example.invalid"], tmp_path, CHATCLI_BACKEND="openai")
    assert started.returncode == ExitCode.CONFIG
    assert "Configuration error" in started.stderr
