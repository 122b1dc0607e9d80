"""Running ``python -m chatcli`` as a user would, without a terminal, and checking what it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

#: Raw control characters that must never reach the terminal from untrusted text.
RAW_CONTROLS = ("\x1b", "\x07", "\x00", "\x9b")


@dataclass(frozen=True)
class Run:
    """One finished ``chatcli`` process."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str


def chatcli(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> Run:
    """``python -m chatcli ARGS…`` without a terminal (stdin /dev/null unless ``stdin`` bytes are
    given, output piped, NO_COLOR); a hang fails the test (timeout), and so do a traceback,
    "Unexpected error" or a raw control."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    full_env.update(NO_COLOR="1", COLUMNS="250")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    run = Run(tuple(args), proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    text = run.out + run.err
    assert "Traceback" not in text and "Unexpected error" not in text, run
    for ch in RAW_CONTROLS:
        assert ch not in text, (ch, run)
    return run


def assert_imports_through_the_binary(tool: str, source: Path, work: Path) -> None:
    """``chatcli sessions import --from TOOL SOURCE --all-projects`` imports at least one session
    (shown by ``sessions show``), leaves ``source`` byte for byte as it was, and a second run
    changes nothing."""
    import hashlib

    before = hashlib.sha256(source.read_bytes()).hexdigest()
    args = ["sessions", "import", "--from", tool, str(source), "--all-projects", "--json"]
    run = chatcli(args, cwd=work)
    assert run.code in (0, 1) and "Traceback" not in run.err, run
    imported = [s for s in json.loads(run.out)["sessions"] if s["action"] == "imported"]
    assert imported, run.out
    shown = chatcli(["sessions", "show", imported[0]["session_id"]], cwd=work)
    assert shown.code == 0, shown
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    again = chatcli(args, cwd=work)
    assert {s["action"] for s in json.loads(again.out)["sessions"]} == {"unchanged"}, again


#: Raw characters that must never reach the user unescaped.
#: Reorders what follows it: never raw in a one-line field (ids, names, error messages). Message
#: text keeps it on purpose, since right-to-left prose uses it (see chatcli/sanitize.py).
RTL_OVERRIDE = "\u202e"


def chatcli_many(calls: Sequence[Sequence[str]], *, cwd: Path) -> list[Run]:
    """Several independent ``chatcli`` runs in parallel."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: chatcli(args, cwd=cwd), calls))
