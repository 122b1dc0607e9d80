"""``chatcli sessions …`` in scripts and pipes, through the real entry point in a subprocess.

Piped output is plain (aligned columns, ``--tsv``), errors are one ``error: …`` line plus hints,
a reader that goes away early is a normal end, ``import`` reports failures in its exit status,
"not found" says where it looked, and the wording reads naturally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatcli.errors import ExitCode
from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from tests.helpers import BASE, seed

#: Environment variables that change how output looks; removed so each test sets what it checks.
_STYLE_VARS = ("FORCE_COLOR", "NO_COLOR", "COLUMNS", "LINES", "TERM", "COLORTERM", "CLICOLOR_FORCE")
#: Box-drawing characters: ASCII grids and rich's boxes.
_BOX = ("+-", "-+", "|", "─", "│", "╭", "╰", "┃", "━")


@dataclass(frozen=True)
class Run:
    """One finished ``chatcli`` process."""

    code: int
    out: str
    err: str


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STYLE_VARS}
    env.update(extra or {})
    return env


def chatcli(
    *args: str, cwd: Path, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> Run:
    """Run ``python -m chatcli ARGS`` with piped stdout and stderr (no terminal)."""
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=_env(env),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    run = Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))
    assert "Traceback" not in run.out + run.err, run
    return run


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder for the child process (not the sessions folder)."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def two(repo: FileRepository) -> tuple[SessionMetadata, SessionMetadata]:
    """A named session with three messages (two of them mention 'token') and an unnamed one."""
    named = seed(repo, "fix the login token bug", name="fix-login", replies=["the token expired", "ok"])
    unnamed = seed(repo, "another question about token stuff that is long " * 3)
    return named, unnamed


# --------------------------------------------------------------------------- 14: a closed pipe


@pytest.mark.parametrize(
    "words",
    [
        ["list"],
        ["list", "--json"],
        ["search", "token"],
        ["show", "fix-login"],
        ["export", "fix-login"],
        ["export", "fix-login", "--format", "json"],
        ["--help"],
    ],
    ids=lambda words: "-".join(words),
)
def test_a_closed_pipe_is_a_quiet_normal_end(
    words: list[str], two: tuple[SessionMetadata, SessionMetadata], sessions_dir: Path, work: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatcli", "sessions", "--sessions-dir", str(sessions_dir), *words],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=work,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first byte: `| true`
    with proc.stderr:
        err = proc.stderr.read().decode("utf-8")
    code = proc.wait(timeout=60)
    assert "Traceback" not in err and "Broken pipe" not in err and "Unexpected" not in err, err
    assert err == ""
    assert code == ExitCode.OK


def test_a_reader_that_stops_early_ends_a_long_export_quietly(
    repo: FileRepository, sessions_dir: Path, work: Path
) -> None:
    seed(repo, "long " * 40_000, name="long")  # well over a pipe's buffer
    line = f"{sys.executable} -m chatcli sessions --sessions-dir '{sessions_dir}' export long | head -c 10"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        capture_output=True,
        env=_env(),
        cwd=work,
        timeout=60,
        check=False,
    )
    assert proc.stdout == b"# Session " or len(proc.stdout) == 10
    assert proc.stderr == b"", proc.stderr
    assert proc.returncode == 0
