"""The REPL: another process renaming, changing, deleting or appending to the current session; the
farewell, hostile text, and /clear.

The REPL loop driven in-process: a pipe for the keyboard, a dummy screen, a text console."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from prompt_toolkit.buffer import CompletionState
from prompt_toolkit.completion import Completion
from prompt_toolkit.data_structures import Size
from prompt_toolkit.output.vt100 import Vt100_Output
from rich.console import Console

import chatcli.repl.app as app_module
from chatcli.commands.results import ClearAction
from chatcli.session.location import SessionsLocation
from chatcli.session.models import Message
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import MakeRepl, Repl, contents, only_session, toolbar, until

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


# --------------------------------------------------------------------------- other processes


def test_rename_by_another_process_reaches_the_toolbar(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        assert r.app.current_id is not None
        other = SessionService(FileRepository(r.root))
        other.rename(r.app.current_id, "renamed-elsewhere")
        await r.app._refresh_snapshot()
        assert r.app.session_label() == "renamed-elsewhere"
        assert "session: renamed-elsewhere " in toolbar(r)

    repl.drive(scenario)

    assert "Resume with: chatcli --resume renamed-elsewhere" in repl.output


def test_the_watcher_notices_changes_by_another_process(repl: Repl, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "WATCH_INTERVAL", 0.05)

    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        assert r.app.current_id is not None
        other = SessionService(FileRepository(r.root))
        other.archive(r.app.current_id)
        other.rename(r.app.current_id, "seen")
        await until(lambda: r.app.session_label() == "seen", timeout=3, what="the watcher")
        assert r.app.meta is not None
        assert r.app.meta.is_archived

    repl.drive(scenario)


def test_delete_by_another_process_continues_in_a_new_session(repl: Repl) -> None:
    old: list[str] = []

    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        assert r.app.current_id is not None
        old.append(r.app.current_id)
        SessionService(FileRepository(r.root)).delete(r.app.current_id)
        r.type("still there?\r")
        await until(lambda: len(r.app.messages) == 4)

    repl.drive(scenario)

    sid = only_session(repl)
    assert sid != old[0]
    saved = contents(repl, sid)
    assert [c for role, c in saved if role == "user"] == ["hello", "still there?"]
    assert "Offline reply #2" in saved[3][1]
    assert repl.repo.get(sid).message_count == 4
    said = " ".join(repl.output.split())  # as read, whatever the line breaks
    assert "was moved to the trash (or deleted) elsewhere" in said
    assert f"/sessions restore {old[0][:8]}" in said
    (trashed,) = repl.repo.trashed()  # the old session is whole in the trash, not re-created
    assert trashed.session_id == old[0] and trashed.metadata.message_count == 2


def test_appends_by_another_process_are_kept(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        assert r.app.current_id is not None
        other = SessionService(FileRepository(r.root))
        other.append(r.app.current_id, Message(role="user", content="from the other terminal"))
        r.type("from this one\r")
        await until(lambda: len(r.app.messages) == 4)

    repl.drive(scenario)

    users = [c for role, c in contents(repl, only_session(repl)) if role == "user"]
    assert users == ["hello", "from the other terminal", "from this one"]


# --------------------------------------------------------------------------- exit and hostile text


def test_farewell_names_the_sessions_dir_given_by_flag(repl: Repl, tmp_path: Path) -> None:
    folder = tmp_path / "my sessions"
    repl.app.location = SessionsLocation(folder, "flag", (folder,))

    repl.run("hello\r")

    sid = only_session(repl)
    assert f"Resume with: chatcli --sessions-dir '{folder}' --resume {sid[:8]}" in repl.output


def test_hostile_text_is_shown_literally_and_stored_exactly(make_repl: MakeRepl) -> None:
    hostile = "look [bold red]x[/] here \x1b[2J and \x1b]52;c;aGk=\x07 end"
    console = Console(width=100, force_terminal=True, color_system="standard")
    r = make_repl(console=console)

    async def scenario(r: Repl) -> None:
        r.type(PASTE_START + hostile + PASTE_END + "\r")
        await until(lambda: len(r.app.messages) == 2)
        r.type(f"/resume {r.app.current_id}\r")
        await until(lambda: "Resumed session" in r.output)

    r.drive(scenario)

    saved = contents(r, only_session(r))
    assert saved[0] == ("user", hostile)
    assert hostile in saved[1][1]
    out = r.output
    for raw in ("\x1b[2J", "\x1b]52", "\x07"):
        assert raw not in out
    assert "[bold red]x[/]" in out
    assert "␛[2J" in out
    assert "␛]52;c;aGk=␇" in out


def test_clear_erases_below_the_prompt_before_the_screen_and_drops_the_menu(repl: Repl) -> None:
    """Issue 12 item 19: what the last prompt left below its line (the bottom bar, a menu) is
    erased from the cursor down first, then the screen; a line then names the session."""
    written = io.StringIO()
    repl.app.prompt.app.output = Vt100_Output(written, lambda: Size(rows=24, columns=80), term="xterm")
    buffer = repl.app.prompt.default_buffer
    buffer.complete_state = CompletionState(buffer.document, [Completion("clear", -3)])
    repl.app.apply(ClearAction())
    assert buffer.complete_state is None
    raw = written.getvalue()
    assert raw.index("\r\x1b[J") < raw.index("\x1b[2J") < raw.index("\x1b[0;0H")
    assert "(screen cleared; you are in a new session)" in repl.output
