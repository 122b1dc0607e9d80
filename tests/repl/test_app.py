"""The REPL loop driven in-process: a pipe for the keyboard, a dummy screen, a text console."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from prompt_toolkit.buffer import CompletionState
from prompt_toolkit.completion import Completion
from prompt_toolkit.data_structures import Size
from prompt_toolkit.output.vt100 import Vt100_Output
from rich.console import Console

import chatcli.repl.app as app_module
from chatcli.chat.backend import BackendConnectionError, StreamInterrupted
from chatcli.commands.results import ClearAction
from chatcli.render.terminal import render
from chatcli.render.transcript import RESUME_SHOWN
from chatcli.session.errors import StorageError
from chatcli.session.location import SessionsLocation
from chatcli.session.models import Message, SessionStatus
from chatcli.session.outcomes import ListResult
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository, durable
from tests.helpers import CTRL_C, ESC_ENTER, MakeRepl, Repl, ScriptedBackend, ago, seed, until

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


def only_session(r: Repl) -> str:
    """The id of the one session on disk (fails if there is not exactly one)."""
    dirs = r.session_dirs()
    assert len(dirs) == 1, dirs
    return dirs[0].name


def contents(r: Repl, session_id: str) -> list[tuple[str, str]]:
    """(role, content) of every saved message of a session."""
    return [(line["role"], line["content"]) for line in r.lines(session_id)]


def toolbar(r: Repl) -> str:
    """The bottom toolbar's text."""
    return "".join(text for _, text, *_ in r.app._toolbar())


# --------------------------------------------------------------------------- chatting and saving


def test_chat_turns_are_saved_as_they_complete(repl: Repl) -> None:
    assert repl.run("hello\r", "how are you?\r") == 0

    sid = only_session(repl)
    saved = contents(repl, sid)
    assert [role for role, _ in saved] == ["user", "assistant", "user", "assistant"]
    assert saved[0][1] == "hello"
    assert saved[2][1] == "how are you?"
    assert "Offline reply #1" in saved[1][1]
    assert "Offline reply #2" in saved[3][1]
    meta = repl.repo.get(sid)
    assert meta.message_count == 4
    assert meta.first_message == "hello"
    assert [m.content for m in repl.app.messages] == [content for _, content in saved]
    assert "Offline reply #2" in repl.output


def test_empty_start_and_quit_leaves_nothing_on_disk(repl: Repl) -> None:
    assert repl.run("\r", "   \r", "/help\r", "/sessions list\r") == 0

    assert not repl.root.exists()
    assert "No active sessions yet" in repl.output
    assert "Resume with" not in repl.output


def test_quit_command_leaves_and_says_how_to_come_back(repl: Repl) -> None:
    assert repl.run("hello\r", "/quit\r") == 0

    sid = only_session(repl)
    assert repl.output.rstrip().endswith(f"Resume with: chatcli --resume {sid[:8]}")


def test_resume_by_a_prefix_that_is_also_an_old_name_reaches_the_ids_owner(repl: Repl) -> None:
    """An older version let a session be named after another's short id: ``/resume`` of that
    prefix reaches the id's owner, and leaving the named one suggests its id, never the name."""
    owner = seed(repl.repo, "owner", session_id="1a717050-3c2b-4a19-8f00-5d6e7f809a1b")
    named = seed(repl.repo, "named", session_id="2b828161-4d3c-4b2a-9011-6e7f8091ab2c")
    repl.repo.update(named.id, lambda m: setattr(m, "name", "1a717050"))  # as an older version did

    async def scenario(r: Repl) -> None:
        r.type("/resume 1a717050\r")
        await until(lambda: r.app.current_id == owner.id, what="the prefix's owner")
        r.type(f"/resume {named.id[:8]}\r")
        await until(lambda: r.app.current_id == named.id, what="the named session, by its id")
        assert r.app.session_label() == "1a717050"

    repl.drive(scenario)

    ref = repl.output.rstrip().rsplit("Resume with: chatcli --resume ", 1)[1]
    assert ref != "1a717050" and named.id.startswith(ref)
    assert repl.service.resolve(ref).id == named.id


def test_toolbar_shows_session_backend_and_count(make_repl: MakeRepl) -> None:
    r = make_repl()
    assert "session: new session" in toolbar(r)
    assert "offline/echo" in toolbar(r)
    assert "0 messages" in toolbar(r)

    r.run("hello\r")

    sid = only_session(r)
    assert f"session: {sid[:8]} " in toolbar(r)
    assert "2 messages" in toolbar(r)


def test_esc_enter_inserts_a_newline_and_enter_sends(repl: Repl) -> None:
    repl.run("line one", ESC_ENTER, "line two\r")

    assert contents(repl, only_session(repl))[0] == ("user", "line one\nline two")


def test_double_slash_sends_a_literal_slash(repl: Repl) -> None:
    repl.run("//etc is a folder\r")

    assert contents(repl, only_session(repl))[0] == ("user", "/etc is a folder")


def test_ctrl_c_cancels_the_input_line_without_leaving(repl: Repl) -> None:
    repl.run("a draft", CTRL_C, "the real message\r")

    saved = contents(repl, only_session(repl))
    assert [content for role, content in saved if role == "user"] == ["the real message"]


# --------------------------------------------------------------------------- commands


def test_sessions_list_mid_chat(repl: Repl) -> None:
    repl.run("hello\r", "/sessions list\r")

    sid = only_session(repl)
    assert "Sessions (1)" in repl.output
    assert sid[:8] in repl.output


def test_json_option_mid_chat_prints_the_command_lines_json_document(repl: Repl) -> None:
    repl.run("hello\r", "/sessions list --json\r")

    sid = only_session(repl)
    start = repl.output.index("{")
    document, _ = json.JSONDecoder().raw_decode(repl.output[start:])
    assert [s["id"] for s in document["sessions"]] == [sid]
    assert "Sessions (1)" not in repl.output  # the table is not printed as well


def test_naming_the_current_session_shows_in_the_toolbar_at_once(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2, what="the first exchange")
        assert r.app.current_id is not None
        r.type(f"/sessions name {r.app.current_id[:8]} foo\r")
        await until(lambda: r.app.session_label() == "foo", what="the new name")
        assert "session: foo " in toolbar(r)

    repl.drive(scenario)

    assert repl.repo.get(only_session(repl)).name == "foo"
    assert "Resume with: chatcli --resume foo" in repl.output


def test_archiving_the_current_session_keeps_chatting_possible(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        r.type("/sessions archive\r")  # no ID in the chat: the session in use
        await until(lambda: r.app.meta is not None and r.app.meta.is_archived, what="archived")
        assert "(archived)" in toolbar(r)
        r.type("still here\r")
        await until(lambda: len(r.app.messages) == 4, what="the second exchange")

    repl.drive(scenario)

    sid = only_session(repl)
    assert contents(repl, sid)[2] == ("user", "still here")
    meta = repl.repo.get(sid)
    assert meta.message_count == 4
    assert meta.status is SessionStatus.ARCHIVED
    assert "Usage:" not in repl.output


def test_new_then_a_message_starts_a_second_session(repl: Repl) -> None:
    repl.run("first\r", "/new\r", "second\r")

    dirs = repl.session_dirs()
    assert len(dirs) == 2
    firsts = sorted(repl.repo.get(d.name).first_message for d in dirs)
    assert firsts == ["first", "second"]
    assert repl.app.messages[0].content == "second"
    assert "Started a new session" in repl.output


def test_resume_restores_history_and_reply_numbering_continues(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("one\r", "two\r")
        await until(lambda: len(r.app.messages) == 4)
        first_id = r.app.current_id
        assert first_id is not None
        r.type(f"/sessions name {first_id} proj\r", "/new\r", "elsewhere\r")
        await until(lambda: len(r.app.messages) == 2 and r.app.current_id not in (None, first_id))
        r.type("/resume proj\r")
        await until(lambda: r.app.current_id == first_id, what="the resumed session")
        assert [m.content for m in r.app.messages] == [c for _, c in contents(r, first_id)]
        r.type("three\r")
        await until(lambda: len(r.app.messages) == 6)

    repl.drive(scenario)

    assert "Resumed session proj" in repl.output
    resumed_part = repl.output.split("Resumed session proj", 1)[1]
    assert "two" in resumed_part
    assert "Offline reply #2" in resumed_part
    assert "Offline reply #3" in repl.app.messages[-1].content


def test_resume_by_id_prefix_of_a_saved_session(repl: Repl) -> None:
    meta = seed(repl.repo, "an old question", replies=["an old answer"], when=ago(60))

    repl.run(f"/resume {meta.id[:6]}\r", "next\r")

    assert repl.app.current_id == meta.id
    assert "an old question" in repl.output
    assert "an old answer" in repl.output
    assert contents(repl, meta.id)[2] == ("user", "next")
    assert "Offline reply #2" in contents(repl, meta.id)[3][1]


def test_resume_shows_only_the_last_exchanges(repl: Repl) -> None:
    meta = seed(repl.repo, "question 0", replies=["answer 0"], when=ago(60))
    for i in range(1, 5):
        repl.service.append(meta.id, Message(role="user", content=f"question {i}"))
        last = i == 4
        repl.service.append(meta.id, Message(role="assistant", content=f"answer {i}", interrupted=last))

    repl.run(f"/resume {meta.id}\r")

    assert "(10 messages" in repl.output
    assert f"… {10 - RESUME_SHOWN} earlier messages not shown" in repl.output
    assert "question 1" not in repl.output
    assert "question 2" in repl.output
    assert "(interrupted)" in repl.output
    assert len(repl.app.messages) == 10


def test_deleting_the_current_session_after_yes_starts_a_fresh_one(repl: Repl) -> None:
    old: list[str] = []

    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        assert r.app.current_id is not None
        old.append(r.app.current_id)
        r.type(f"/sessions delete {r.app.current_id} \r", "y\r")
        await until(lambda: r.app.meta is None, what="the deletion")
        assert not (r.root / old[0]).exists()
        assert r.app.messages == []
        r.type("fresh start\r")
        await until(lambda: len(r.app.messages) == 2)

    repl.drive(scenario)

    sid = only_session(repl)
    assert sid != old[0]
    assert contents(repl, sid)[0] == ("user", "fresh start")
    assert "Offline reply #1" in contents(repl, sid)[1][1]
    assert "you are now in a new session" in repl.output


def test_deleting_the_current_session_answered_no_keeps_it(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        r.type(f"/sessions delete {r.app.current_id}\r", "n\r")
        await until(lambda: "Nothing was deleted" in r.output)
        r.type("more\r")
        await until(lambda: len(r.app.messages) == 4)

    repl.drive(scenario)

    sid = only_session(repl)
    assert repl.app.current_id == sid
    assert len(contents(repl, sid)) == 4


def test_unknown_command_suggests_and_does_not_crash(repl: Repl) -> None:
    assert repl.run("/sesions lst\r", "/frobnicate\r", "hello\r") == 0

    assert "did you mean /sessions l" in repl.output
    assert "'/frobnicate' is not a command" in repl.output
    assert "Traceback" not in repl.output
    assert "Offline reply #1" in repl.output


def test_bad_arguments_show_a_usage_line(repl: Repl) -> None:
    repl.run("/sessions list --limit many\r", "/sessions delete\r", "/resume\r")

    assert "--limit must be a whole number" in repl.output
    assert "Usage: /sessions list" in repl.output
    assert "missing ID" in repl.output
    assert "Usage: /sessions delete" in repl.output
    assert "No saved sessions to resume yet." in repl.output  # /resume alone opens the picker
    assert not repl.root.exists()


def test_help_lists_commands_and_option_help_shows_one(repl: Repl) -> None:
    repl.run("/help\r", "/help sessions\r", "/sessions list --help\r")

    assert "chatcli commands" in repl.output
    assert "/sessions delete [--yes]" in repl.output  # on the /help sessions page
    assert "Usage: /sessions list" in repl.output


@pytest.mark.parametrize(
    ("failure", "shown"),
    [
        (RuntimeError("the table fell over"), "Unexpected error: RuntimeError: the table fell over"),
        (StorageError("the disk went away"), "Storage error"),
    ],
)
def test_a_result_that_fails_to_render_is_an_error_panel_and_the_repl_goes_on(
    repl: Repl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception, shown: str
) -> None:
    monkeypatch.setenv("CHATCLI_LOG_DIR", str(tmp_path / "logs"))

    def broken_render(result: object, console: Console) -> None:
        if isinstance(result, ListResult):
            raise failure
        render(result, console)

    monkeypatch.setattr("chatcli.repl.app.render", broken_render)

    assert repl.run("/sessions list\r", "hello\r", "/help\r") == 0

    assert shown in repl.output
    assert "Traceback" not in repl.output
    assert "Offline reply #1" in repl.output
    assert "chatcli commands" in repl.output
    log = tmp_path / "logs" / "chatcli.log"
    if isinstance(failure, RuntimeError):
        assert "RuntimeError: the table fell over" in log.read_text()
    else:
        assert not log.exists()


def test_completion_snapshot_is_refreshed_after_the_first_message(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        assert r.app.snapshots.current().entries == ()
        r.type("hello\r")
        await until(lambda: len(r.app.snapshots.current().entries) == 1, what="the snapshot refresh")

    repl.drive(scenario)

    assert repl.app.snapshots.current().entries[0].id == only_session(repl)


def test_the_start_up_snapshot_refresh_waits_for_the_first_prompt(
    make_repl: MakeRepl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a big store the refresh takes CPU time that must not delay the first prompt: it starts
    once the prompt reports its first draw (or after FIRST_DRAW_WAIT if it never does)."""
    r = make_repl()
    refreshed: list[float] = []

    async def fake_refresh() -> None:
        refreshed.append(time.monotonic())

    monkeypatch.setattr(r.app, "_refresh_snapshot", fake_refresh)
    monkeypatch.setattr(app_module, "FIRST_DRAW_WAIT", 0.3)

    async def main() -> None:
        waiting = asyncio.ensure_future(r.app._first_refresh())
        await asyncio.sleep(0.1)
        assert refreshed == [], "refreshed before the prompt was drawn"
        drawn = time.monotonic()
        r.app.prompt.app.after_render.fire()
        await asyncio.wait_for(waiting, 1)
        assert len(refreshed) == 1 and refreshed[0] - drawn < 0.2, "not refreshed once drawn"
        started = time.monotonic()
        await asyncio.wait_for(r.app._first_refresh(), 2)  # never drawn: gives up waiting
        assert len(refreshed) == 2 and refreshed[1] - started >= 0.3

    asyncio.run(main())


# --------------------------------------------------------------------------- streaming and errors


def test_cancelling_a_streaming_reply_saves_what_arrived(make_repl: MakeRepl) -> None:
    backend = ScriptedBackend(chunks=("one ", "two ", "three ", "four"), delay=0.05)
    r = make_repl(backend)
    backend.after_chunk = lambda i: (len(backend.seen) == 1 and i == 1 and r.app.cancel_reply()) or None

    r.run("first\r", "second\r")

    sid = only_session(r)
    lines = r.lines(sid)
    assert [(line["role"], line["content"]) for line in lines] == [
        ("user", "first"),
        ("assistant", "one two "),
        ("user", "second"),
        ("assistant", "one two three four"),
    ]
    assert lines[1]["interrupted"] is True
    assert "interrupted" not in lines[3]
    assert r.app.messages[1].interrupted
    assert "reply interrupted" in r.output
    assert backend.closed == 2
    # The partial reply is part of the context of the next request.
    sent = [(m.role, m.content) for m in backend.seen[1]]
    assert sent[:2] == [("user", "first"), ("assistant", "one two ")]
    assert r.app.cancel_reply() is False


def test_sigint_while_streaming_cancels_only_the_reply(make_repl: MakeRepl) -> None:
    caught: list[int] = []

    def guard(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    backend = ScriptedBackend(chunks=("one ", "two ", "three ", "four"), delay=0.2)
    backend.after_chunk = lambda i: os.kill(os.getpid(), signal.SIGINT) if i == 0 else None
    r = make_repl(backend)
    previous = signal.signal(signal.SIGINT, guard)
    try:
        assert r.run("hello\r") == 0
        assert signal.getsignal(signal.SIGINT) is guard, "the REPL must restore the SIGINT handler"
    finally:
        signal.signal(signal.SIGINT, previous)

    assert caught == []
    line = r.lines(only_session(r))[1]
    assert line["content"] == "one "
    assert line["interrupted"] is True


def test_ctrl_c_during_a_slow_command_cancels_only_the_command(
    make_repl: MakeRepl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long search at 100,000 sessions must be stoppable without leaving the REPL."""
    caught: list[int] = []

    def guard(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    r = make_repl()
    r.service.start_session([Message(role="user", content="needle in here")])
    asked_to_stop: list[bool] = []
    original = r.service.search

    def slow_search(text: str, **kwargs: Any) -> Any:
        should_stop = kwargs["should_stop"]
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 5
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(0.01)
        asked_to_stop.append(should_stop())
        return original(text, **kwargs)

    monkeypatch.setattr(r.service, "search", slow_search)
    previous = signal.signal(signal.SIGINT, guard)
    try:

        async def scenario(repl: Repl) -> None:
            repl.type("/sessions search needle\r")
            await until(lambda: "Cancelled." in repl.output, what="the cancellation")
            await until(lambda: asked_to_stop, what="the search to be told to stop")
            repl.type("/sessions list\r")
            await until(lambda: "needle in here" in repl.output, what="the next command")

        assert r.drive(scenario) == 0
        assert signal.getsignal(signal.SIGINT) is guard, "the REPL must restore the SIGINT handler"
    finally:
        signal.signal(signal.SIGINT, previous)
    assert caught == [] and asked_to_stop == [True]
    assert "Traceback" not in r.output


def test_backend_error_is_shown_and_the_user_message_kept(make_repl: MakeRepl) -> None:
    backend = ScriptedBackend(chunks=(), fail_with=BackendConnectionError("http://localhost:9", "refused"))
    r = make_repl(backend)

    assert r.run("are you there?\r") == 0

    assert "Could not connect to http://localhost:9" in r.output
    assert "your message is saved, not answered: /retry sends it again" in " ".join(r.output.split())
    assert contents(r, only_session(r)) == [("user", "are you there?")]
    assert "Traceback" not in r.output


def test_backend_error_mid_reply_keeps_the_partial_reply(make_repl: MakeRepl) -> None:
    backend = ScriptedBackend(chunks=("half a ",), fail_with=StreamInterrupted("the connection dropped"))
    r = make_repl(backend)

    r.run("question\r")

    lines = r.lines(only_session(r))
    assert [line["content"] for line in lines] == ["question", "half a "]
    assert lines[1]["interrupted"] is True
    assert "The connection dropped" in r.output


def test_unexpected_backend_failure_is_contained_and_logged(
    make_repl: MakeRepl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATCLI_LOG_DIR", str(tmp_path / "logs"))
    backend = ScriptedBackend(chunks=("partial ",), fail_with=RuntimeError("boom"))
    r = make_repl(backend)

    assert r.run("hello\r", "again\r") == 0

    assert "Unexpected error" in r.output
    assert "Traceback" not in r.output
    lines = r.lines(only_session(r))
    assert [line["content"] for line in lines] == ["hello", "partial ", "again", "partial "]
    assert lines[1]["interrupted"] is True
    assert "RuntimeError: boom" in (tmp_path / "logs" / "chatcli.log").read_text()


def test_storage_error_on_the_first_message_puts_it_back(repl: Repl, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    async def scenario(r: Repl) -> None:
        monkeypatch.setattr(durable, "write_new", disk_full)  # a new session is written by create
        r.type("hello\r")
        await until(lambda: "back on the input line" in r.output, what="the storage error")
        assert r.app._pending_input == "hello"
        assert r.app.messages == []
        assert r.app.meta is None
        assert r.session_dirs() == []
        assert [p.name for p in r.root.iterdir() if p.name.startswith(".staging")] == []
        monkeypatch.undo()
        r.type("\r")  # the message is back on the input line: Enter sends it again
        await until(lambda: len(r.app.messages) == 2, what="the resent message")

    repl.drive(scenario)

    assert "Storage error" in repl.output
    assert contents(repl, only_session(repl))[0] == ("user", "hello")


def test_storage_error_mid_session_writes_nothing_and_puts_the_message_back(
    repl: Repl, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_all = durable.write_all

    def torn_write(fd: int, data: bytes) -> None:
        real_write_all(fd, data[: len(data) // 2])
        raise OSError(errno.EIO, "Input/output error")

    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2)
        sid = r.app.current_id
        assert sid is not None
        before = (r.root / sid / "conversation.jsonl").read_bytes()
        monkeypatch.setattr(durable, "write_all", torn_write)
        r.type("second\r")
        await until(lambda: "back on the input line" in r.output, what="the storage error")
        assert (r.root / sid / "conversation.jsonl").read_bytes() == before
        assert r.repo.get(sid).message_count == 2
        assert len(r.app.messages) == 2
        assert r.app._pending_input == "second"
        monkeypatch.undo()
        r.type("\r")
        await until(lambda: len(r.app.messages) == 4, what="the resent message")

    repl.drive(scenario)

    sid = only_session(repl)
    assert [c for _, c in contents(repl, sid)][2] == "second"
    assert repl.repo.get(sid).message_count == 4


def test_storage_error_keeps_a_double_slash_message_a_message(
    repl: Repl, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: SessionService, messages: object) -> None:
        raise StorageError("the disk is full")

    monkeypatch.setattr(SessionService, "start_session", refuse)

    async def steps(r: Repl) -> None:
        r.type("//tmp is a folder\r")
        await until(lambda: "back on the input line" in r.output)
        assert r.app._pending_input == "//tmp is a folder"
        monkeypatch.undo()
        r.type("\r")
        await until(lambda: len(r.app.messages) == 2)

    repl.drive(steps)

    assert contents(repl, only_session(repl))[0] == ("user", "/tmp is a folder")


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
