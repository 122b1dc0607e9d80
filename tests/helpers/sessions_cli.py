"""Running ``chatcli sessions …`` in a subprocess for the command-line tests (no terminal, no style
variables unless a test sets them): :class:`Run` reads its JSON and its error document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from tests.helpers import cli

#: Environment variables that change how output looks; removed so each test sets what it checks.
_STYLE_VARS = ("FORCE_COLOR", "NO_COLOR", "COLUMNS", "LINES", "TERM", "COLORTERM", "CLICOLOR_FORCE")


@dataclass(frozen=True)
class Run(cli.Run):
    """One finished ``chatcli`` process, with readers of its JSON output and error document."""

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)

    def error(self) -> dict[str, Any]:
        """The ``{"error": {"kind", "message"}}`` document on stderr (stdout must be empty)."""
        assert self.out == "", self.out
        doc = json.loads(self.err)
        assert list(doc) == ["error"]
        assert set(doc["error"]) == {"kind", "message"}
        assert isinstance(doc["error"]["kind"], str)
        assert isinstance(doc["error"]["message"], str) and doc["error"]["message"]
        return dict(doc["error"])


Cli = Callable[..., Run]


def run_chatcli(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=dict(env),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    run = Run(tuple(args), proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))
    assert "Traceback" not in run.err, run
    assert "Traceback" not in run.out, run
    return run


def plain_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STYLE_VARS}
    env["COLUMNS"] = "250"  # wide enough that table cells are not cut
    env.update(extra or {})
    return env


def listed(repo: FileRepository) -> dict[str, SessionMetadata]:
    """Every session in ``repo`` by id."""
    return {m.id: m for m in repo.list()}
