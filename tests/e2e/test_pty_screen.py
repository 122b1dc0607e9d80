"""In a terminal: what the screen shows (/clear, help, listings, narrow windows, the picker's rows)
and a chat against llmock.

End to end: the real ``chatcli`` binary in a pseudo-terminal, driven with pexpect
(:mod:`tests.helpers.pty`). Every wait is bounded; on a timeout the assertion message carries the
screen so far with the ANSI sequences stripped, so a failure shows what the user would have seen."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pexpect
import pytest

from chatcli.session.store import FileRepository
from tests.helpers import ago, chatcli, running_llmock, seed
from tests.helpers.pty import (
    CHATCLI,
    ESC,
    PROMPT,
    TIMEOUT,
    Spawn,
    expect,
    finish,
    in_terminal,
    screen,
    seed_two,
    session_ids,
)

pytestmark = pytest.mark.slow


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
