"""End to end: the real ``chatcli`` binary in a pseudo-terminal, driven with pexpect.

Every wait is bounded; on a timeout the assertion message carries the screen so far with the
ANSI sequences stripped, so a failure shows what the user would have seen.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from chatcli.session.store import FileRepository
from tests.helpers import ago, seed

pytestmark = pytest.mark.slow

#: The installed console script; a checkout that was not installed runs the same entry point
#: through the interpreter (``chatcli = "chatcli.__main__:main"`` in pyproject.toml).
_SCRIPT = Path(sys.executable).parent / "chatcli"
CHATCLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "chatcli"]
TIMEOUT = 15.0
PROMPT = "you ›"
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

Spawn = Callable[..., pexpect.spawn]


def screen(child: pexpect.spawn) -> str:
    """What the child printed since the last match, ANSI sequences stripped."""
    before = child.before if isinstance(child.before, str) else ""
    return _ANSI.sub("", before).replace("\r", "")


def expect(child: pexpect.spawn, pattern: object, timeout: float = TIMEOUT) -> None:
    """``child.expect(pattern)``, failing with the stripped screen on a timeout or an early exit."""
    try:
        child.expect(pattern, timeout=timeout)
    except (pexpect.TIMEOUT, pexpect.EOF) as exc:
        kind = "timed out" if isinstance(exc, pexpect.TIMEOUT) else "the program ended"
        raise AssertionError(f"{kind} waiting for {pattern!r}; screen so far:\n{screen(child)}") from None


def finish(child: pexpect.spawn) -> str:
    """Press Ctrl-D at the prompt, wait for the exit and return the last screen (stripped)."""
    child.sendcontrol("d")
    expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, screen(child)
    return screen(child)


@pytest.fixture
def sessions_dir(tmp_path: Path) -> Path:
    return tmp_path / "sessions"


@pytest.fixture
def spawn(tmp_path: Path, sessions_dir: Path) -> Iterator[Spawn]:
    """Start ``chatcli ARGS`` in a 40x120 terminal with sessions, home and logs under tmp_path."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_")) and k != "NO_COLOR"
    }
    env.update(
        CHATCLI_SESSIONS_DIR=str(sessions_dir),
        CHATCLI_LOG_DIR=str(tmp_path / "logs"),
        TERM="xterm-256color",
        PYTHONUNBUFFERED="1",
        # pexpect is no terminal emulator: nobody answers prompt_toolkit's cursor position
        # request, which would cost a one-second wait each time a prompt closes.
        PROMPT_TOOLKIT_NO_CPR="1",
    )
    children: list[pexpect.spawn] = []

    def start(*args: str) -> pexpect.spawn:
        child = pexpect.spawn(
            CHATCLI[0],
            [*CHATCLI[1:], "--backend", "offline", *args],
            env=env,
            cwd=str(tmp_path),
            dimensions=(40, 120),
            encoding="utf-8",
            timeout=TIMEOUT,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.isalive():
            child.close(force=True)
        elif not child.closed:
            child.close()


def session_ids(sessions_dir: Path) -> list[str]:
    if not sessions_dir.exists():
        return []
    return sorted(p.name for p in sessions_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_chat_leave_and_resume(spawn: Spawn, sessions_dir: Path) -> None:
    child = spawn()
    expect(child, PROMPT)
    child.send("remember the blue door\r")
    expect(child, "Offline reply #1")
    expect(child, PROMPT)
    child.sendcontrol("d")
    expect(child, r"Resume with: chatcli --resume ([0-9a-f]{8})\b")  # a short id: the shortest unique prefix
    sid = child.match.group(1)
    [sid] = [s for s in session_ids(sessions_dir) if s.startswith(sid)]
    expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert session_ids(sessions_dir) == [sid]

    again = spawn("--resume", sid)
    expect(again, f"Resumed session {sid[:8]}")
    expect(again, "remember the blue door")
    expect(again, PROMPT)
    again.send("and now?\r")
    expect(again, "Offline reply #2")
    expect(again, PROMPT)
    assert f"Resume with: chatcli --resume {sid[:8]}" in finish(again)


def test_tab_completes_a_session_id(spawn: Spawn, sessions_dir: Path, isolated_env: Path) -> None:
    repo = FileRepository(sessions_dir)
    target = seed(
        repo,
        "fix the login page",
        replies=["hi there"],
        when=ago(60),
        name="fix-login",
        session_id="abcd1234-0000-4000-8000-000000000001",
    )
    seed(
        repo,
        "something else",
        replies=["hi there"],
        when=ago(60),
        name="other",
        session_id="abce5678-0000-4000-8000-000000000002",
    )

    child = spawn()
    expect(child, PROMPT)
    child.send("/sessions show abcd")
    # The completion snapshot is loaded in the background once the first prompt is drawn: on a
    # busy machine the first Tab can come before it, and then completes nothing. Press Tab again
    # (a few times at most) until the completion shows.
    for _attempt in range(5):
        child.send("\t")
        if child.expect([re.escape(target.id[4:]), pexpect.TIMEOUT], timeout=TIMEOUT / 5) == 0:
            break
    else:
        raise AssertionError(f"Tab never completed the id; screen so far:\n{screen(child)}")
    child.send("\r")
    # (The completion menu shows the first message too: wait for what only the command prints.)
    expect(child, "Last active")
    expect(child, "hi there")
    expect(child, PROMPT)
    finish(child)

    history = (isolated_env / ".local" / "share" / "chatcli" / "history").read_text()
    assert f"+/sessions show {target.id}\n" in history


def test_deleting_the_current_session_starts_a_new_one(spawn: Spawn, sessions_dir: Path) -> None:
    child = spawn()
    expect(child, PROMPT)
    child.send("this will be deleted\r")
    expect(child, "Offline reply #1")
    expect(child, PROMPT)
    [sid] = session_ids(sessions_dir)

    child.send(f"/sessions delete {sid[:8]}\r")
    expect(child, rf"Delete the session you are in, {sid[:8]} \(2 messages\), for good\? \[y/N\]")
    child.send("y\r")
    expect(child, "you are now in a new session")
    expect(child, PROMPT)
    assert session_ids(sessions_dir) == []
    assert not (sessions_dir / sid).exists()

    assert "Resume with" not in finish(child)


def test_resume_without_a_value_opens_the_picker(spawn: Spawn, sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    seed(repo, "alpha question", replies=["hi there"], when=ago(5), name="alpha-proj")
    beta = seed(repo, "beta question", replies=["hi there"], when=ago(10), name="beta-proj")

    child = spawn("--resume")
    expect(child, "Resume which session")
    child.send("beta")
    expect(child, "1 of 2 sessions")
    child.send("\r")
    expect(child, "Resumed session beta-proj")
    expect(child, "beta question")
    expect(child, PROMPT)
    assert "Resume with: chatcli --resume beta-proj" in finish(child)
    assert beta.id in session_ids(sessions_dir)
