"""End to end: the real ``chatcli`` binary in a pseudo-terminal, driven with pexpect.

Every wait is bounded; on a timeout the assertion message carries the screen so far with the
ANSI sequences stripped, so a failure shows what the user would have seen.
"""

from __future__ import annotations

import os
import re
import sys
import time
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


# --------------------------------------------------------------------------- issue 12: the everyday loop

ESC = "\x1b"
DOWN = "\x1b[B"


def seed_two(sessions_dir: Path) -> tuple[str, str]:
    """Two named sessions (alpha newer than beta); their ids."""
    repo = FileRepository(sessions_dir)
    alpha = seed(repo, "alpha question", replies=["alpha answer"], when=ago(5), name="alpha-proj")
    beta = seed(repo, "beta question", replies=["beta answer"], when=ago(10), name="beta-proj")
    return alpha.id, beta.id


@pytest.mark.parametrize("key", [ESC, "\x03"], ids=["esc", "ctrl-c"])
def test_the_resume_picker_can_be_cancelled(spawn: Spawn, sessions_dir: Path, key: str) -> None:
    """Esc, Ctrl-C and Enter on "no match" all started a new chat; now Esc and Ctrl-C leave."""
    before = set(seed_two(sessions_dir))
    child = spawn("--resume")
    expect(child, "Resume which session")
    child.send("zzz")
    expect(child, "no session matches")
    child.send("\r")  # nothing is highlighted: Enter does nothing
    child.send(key)
    expect(child, "No session chosen.")
    expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert PROMPT not in screen(child)
    assert set(session_ids(sessions_dir)) == before


def test_the_resume_picker_starts_a_new_session_from_its_own_row(spawn: Spawn, sessions_dir: Path) -> None:
    seed_two(sessions_dir)
    child = spawn("--resume")
    expect(child, "Start a new session")
    child.send("zzz" + DOWN + "\r")
    expect(child, "Type a message")  # the greeting of a new chat
    expect(child, PROMPT)
    assert "Resume with" not in finish(child)


def test_slash_resume_opens_the_picker_and_esc_stays(spawn: Spawn, sessions_dir: Path) -> None:
    """``/resume`` without an ID was a usage error; now it is the ``--resume`` picker."""
    _, beta = seed_two(sessions_dir)
    child = spawn()
    expect(child, PROMPT)
    child.send("remember the blue door\r")
    expect(child, "Offline reply #1")
    expect(child, PROMPT)
    child.send("/sessions name door-chat\r")  # NAME alone names the session in use
    expect(child, "door-chat")
    expect(child, PROMPT)
    child.send("/resume\r")
    expect(child, "Resume which session")
    child.send(ESC)
    expect(child, "No session chosen: you are still in session door-chat")
    expect(child, PROMPT)
    child.send("/resume\r")
    expect(child, "Resume which session")
    child.send("beta")
    expect(child, "1 of 3 sessions")
    child.send("\r")
    expect(child, "Resumed session beta-proj")
    expect(child, "beta answer")
    expect(child, PROMPT)
    assert "Resume with: chatcli --resume beta-proj" in finish(child)
    names = {m.id: m.name for m in FileRepository(sessions_dir).list()}
    assert "door-chat" in names.values() and names[beta] == "beta-proj"


def wait_for_snapshot(child: pexpect.spawn, typed: str, shown: str) -> None:
    """Type ``typed`` until the completion menu shows ``shown`` (the completion snapshot is loaded
    in the background once the first prompt is drawn), then erase the line."""
    for _attempt in range(5):
        child.send(typed)
        found = child.expect([re.escape(shown), pexpect.TIMEOUT], timeout=TIMEOUT / 5) == 0
        child.send("\x15")  # Ctrl-U: erase the line
        if found:
            return
    raise AssertionError(f"the completion menu never showed {shown!r}; screen so far:\n{screen(child)}")


def test_tab_inserts_a_unique_candidate_at_once(spawn: Spawn, sessions_dir: Path) -> None:
    """``/sessions show fi`` + Tab kept ``fi`` when typed quickly; Enter then failed."""
    repo = FileRepository(sessions_dir)
    seed(repo, "fix the login page", replies=["the detail"], when=ago(60), name="fix-login")
    seed(repo, "something else", replies=["other"], when=ago(50), name="other")
    child = spawn()
    expect(child, PROMPT)
    wait_for_snapshot(child, "/sessions show f", "fix-login")
    child.send("/sessions show fi\t\r")  # typed at once
    expect(child, "Last active")
    expect(child, "the detail")
    expect(child, PROMPT)
    assert "not found" not in screen(child)
    finish(child)


def test_a_key_typed_after_esc_is_kept(spawn: Spawn, sessions_dir: Path) -> None:
    """Esc then ``list`` gave ``ist``: for a second after Esc a key was read as Alt+key."""
    child = spawn()
    expect(child, PROMPT)
    child.send(ESC)
    # A person's pause between two keys: longer than the Esc timeout now (0.05 s), shorter than
    # the old one (1.5 s). This sleep is what is tested, not a way to wait for the program.
    time.sleep(0.4)
    child.send("list my sessions\r")
    expect(child, "Offline reply #1")
    expect(child, PROMPT)
    finish(child)
    [sid] = session_ids(sessions_dir)
    assert FileRepository(sessions_dir).get(sid).first_message == "list my sessions"


def test_two_quick_ctrl_c_during_a_reply_do_not_quit(spawn: Spawn, sessions_dir: Path) -> None:
    """They quit the app (exit 130) with no line break; now the first stops the reply, the second
    is ignored, and Ctrl-C on an empty prompt says how to leave."""
    child = spawn()
    expect(child, PROMPT)
    child.send(" ".join(f"w{i}" for i in range(400)) + "\r")  # a long reply: 400 quoted words
    expect(child, "Offline reply #1")
    child.sendcontrol("c")
    child.sendcontrol("c")
    expect(child, r"reply interrupted[^\n]*\n")  # the line is ended before the prompt
    expect(child, PROMPT)
    child.sendcontrol("c")
    expect(child, "Ctrl-D or /quit to leave")
    expect(child, PROMPT)
    child.send("still here\r")
    expect(child, "Offline reply #2")
    expect(child, PROMPT)
    finish(child)
    [sid] = session_ids(sessions_dir)
    assert FileRepository(sessions_dir).get(sid).message_count == 4


def test_search_shows_one_row_per_session_with_correct_counts(spawn: Spawn, sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    busy = seed(repo, "token one", replies=["token two", "token three", "token four"], when=ago(60))
    seed(repo, "nothing here", when=ago(30))
    child = spawn()
    expect(child, PROMPT)
    child.send("/sessions search token\r")
    expect(child, re.escape("4 matches for 'token' in 1 session; 2 searched"))
    expect(child, PROMPT)
    assert screen(child).count(busy.id[:8]) == 1, screen(child)
    child.send("/sessions search token --messages\r")
    expect(child, PROMPT)
    rows = [
        line
        for line in screen(child).splitlines()
        if "token " in line and ("user" in line or "assistant" in line)
    ]
    assert len(rows) == 4, screen(child)
    child.send('/sessions search "token\r')
    expect(child, "quote is not closed")
    expect(child, PROMPT)
    finish(child)
