"""In a terminal: the resume picker, tab completion and keys typed while a reply streams.

End to end: the real ``chatcli`` binary in a pseudo-terminal, driven with pexpect
(:mod:`tests.helpers.pty`). Every wait is bounded; on a timeout the assertion message carries the
screen so far with the ANSI sequences stripped, so a failure shows what the user would have seen."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pexpect
import pytest

from chatcli.session.store import FileRepository
from tests.helpers import ago, seed
from tests.helpers.pty import DOWN, ESC, PROMPT, TIMEOUT, Spawn, expect, finish, screen, seed_two, session_ids

pytestmark = pytest.mark.slow


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
