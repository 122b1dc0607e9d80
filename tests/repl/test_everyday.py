"""Issue 12, the everyday loop, driven in-process through prompt_toolkit's pipe input.

The session in use (``.``, a left-out ID, ``/sessions name NAME``), ``/resume`` without an ID (the
picker), ``/resume`` completion, Tab, Esc, the completion menu, and Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent, Completion
from prompt_toolkit.document import Document

import chatcli.repl.app as app_module
from chatcli.repl import picker
from chatcli.repl.completion.snapshot import SnapshotEntry
from chatcli.session.models import Message, SessionStatus
from tests.helpers import CTRL_C, MakeRepl, Repl, ScriptedBackend, ago, seed, until

ESC = "\x1b"
DOWN = "\x1b[B"
TAB = "\t"
CTRL_U = "\x15"  # erase the line


def offered(r: Repl, text: str) -> list[Completion]:
    """What the REPL's completer offers with the cursor at the end of ``text``."""
    event = CompleteEvent(completion_requested=True)
    return list(r.app.completer.get_completions(Document(text, len(text)), event))


def user_messages(r: Repl, session_id: str) -> list[str]:
    return [line["content"] for line in r.lines(session_id) if line["role"] == "user"]


async def first_exchange(r: Repl, text: str = "hello") -> str:
    """Send ``text``, wait for the reply; the id of the session now in use."""
    r.type(text + "\r")
    await until(lambda: len(r.app.messages) == 2, what="the first exchange")
    assert r.app.current_id is not None
    return r.app.current_id


# --------------------------------------------------------------------------- item 3: the session in use


def test_name_without_an_id_names_the_session_in_use(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        await first_exchange(r)
        r.type("/sessions name fix-login\r")
        await until(lambda: r.app.session_label() == "fix-login", what="the new name")

    repl.drive(scenario)
    [folder] = repl.session_dirs()
    assert repl.repo.get(folder.name).name == "fix-login"
    assert "Usage" not in repl.output


def test_dot_and_a_left_out_id_mean_the_session_in_use(repl: Repl, tmp_path: Path) -> None:
    other = seed(repl.repo, "an older chat", name="older", when=ago(60))
    exported = tmp_path / "this.md"

    async def scenario(r: Repl) -> None:
        sid = await first_exchange(r, "the blue door")
        r.type("/sessions show .\r")
        await until(lambda: "Last active" in r.output, what="show .")
        r.type(f"/sessions export -o {exported}\r")
        await until(exported.exists, what="export without an ID")
        r.type("/sessions fork --name copy-of-this\r")
        await until(lambda: len(r.session_dirs()) == 3, what="fork without an ID")
        r.type("/sessions name . door-chat\r")
        await until(lambda: r.app.session_label() == "door-chat", what="name . NAME")
        r.type("/sessions archive\r")
        await until(lambda: r.app.meta is not None and r.app.meta.is_archived, what="archive without an ID")
        assert r.app.current_id == sid

    repl.drive(scenario)
    assert "the blue door" in exported.read_text()
    by_name = {m.name: m for m in repl.repo.list()}
    assert user_messages(repl, by_name["copy-of-this"].id) == ["the blue door"]
    assert by_name["door-chat"].status is SessionStatus.ARCHIVED
    assert repl.repo.get(other.id).status is SessionStatus.ACTIVE  # no other session touched
    assert repl.repo.get(other.id).name == "older"


def test_before_the_first_message_there_is_no_session_in_use(repl: Repl) -> None:
    seed(repl.repo, "an older chat", name="older")
    assert (
        repl.run("/sessions show\r", "/sessions name fix-login\r", "/sessions archive .\r", "/resume .\r")
        == 0
    )

    assert repl.output.count("there is no session in use yet") == 4
    assert "Send a message" in repl.output
    assert [m.name for m in repl.repo.list()] == ["older"]  # nothing renamed or archived
    assert repl.repo.list()[0].status is SessionStatus.ACTIVE
    assert "Traceback" not in repl.output


# --------------------------------------------------------------------------- items 4 and 9: /resume picks


@pytest.fixture
def picker_opened(monkeypatch: pytest.MonkeyPatch) -> list[Sequence[SnapshotEntry]]:
    """Records the entries each picker is opened with (so a test knows when to type into it)."""
    opened: list[Sequence[SnapshotEntry]] = []
    original = picker.pick_session_async

    async def recording(entries: Sequence[SnapshotEntry], **kwargs: object) -> str | None:
        opened.append(entries)
        return await original(entries, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(picker, "pick_session_async", recording)  # imported by /resume when it runs
    return opened


def test_resume_without_an_id_opens_the_picker(
    repl: Repl, picker_opened: list[Sequence[SnapshotEntry]]
) -> None:
    beta = seed(repl.repo, "beta question", replies=["beta answer"], name="beta-proj", when=ago(10))
    seed(repl.repo, "alpha question", name="alpha-proj", when=ago(5))

    async def scenario(r: Repl) -> None:
        r.type("/resume\r")
        await until(lambda: picker_opened, what="the picker")
        r.type("beta\r")
        await until(lambda: r.app.current_id == beta.id, what="the chosen session")

    repl.drive(scenario)
    assert "beta answer" in repl.output  # its last exchanges are shown
    assert "Usage" not in repl.output


@pytest.mark.parametrize("key", [ESC, CTRL_C])
def test_leaving_the_resume_picker_stays_in_the_session_in_use(
    repl: Repl, picker_opened: list[Sequence[SnapshotEntry]], key: str
) -> None:
    seed(repl.repo, "another chat", name="another", when=ago(5))

    async def scenario(r: Repl) -> None:
        sid = await first_exchange(r)
        r.type("/resume\r")
        await until(lambda: picker_opened, what="the picker")
        assert picker_opened[0][-1].id == sid  # the session in use comes last
        r.type(key)
        await until(lambda: "No session chosen" in r.output, what="the picker to close")
        assert r.app.current_id == sid
        r.type("still here\r")
        await until(lambda: len(r.app.messages) == 4, what="the next exchange")

    repl.drive(scenario)
    assert f"you are still in session {repl.app.session_label()}" in repl.output
    assert repl.app.current_id is not None
    assert user_messages(repl, repl.app.current_id) == ["hello", "still here"]


def test_the_picker_row_for_a_new_session(repl: Repl, picker_opened: list[Sequence[SnapshotEntry]]) -> None:
    seed(repl.repo, "another chat", name="another", when=ago(5))

    async def scenario(r: Repl) -> None:
        first = await first_exchange(r)
        r.type("/resume\r")
        await until(lambda: picker_opened, what="the picker")
        r.type("zzzz\r")  # nothing matches: Enter does nothing
        r.type(DOWN + "\r")  # the "Start a new session" row, chosen explicitly
        await until(lambda: r.app.meta is None, what="a new session")
        r.type("a new start\r")
        await until(lambda: r.app.current_id not in (None, first), what="the new session")

    repl.drive(scenario)
    assert "Started a new session" in repl.output
    assert len(repl.session_dirs()) == 3


# --------------------------------------------------------------------------- item 5: /resume completion


def test_resume_completion_offers_the_session_in_use_last(repl: Repl) -> None:
    for minutes in (30, 20, 10):
        seed(repl.repo, f"older chat {minutes}", when=ago(minutes))

    async def scenario(r: Repl) -> None:
        sid = await first_exchange(r)
        await until(lambda: len(r.app.snapshots.current().entries) == 4, what="the snapshot")
        resume = offered(r, "/resume ")
        assert len(resume) == 4
        assert resume[-1].text == sid  # newest, yet last: switching to it would change nothing
        # Other commands rank it as usual (the newest first).
        assert offered(r, "/sessions show ")[0].text == sid

    repl.drive(scenario)


# --------------------------------------------------------------------------- items 6 and 7: Tab and Esc


def test_tab_with_one_candidate_inserts_it_at_once(make_repl: MakeRepl) -> None:
    r = make_repl()
    target = seed(r.repo, "fix the login page", replies=["the detail"], name="fix-login", when=ago(60))
    seed(r.repo, "something else", name="other", when=ago(50))
    r.app.snapshots.refresh()

    # Typed at once, as a fast typist does: Tab must not wait for the menu computed in the background.
    assert r.run("/sessions show fi" + TAB + "\r") == 0

    assert "not found" not in r.output
    assert "the detail" in r.output
    assert target.id[:8] in r.output


def test_tab_with_several_candidates_inserts_their_common_part(make_repl: MakeRepl) -> None:
    r = make_repl()
    seed(r.repo, "one", name="login-alpha", when=ago(60))
    seed(r.repo, "two", name="login-beta", when=ago(50))
    r.app.snapshots.refresh()
    buffer = r.app.prompt.default_buffer

    async def scenario(r: Repl) -> None:
        r.type("/sessions show lo" + TAB)
        await until(lambda: buffer.text == "/sessions show login-", what="the common part")
        await until(
            lambda: buffer.complete_state is not None and len(buffer.complete_state.completions) == 2,
            what="the menu of both",
        )
        r.type(TAB)  # a second Tab moves into the menu
        await until(lambda: buffer.text == "/sessions show login-beta", what="the first row")
        r.type(CTRL_U)

    assert r.drive(scenario) == 0


def test_a_key_typed_after_esc_is_not_swallowed(repl: Repl) -> None:
    """Esc then ``list`` gave ``ist``: Esc waited a second and took the ``l`` as Alt+L."""

    async def scenario(r: Repl) -> None:
        r.type(ESC)
        await asyncio.sleep(0.4)  # a person's pause between two keys (the old wait was 1.5 s)
        r.type("list my sessions\r")
        await until(lambda: len(r.app.messages) == 2, what="the message")

    repl.drive(scenario)
    [folder] = repl.session_dirs()
    assert user_messages(repl, folder.name) == ["list my sessions"]


# --------------------------------------------------------------------------- item 8: the menu, as typed


def test_the_subcommand_menu_lists_each_command_once(make_repl: MakeRepl) -> None:
    """``/sessions `` showed 17 rows for 12 commands: every alias was a row of its own."""
    r = make_repl()
    buffer = r.app.prompt.default_buffer

    async def scenario(r: Repl) -> None:
        r.type("/sessions ")
        await until(lambda: buffer.complete_state is not None and buffer.complete_state.completions)
        assert buffer.complete_state is not None
        rows = [c.display_text for c in buffer.complete_state.completions]
        assert len(rows) == len(set(rows)) == 18  # 12 commands, trash, restore, pin, unpin, tag, untag
        assert not {"ls", "rm", "rename", "grep", "copy", "undelete"} & set(rows)
        r.type(CTRL_U)

    assert r.drive(scenario) == 0


# --------------------------------------------------------------------------- item 12: Ctrl-C


def test_a_second_ctrl_c_after_a_stopped_reply_does_not_quit(
    make_repl: MakeRepl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two quick Ctrl-C during a reply: the first stops it, the second (arriving while the partial
    reply is being saved, before the prompt is back) reached the program and quit it (exit 130)."""
    caught: list[int] = []

    def guard(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)  # what the program would have done: Python's default ends it

    backend = ScriptedBackend(chunks=("one ", "two ", "three ", "four"), delay=0.2)
    backend.after_chunk = lambda i: os.kill(os.getpid(), signal.SIGINT) if i == 0 else None
    original = app_module.save_message

    def saving(service: Any, meta: Any, earlier: Any, message: Message, *rest: Any) -> Any:
        if message.role == "assistant":
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C
        return original(service, meta, earlier, message, *rest)

    monkeypatch.setattr(app_module, "save_message", saving)
    r = make_repl(backend)
    previous = signal.signal(signal.SIGINT, guard)
    try:
        assert r.run("hello\r", "and on\r") == 0
        assert signal.getsignal(signal.SIGINT) is guard, "the REPL must restore the SIGINT handler"
    finally:
        signal.signal(signal.SIGINT, previous)

    assert caught == []
    [folder] = r.session_dirs()
    assert user_messages(r, folder.name) == ["hello", "and on"]
    assert r.lines(folder.name)[1]["interrupted"] is True


def test_ctrl_c_on_an_empty_prompt_says_how_to_leave(repl: Repl) -> None:
    assert repl.run(CTRL_C, "a draft", CTRL_C, "hello\r") == 0

    assert repl.output.count("Ctrl-D or /quit to leave") == 1  # not for a dropped draft
    [folder] = repl.session_dirs()
    assert user_messages(repl, folder.name) == ["hello"]
