"""Ctrl-C at the moments the first tests of stopping cleanly did not reach (found by attacking
the real binary): each test sends SIGINT to ``python -m chatcli`` and checks that what the
screen says happened is what is on disk."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from chatcli.errors import ExitCode


def _sessions_in(folder: Path) -> int:
    return sum(1 for entry in os.scandir(folder) if not entry.name.startswith(".")) if folder.exists() else 0


def _start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """``chatcli ARGS`` with its output piped (no terminal: no question, no progress bar)."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1", COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-m", "chatcli", *args],
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interrupt_once_saving(proc: subprocess.Popen[str], store: Path) -> tuple[str, str]:
    """Ctrl-C as soon as the first session is on disk; the command's output once it ended."""
    deadline = time.monotonic() + 60
    while _sessions_in(store) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=120)


def _claude_sessions(folder: Path, count: int) -> None:
    """``count`` Claude Code transcripts (one exchange each) in ``folder``."""
    folder.mkdir(parents=True)
    for i in range(count):
        records = [
            {
                "type": "user",
                "uuid": f"u{i}",
                "parentUuid": None,
                "sessionId": f"cc-{i}",
                "timestamp": "2025-01-01T00:00:00Z",
                "message": {"role": "user", "content": f"question {i}"},
            },
            {
                "type": "assistant",
                "uuid": f"a{i}",
                "parentUuid": f"u{i}",
                "sessionId": f"cc-{i}",
                "timestamp": "2025-01-01T00:00:01Z",
                "message": {"role": "assistant", "content": [{"type": "text", "text": f"answer {i}"}]},
            },
        ]
        (folder / f"s{i:05d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_ctrl_c_stops_an_import_from_another_tool_at_its_next_session(tmp_path: Path) -> None:
    """Before, ``--from`` asked only between locations (a tool's folder is one): the first Ctrl-C
    was ignored until every session of the folder was imported."""
    folder, store = tmp_path / "claude", tmp_path / "sessions"
    _claude_sessions(folder, 800)
    proc = _start(
        "sessions", "--sessions-dir", str(store), "import", "--from", "claude-code", str(folder), cwd=tmp_path
    )
    out, err = _interrupt_once_saving(proc, store)
    saved = _sessions_in(store)
    assert proc.returncode == ExitCode.INTERRUPTED, (out, err)
    assert 0 < saved < 800, (saved, out)
    found = re.search(r"Imported from claude-code: (\d+) new sessions?,", out)
    assert found is not None and int(found.group(1)) == saved, (saved, out)
    assert "cancelled: the rest was not imported" in out, out
    assert "Traceback" not in out + err and "Interrupted." not in err
