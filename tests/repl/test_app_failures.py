"""The REPL: what goes wrong mid-chat (a result that fails to render, cancelled replies, Ctrl-C,
backend and storage errors) and the completion snapshot's refreshes.

The REPL loop driven in-process: a pipe for the keyboard, a dummy screen, a text console."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from rich.console import Console

import chatcli.repl.app as app_module
from chatcli.chat.backend import BackendConnectionError, StreamInterrupted
from chatcli.render.terminal import render
from chatcli.session.errors import StorageError
from chatcli.session.models import Message
from chatcli.session.outcomes import ListResult
from chatcli.session.service import SessionService
from chatcli.session.store import durable
from tests.helpers import MakeRepl, Repl, ScriptedBackend, contents, only_session, until


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
