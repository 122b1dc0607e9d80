"""In a terminal: chatting, leaving and resuming, tab completion, deleting or trashing the current
session.

End to end: the real ``chatcli`` binary in a pseudo-terminal, driven with pexpect
(:mod:`tests.helpers.pty`). Every wait is bounded; on a timeout the assertion message carries the
screen so far with the ANSI sequences stripped, so a failure shows what the user would have seen."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect
import pytest

from chatcli.session.store import FileRepository
from tests.helpers import ago, chatcli, seed
from tests.helpers.pty import PROMPT, TIMEOUT, Spawn, expect, finish, screen, session_ids

pytestmark = pytest.mark.slow


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
    expect(child, rf"Move the session you are in, {sid[:8]} \(2 messages\), to the trash\? \[y/N\]")
    child.send("y\r")
    expect(child, rf"Undo with: /sessions restore {sid[:8]}")
    expect(child, "you are now in a new session")
    expect(child, PROMPT)
    assert session_ids(sessions_dir) == []
    assert not (sessions_dir / sid).exists()

    child.send("/sessions trash\r")
    expect(child, "1 session in the trash")
    expect(child, PROMPT)
    child.send(f"/sessions restore {sid[:8]}\r")
    expect(child, "Restored session")
    expect(child, PROMPT)
    assert session_ids(sessions_dir) == [sid]
    assert "Resume with" not in finish(child)


def test_a_session_trashed_by_another_process_loses_no_message(spawn: Spawn, sessions_dir: Path) -> None:
    """Two processes: this REPL chats while ``chatcli sessions delete`` trashes its session. The
    next message is not lost and does not re-create half a session: the REPL says so and goes on
    in a new session; the trashed one stays whole and restorable."""
    child = spawn()
    expect(child, PROMPT)
    child.send("first words\r")
    expect(child, "Offline reply #1")
    expect(child, PROMPT)
    [sid] = session_ids(sessions_dir)
    other = chatcli(
        ["sessions", "--sessions-dir", str(sessions_dir), "delete", sid, "--yes"], cwd=sessions_dir.parent
    )
    assert other.code == 0 and f"chatcli sessions restore {sid[:8]}" in other.out, other.out

    child.send("are you still there?\r")
    expect(child, rf"Session {sid[:8]} was moved to the trash")
    expect(child, rf"/sessions restore {sid[:8]}")
    expect(child, PROMPT)
    [new] = session_ids(sessions_dir)
    assert new != sid
    repo = FileRepository(sessions_dir)
    users = [m.content for m in repo.load_messages(new).messages if m.role == "user"]
    assert users == ["first words", "are you still there?"]
    (trashed,) = repo.trashed()
    assert trashed.session_id == sid and trashed.metadata.message_count == 2
    assert len(repo.trashed_messages(trashed.trash_id).messages) == 2
    finish(child)


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
