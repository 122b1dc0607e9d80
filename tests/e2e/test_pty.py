"""End to end: the real ``chatcli`` binary in a pseudo-terminal, driven with pexpect.

Every wait is bounded; on a timeout the assertion message carries the screen so far with the
ANSI sequences stripped, so a failure shows what the user would have seen.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pexpect
import pyte
import pytest

from chatcli.session.store import FileRepository
from tests.helpers import ago, chatcli, running_llmock, seed, write_corpus

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
    """Start ``chatcli ARGS`` in a 40x120 terminal (or ``size=(rows, columns)``) with sessions,
    home and logs under tmp_path."""
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

    def start(*args: str, size: tuple[int, int] = (40, 120), cpr: bool = False) -> pexpect.spawn:
        """``cpr``: the test answers prompt_toolkit's cursor position requests (a :class:`Terminal`
        does), so the bottom bar is drawn at the bottom of the window as in a real terminal."""
        child = pexpect.spawn(
            CHATCLI[0],
            [*CHATCLI[1:], "--backend", "offline", *args],
            env={k: v for k, v in env.items() if not (cpr and k == "PROMPT_TOOLKIT_NO_CPR")},
            cwd=str(tmp_path),
            dimensions=size,
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


# --------------------------------------------------------------------------- issue 12: narrow windows


class Terminal(pyte.Screen):
    """What a user sees: a terminal emulator fed with everything the child prints, answering its
    cursor position requests, with a scrollback.

    The scrollback gets the lines that scroll off the top and, like tmux (``scroll-on-clear``)
    and many emulators, the lines of a cleared screen up to its last used one: an erase of the
    whole screen, or an erase from the top-left corner down.
    """

    def __init__(self, child: pexpect.spawn, size: tuple[int, int]) -> None:
        rows, columns = size
        super().__init__(columns, rows)
        self.child = child
        self.stream = pyte.Stream(self)
        self.scrollback: list[str] = []
        child.logfile_read = self

    # pexpect's logfile interface: every string the child printed
    def write(self, data: str) -> None:
        self.stream.feed(data)

    def flush(self) -> None:
        pass

    def write_process_input(self, data: str) -> None:
        self.child.send(data)  # the answer to a cursor position request

    def index(self) -> None:
        if self.cursor.y == self.lines - 1 and not self.margins:
            self.scrollback.append(self.display[0].rstrip())
        super().index()

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        if how == 2 or (how == 0 and (self.cursor.x, self.cursor.y) == (0, 0)):
            used = [line.rstrip() for line in self.display]
            while used and not used[-1]:
                used.pop()
            self.scrollback += used
        super().erase_in_display(how, *args, **kwargs)

    def rows(self) -> list[str]:
        """The screen's lines, trailing blanks removed."""
        return [line.rstrip() for line in self.display]

    def settle(self, done: Callable[[list[str]], bool], what: str) -> list[str]:
        """Read the child's output until ``done(rows)`` holds; the rows."""
        deadline = time.monotonic() + TIMEOUT
        while not done(self.rows()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {what}:\n" + "\n".join(self.rows()))
            self.child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=0.05)
        return self.rows()


def in_terminal(spawn: Spawn, *args: str, size: tuple[int, int]) -> tuple[pexpect.spawn, Terminal]:
    child = spawn(*args, size=size, cpr=True)
    return child, Terminal(child, size)


def toolbar_at_bottom(rows: list[str]) -> bool:
    return rows[-1].lstrip().startswith("session:")


def test_clear_leaves_no_blank_screen_or_stale_bar_in_the_scrollback(spawn: Spawn) -> None:
    """Issue 12 item 19: /clear left a screenful of blanks, a stale bottom bar and sometimes an
    open completion menu in the scrollback."""
    child, term = in_terminal(spawn, size=(24, 80))
    expect(child, PROMPT)
    child.send("remember the blue door\r")
    expect(child, "Offline reply #1")
    expect(child, PROMPT)
    for _ in range(3):
        term.settle(toolbar_at_bottom, "the bottom bar")
        child.send("/cle")
        term.settle(lambda rows: any("Clear the screen" in row for row in rows), "the completion menu")
        child.send("ar\r")
        # The next prompt, empty, with its bar (the line of the one answered reads "you › /clear").
        term.settle(lambda rows: "you ›" in rows and toolbar_at_bottom(rows), "a new prompt")
    assert "remember the blue door" in "\n".join(term.scrollback)  # the chat is still there
    assert not any("session:" in line or "Clear the screen" in line for line in term.scrollback)
    assert "\n\n\n" not in "\n".join(term.scrollback), term.scrollback
    rows = term.rows()
    assert rows[0].startswith("(screen cleared; you are in session"), rows
    assert rows[1] == "you ›"
    assert [row for row in rows if row] == [rows[0], rows[1], rows[-1]]  # no menu, no second bar
    finish(child)


@pytest.mark.parametrize("columns", [80, 50])
def test_help_fits_a_24_row_window(spawn: Spawn, columns: int) -> None:
    """Issue 12 item 18: /help was over 32 lines and scrolled off a 24-row window."""
    child, term = in_terminal(spawn, size=(24, columns))
    expect(child, PROMPT)
    child.send("/help\r")
    expect(child, "doctor")
    expect(child, PROMPT)
    rows = term.settle(toolbar_at_bottom, "the bottom bar")
    screen_text = "\n".join(rows)
    assert "you › /help" in screen_text and "chatcli commands" in screen_text, screen_text
    for usage in ("/new", "/resume [ID]", "/retry", "/clear", "/quit", "/sessions COMMAND"):
        assert f"\n  {usage}" in screen_text or f"\n{usage}" in screen_text, usage
    finish(child)


def test_sessions_alone_lists_recent_sessions_with_a_hint(spawn: Spawn, sessions_dir: Path) -> None:
    """Issue 12 item 18: /sessions alone printed the help."""
    seed_two(sessions_dir)
    child, term = in_terminal(spawn, size=(24, 80))
    expect(child, PROMPT)
    child.send("/sessions\r")
    expect(child, "Recent sessions")
    expect(child, r"More: /sessions list · commands: /help sessions")
    expect(child, PROMPT)
    rows = "\n".join(term.rows())
    assert "alpha-proj" in rows and "beta-proj" in rows
    assert "Usage" not in rows
    finish(child)


LOGGING = "How do I configure the logging module so that it writes to "


def seed_lookalikes(sessions_dir: Path) -> list[str]:
    """Two unnamed sessions whose first messages start alike, and a named one; their ids."""
    repo = FileRepository(sessions_dir)
    return [
        seed(repo, LOGGING + "a rotating file?", replies=["x"], when=ago(3.5)).id,  # last active 3m29s ago
        seed(repo, LOGGING + "syslog instead?", replies=["x"], when=ago(30)).id,
        seed(repo, "fix the login page", replies=["x"], when=ago(300), name="fix-login").id,
    ]


@pytest.mark.parametrize("columns", [100, 80, 50])
def test_the_picker_lays_out_rows_by_priority(spawn: Spawn, sessions_dir: Path, columns: int) -> None:
    """Issue 12 item 10: names padded to 30 columns, first messages cut without an ellipsis, and
    at 50 columns no first message at all, so unnamed rows looked identical."""
    first, second, named = seed_lookalikes(sessions_dir)
    child, term = in_terminal(spawn, "--resume", size=(24, columns))
    expect(child, "Esc cancels")
    rows = term.settle(lambda rows: any(named[:8] in row for row in rows), "the rows")
    by_id = {sid: next(row for row in rows if row.endswith(sid[:8])) for sid in (first, second, named)}
    assert by_id[first] != by_id[second]
    assert by_id[first].startswith("  How do I configure the l")
    assert "…" in by_id[first] or columns >= 100
    assert re.search(r"  3m ago  [0-9a-f]{8}$", by_id[first])
    assert by_id[named].startswith("  fix-login  fix the login")
    assert all(len(row) < columns for row in rows)
    child.send(ESC)
    expect(child, "No session chosen.")
    expect(child, pexpect.EOF)


def test_sessions_list_in_a_narrow_terminal(spawn: Spawn, sessions_dir: Path) -> None:
    """``sessions list`` at 50 columns: the name and the first message share the room left."""
    first, second, named = seed_lookalikes(sessions_dir)
    child = pexpect.spawn(
        CHATCLI[0],
        [*CHATCLI[1:], "--sessions-dir", str(sessions_dir), "sessions", "list"],
        env={**os.environ, "TERM": "xterm-256color", "NO_COLOR": "1"},
        dimensions=(24, 50),
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    expect(child, pexpect.EOF)
    lines = screen(child).splitlines()
    row = {sid: next(line for line in lines if sid[:8] in line) for sid in (first, second, named)}
    assert "fix-login  fix the login" in row[named]
    assert "How do I configure the" in row[first] and "…" in row[first]
    assert all(len(line) <= 50 for line in lines)


def test_system_prompt_and_tokens_through_the_binary_against_llmock(
    spawn: Spawn, sessions_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(The bottom bar needs a terminal that answers cursor-position requests, which pexpect does
    not: its token count is checked in tests/chat/test_llmock.py.)"""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with running_llmock(tmp_path) as server:
        base = ("--backend", "openai", "--base-url", server.url + "/v1")
        child = spawn(*base, "--system", "Be brief.")
        expect(child, PROMPT)
        child.send("hi\r")
        expect(child, "Simulated")
        expect(child, PROMPT)
        finish(child)
        [sid] = session_ids(sessions_dir)
        [body] = server.raw_bodies()
        assert body["stream_options"] == {"include_usage": True}
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        usage = server.usage_for(body)

        again = spawn(*base, "--resume", sid)  # no --system: the session keeps its own
        expect(again, PROMPT)
        again.send("more\r")
        expect(again, "Simulated")
        expect(again, PROMPT)
        finish(again)
        last = server.raw_bodies()[-1]
        assert last["messages"][0] == {"role": "system", "content": "Be brief."}
        total = usage["total_tokens"] + server.usage_for(last)["total_tokens"]

    show = chatcli(
        ["sessions", "show", sid, "--json"], cwd=tmp_path, env={"CHATCLI_SESSIONS_DIR": str(sessions_dir)}
    )
    detail = json.loads(show.out)
    assert detail["system_prompt"] == "Be brief."
    assert detail["session"]["usage"]["total_tokens"] == total
    assert detail["session"]["usage"]["replies"] == 2


# --------------------------------------------------------------------------- issue 14: pins and tags


def test_the_picker_lists_a_pinned_session_first_and_tags_complete(spawn: Spawn, sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    seed(repo, "alpha question", replies=["alpha answer"], when=ago(5), name="alpha-proj")
    beta = seed(repo, "beta question", replies=["beta answer"], when=ago(10), name="beta-proj")
    repo.update(beta.id, lambda m: (m.pin(), m.add_tags(["backend"])))

    child = spawn("--resume")
    expect(child, "Resume which session")
    child.send("\r")  # the first row: the pinned session, though alpha is newer
    expect(child, "Resumed session beta-proj")
    expect(child, PROMPT)
    child.send("/sessions untag . ba\t")
    expect(child, "backend")
    child.send("\r")
    expect(child, "Untagged")
    expect(child, PROMPT)
    finish(child)
    assert repo.get(beta.id).tags == [] and repo.get(beta.id).pinned


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
    expect(child, re.escape("4 matches for 'token'"))
    expect(child, PROMPT)  # the rows come between the heading and the next prompt
    rows = [
        line
        for line in screen(child).splitlines()
        if "token " in line and ("user" in line or "assistant" in line)
    ]
    assert len(rows) == 4, screen(child)
    child.send('/sessions search "token\r')
    expect(child, "No closing quotation")  # the REPL's command line is read first
    expect(child, PROMPT)
    finish(child)


# --------------------------------------------------------------------------- issue 15: the session browser


def test_the_browser_finds_by_content_previews_renames_pins_and_trashes(
    spawn: Spawn, sessions_dir: Path
) -> None:
    repo = FileRepository(sessions_dir)
    target = seed(repo, "a question about birds", replies=["the flamingo migrates south"], when=ago(30))
    seed(repo, "other work", replies=["nothing to see"], when=ago(5), name="notes")
    seed(repo, "more work", replies=["still nothing"], when=ago(10))
    child, term = in_terminal(spawn, "--resume", size=(30, 100))
    term.settle(lambda rows: any("Tab preview" in row for row in rows), "the keys line")
    child.send("flamingo")  # only inside a reply: found through the content index
    rows = term.settle(lambda rows: any("↳ the flamingo migrates" in row for row in rows), "the snippet")
    assert any("1 of 3 sessions" in row for row in rows)
    assert any(row.startswith("  a question about birds") for row in rows)
    child.send("\t")
    term.settle(lambda rows: any("assistant: the flamingo migrates south" in row for row in rows), "preview")
    child.send("\x12")  # Ctrl-R
    term.settle(lambda rows: any("new name ›" in row for row in rows), "the name prompt")
    child.send("birds\r")
    term.settle(lambda rows: any("Renamed to birds." in row for row in rows), "the rename")
    assert repo.get(target.id).name == "birds"
    child.send("\x10")  # Ctrl-P
    term.settle(lambda rows: any(row.startswith("* birds") for row in rows), "the pin mark")
    assert repo.get(target.id).pinned
    child.send("\x04")  # Ctrl-D
    term.settle(
        lambda rows: any("Move pinned session birds to the trash? y/N" in row for row in rows), "the question"
    )
    child.send("y")
    term.settle(lambda rows: any("Moved birds to the trash" in row for row in rows), "the delete")
    assert target.id not in session_ids(sessions_dir)
    assert [t.metadata.id for t in repo.trashed()] == [target.id]
    child.send(ESC)
    expect(child, "No session chosen.")
    expect(child, pexpect.EOF)


def _other_project(tmp_path: Path) -> tuple[Path, str]:
    """A session in another project, remembered in the registry as chatcli would have."""
    from chatcli.session.projects import ProjectRegistry, data_dir

    other = tmp_path / "elsewhere" / ".amazonq" / "sessions"
    meta = seed(FileRepository(other), "the lighthouse plan", replies=["noted"])
    assert ProjectRegistry(data_dir()).remember(other) is None
    return other, meta.id


def test_the_browser_lists_every_project_and_resumes_one_in_its_store(
    spawn: Spawn, sessions_dir: Path, tmp_path: Path
) -> None:
    """Ctrl-O in ``chatcli --resume`` lists another project's sessions (the registry is in the
    data folder under tmp_path); the one chosen is continued in that project's store."""
    mine = seed(FileRepository(sessions_dir), "the garden plan", replies=["ok"], when=ago(5))
    other, sid = _other_project(tmp_path)
    child, term = in_terminal(spawn, "--resume", size=(30, 120))
    term.settle(lambda rows: any("^O all projects" in row for row in rows), "the key in the status line")
    assert not any("lighthouse" in row for row in term.rows())
    child.send("\x0f")  # Ctrl-O
    rows = term.settle(lambda rows: any("2 of 2 sessions in every project" in row for row in rows), "all")
    assert any("the lighthouse plan" in row and "elsewhere" in row for row in rows)
    child.send("lighthouse")
    term.settle(lambda rows: any("1 of 2 sessions in every project" in row for row in rows), "the filter")
    child.send("\r")
    expect(child, "is in project")
    expect(child, f"Resumed session {sid[:8]}")
    expect(child, PROMPT)
    child.send("and the keeper?\r")
    expect(child, "Offline reply #2")
    expect(child, PROMPT)
    assert f"--sessions-dir {other} --resume" in finish(child)
    lines = (other / sid / "conversation.jsonl").read_text().splitlines()
    assert [json.loads(line)["content"] for line in lines][2] == "and the keeper?"
    assert FileRepository(sessions_dir).get(mine.id).message_count == 2  # project A untouched


def test_resume_with_no_session_here_opens_on_every_projects_sessions(
    spawn: Spawn, sessions_dir: Path, tmp_path: Path
) -> None:
    other, sid = _other_project(tmp_path)
    child, term = in_terminal(spawn, "--resume", size=(30, 120))
    term.settle(lambda rows: any("1 of 1 sessions in every project" in row for row in rows), "every project")
    child.send("\r")
    expect(child, f"Resumed session {sid[:8]}")
    expect(child, PROMPT)
    assert f"--sessions-dir {other} --resume" in finish(child)
    assert session_ids(sessions_dir) == []


def test_resume_of_another_projects_session_continues_in_its_store(
    spawn: Spawn, sessions_dir: Path, tmp_path: Path
) -> None:
    other, sid = _other_project(tmp_path)
    child = spawn("--resume", sid[:8])
    expect(child, "is in project")
    expect(child, f"Resumed session {sid[:8]}")
    expect(child, PROMPT)
    child.send("and the keeper?\r")
    expect(child, "Offline reply #2")
    expect(child, PROMPT)
    assert f"--sessions-dir {other} --resume" in finish(child)
    lines = (other / sid / "conversation.jsonl").read_text().splitlines()
    assert [json.loads(line)["content"] for line in lines][2] == "and the keeper?"
    assert session_ids(sessions_dir) == []


def test_slash_resume_reaches_another_project(spawn: Spawn, sessions_dir: Path, tmp_path: Path) -> None:
    other, sid = _other_project(tmp_path)
    child = spawn()
    expect(child, PROMPT)
    child.send(f"/resume {sid[:8]}\r")
    expect(child, "is in project")
    expect(child, f"Resumed session {sid[:8]}")
    expect(child, PROMPT)
    child.send("lamp oil\r")
    expect(child, "Offline reply #2")
    expect(child, PROMPT)
    child.send("/sessions list --all-projects\r")
    expect(child, "Sessions of 1 project")
    expect(child, PROMPT)
    finish(child)
    contents = [
        json.loads(line)["content"] for line in (other / sid / "conversation.jsonl").read_text().splitlines()
    ]
    assert "lamp oil" in contents
    assert session_ids(sessions_dir) == []


def test_import_shows_a_progress_bar_on_a_terminal_only(tmp_path: Path, sessions_dir: Path) -> None:
    """On a terminal ``sessions import`` draws a bar while it works; piped, it prints none."""
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 300, 1)
    child = pexpect.spawn(
        CHATCLI[0],
        [*CHATCLI[1:], "sessions", "--sessions-dir", str(sessions_dir), "import", str(corpus)],
        cwd=str(tmp_path),
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    expect(child, "Importing corpus.jsonl")
    expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, screen(child)
    assert len(session_ids(sessions_dir)) == 300
    piped = chatcli(
        ["sessions", "--sessions-dir", str(tmp_path / "piped"), "import", str(corpus)], cwd=tmp_path
    )
    assert piped.code == 0 and "Importing" not in piped.out + piped.err, piped
