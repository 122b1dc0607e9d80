"""The session browser (``--resume`` picker, ``/resume``): content search with snippets, the
preview, and the keys that rename, pin, archive and delete, checked against the disk."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatcli.repl.completion.snapshot import SnapshotCache, SnapshotEntry
from chatcli.repl.picker import _Picker, _picker_app
from chatcli.repl.picker_actions import BrowserActions, content_query
from chatcli.repl.picker_filter import SnapshotFilter, filter_entries
from chatcli.session.fields import SessionStatus
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import BASE, CTRL_C, ENTER, Repl, entry, seed, snapshot_of, until

DOWN = "\x1b[B"
ESC = "\x1b"
TAB = "\t"
CTRL_A, CTRL_D, CTRL_P, CTRL_R, CTRL_U = "\x01", "\x04", "\x10", "\x12", "\x15"

Scenario = Callable[[_Picker, Callable[[str], None]], Awaitable[None]]


def browse(service: SessionService, scenario: Scenario) -> str | None:
    """Open the browser on ``service``'s sessions, run ``scenario`` (it types through the given
    function and waits on the picker), then leave with Esc unless the scenario chose a row."""
    entries = SnapshotCache(service).refresh(force=True).entries
    picker = _Picker(entries, BrowserActions(service), debounce=0.01)

    async def main() -> str | None:
        with create_pipe_input() as pipe:
            app = _picker_app(picker, pipe, DummyOutput())
            task = asyncio.ensure_future(app.run_async())
            await until(lambda: app.is_running, what="the browser")
            await scenario(picker, pipe.send_text)
            if not task.done():
                pipe.send_text(ESC)
            try:
                return await asyncio.wait_for(task, 5)
            finally:
                picker.cancel_work()

    return asyncio.run(main())


def screen(picker: _Picker) -> str:
    """The rows and the line under them, as text (100 columns)."""
    return "".join(text for _, text, *_ in picker.rows(100))


@pytest.fixture
def service(repo: FileRepository) -> SessionService:
    return SessionService(repo)


# --------------------------------------------------------------------------- the filter


def test_the_fast_filter_agrees_with_the_reference_and_narrows() -> None:
    """SnapshotFilter (one text, a limit, narrowing) lists what filter_entries lists."""
    rng = random.Random(3)
    words = ["docker", "compose", "logging", "notes", "kube", "alpha"]
    entries = snapshot_of(
        [
            entry(
                f"{i:08x}-0000-4000-8000-000000000000",
                rng.choice([None, f"{rng.choice(words)}-{i}"]),
                " ".join(rng.choice(words) for _ in range(5)),
                minutes_ago=i,
                pinned=i % 17 == 0,
                tags=(rng.choice(words),) if i % 5 == 0 else (),
            )
            for i in range(120)
        ]
    ).entries
    fast = SnapshotFilter(entries, limit=1000)
    for query in ["", "d", "do", "doc", "dockr", "dkr", "log", "note", "zzz", "alpha-1", "kube"]:
        assert list(fast.find(query).entries) == filter_entries(entries, query), query


def test_the_filter_stops_at_its_limit_and_says_so() -> None:
    entries = snapshot_of(
        [entry(f"{i:08x}-0000-4000-8000-000000000000", f"n-{i}", minutes_ago=i) for i in range(50)]
    ).entries
    found = SnapshotFilter(entries, limit=10).find("n-")
    assert len(found.entries) == 10 and not found.complete
    picker = _Picker(entries)
    picker.filter = SnapshotFilter(entries, limit=10)
    picker.query.text = "n-"
    assert "10+ of 50 sessions" in screen(picker)


def test_content_queries_make_the_last_word_a_prefix() -> None:
    assert content_query("ku") is None  # too short to search messages
    query = content_query("kube")
    assert query is not None and query.matches("kubernetes pods")
    exact = content_query("kube ")
    assert exact is not None and not exact.matches("kubernetes pods")
    assert content_query('"unclosed phr') is None


# --------------------------------------------------------------------------- content search


def test_a_word_only_inside_a_message_finds_its_session_with_the_snippet(service: SessionService) -> None:
    target = seed(service.repo, "hello", replies=["the flamingo \x1b[31mmigrates\x1b[0m south"], name="birds")
    seed(service.repo, "unrelated", replies=["nothing here"], when=BASE + timedelta(minutes=5))

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_("flamin")
        await until(lambda: picker.content is not None and picker.content.text == "flamin", what="search")
        assert [e.id for e in picker.matches()] == [target.id]
        text = screen(picker)
        assert "↳ the flamingo" in text and "\x1b" not in text  # shown literally
        type_(ENTER)

    assert browse(service, scenario) == target.id


# --------------------------------------------------------------------------- preview


def test_tab_previews_the_highlighted_session_only(service: SessionService) -> None:
    older = seed(service.repo, "older question", replies=["older answer"], name="older")
    newer = seed(service.repo, "newer question", replies=["newer answer"], when=BASE + timedelta(hours=1))
    read: list[str] = []

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        assert picker.actions is not None
        original = picker.actions.preview
        picker.actions.preview = lambda sid: read.append(sid) or original(sid)  # type: ignore[method-assign, func-returns-value]
        assert "Tab preview" in "".join(t for _, t, *_ in picker.help_line())
        type_(TAB)
        await until(lambda: newer.id in picker.previews, what="the preview")
        text = "".join(t for _, t, *_ in picker.preview_text())
        assert "you: newer question" in text and "assistant: newer answer" in text
        type_(DOWN)
        await until(lambda: older.id in picker.previews, what="the second preview")
        type_(TAB + DOWN)  # hidden: moving reads nothing more
        await asyncio.sleep(0.05)

    browse(service, scenario)
    assert read == [newer.id, older.id]


# --------------------------------------------------------------------------- actions on disk


def test_rename_in_the_browser_writes_the_name(service: SessionService) -> None:
    meta = seed(service.repo, "hello", name="before")
    seed(service.repo, "other", name="taken", when=BASE - timedelta(hours=1))

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_R)
        await until(lambda: picker.mode == "rename" and picker.answer.text == "before", what="rename")
        type_(CTRL_U + "taken" + ENTER)
        await until(lambda: "taken" in picker.message, what="the error")
        assert picker.mode == "rename" and service.repo.get(meta.id).name == "before"
        type_(CTRL_U + "after" + ENTER)
        await until(lambda: picker.mode == "browse", what="the rename")
        assert service.repo.get(meta.id).name == "after"
        assert picker.message == "Renamed to after." and "after" in screen(picker)

    browse(service, scenario)


def test_pin_and_archive_toggle_on_disk(service: SessionService) -> None:
    older = seed(service.repo, "older", name="older")
    seed(service.repo, "newer", name="newer", when=BASE + timedelta(hours=1))

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(DOWN + CTRL_P)
        await until(lambda: service.repo.get(older.id).pinned, what="the pin")
        assert screen(picker).startswith("* older") and picker.highlighted() == picker.matches()[0]
        type_(CTRL_A)
        await until(lambda: service.repo.get(older.id).status == SessionStatus.ARCHIVED, what="archive")
        type_(CTRL_A + CTRL_P)
        await until(lambda: not service.repo.get(older.id).pinned, what="the unpin")
        assert service.repo.get(older.id).status == SessionStatus.ACTIVE
        assert picker.message == "Unpinned older."

    browse(service, scenario)


def test_delete_asks_then_moves_the_session_to_the_trash(service: SessionService) -> None:
    meta = seed(service.repo, "doomed", name="doomed")

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_D)
        await until(lambda: picker.mode == "delete", what="the question")
        assert "Move doomed to the trash? y/N" in "".join(t for _, t, *_ in picker.help_line())
        type_("n")
        await until(lambda: picker.message == "Nothing deleted.", what="the answer")
        assert service.repo.get(meta.id).name == "doomed"
        type_(CTRL_D + "y")
        await until(lambda: not picker.matches(), what="the delete")
        assert [t.metadata.id for t in service.repo.trashed()] == [meta.id]
        assert "no session matches" in screen(picker) and "Moved doomed to the trash" in picker.message

    browse(service, scenario)


def test_esc_in_a_prompt_returns_to_the_list(service: SessionService) -> None:
    seed(service.repo, "hello", name="keep")

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_R + "x")
        await until(lambda: picker.answer.text == "keepx", what="typing the name")
        type_(CTRL_C)
        await until(lambda: picker.mode == "browse", what="rename cancelled")
        type_(CTRL_D + ESC)
        await until(lambda: picker.message == "Nothing deleted.", what="delete cancelled")

    assert browse(service, scenario) is None
    assert [b.name for b in service.briefs()] == ["keep"]


def test_the_first_page_is_listed_until_every_session_is_read(service: SessionService) -> None:
    """``--resume`` paints the newest sessions from the index at once and lists them all once read."""
    from chatcli.repl.picker import pick_session_async
    from chatcli.repl.picker_actions import first_page

    metas = [
        seed(service.repo, f"chat {i}", name=f"s-{i}", when=BASE + timedelta(minutes=i)) for i in range(5)
    ]
    page, total = first_page(service, limit=2)
    assert [e.name for e in page] == ["s-4", "s-3"] and total == 5
    gate = threading.Event()

    def rest() -> Sequence[SnapshotEntry]:
        gate.wait(5)
        return SnapshotCache(service).refresh(force=True).entries

    async def main() -> str | None:
        with create_pipe_input() as pipe:
            task = asyncio.ensure_future(
                pick_session_async(page, rest=(rest, total), input=pipe, output=DummyOutput())
            )
            await asyncio.sleep(0.2)
            pipe.send_text("s-0")  # not on the first page: found once everything is read
            await asyncio.sleep(0.2)
            gate.set()
            await asyncio.sleep(0.5)
            pipe.send_text(ENTER)
            return await asyncio.wait_for(task, 5)

    assert asyncio.run(main()) == metas[0].id


def test_the_status_line_counts_every_session_while_the_first_page_shows() -> None:
    entries = snapshot_of([entry(f"{i:08x}-0000-4000-8000-000000000000", f"n-{i}") for i in range(3)]).entries
    picker = _Picker(entries)
    picker.total = 100_000
    assert "3 of 100000 sessions" in screen(picker)


# --------------------------------------------------------------------------- /resume in the chat


def test_in_the_chat_the_browser_renames_the_session_in_use_and_the_chat_knows(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2, what="the first exchange")
        sid = r.app.current_id
        r.type("/resume\r")
        await asyncio.sleep(0.3)
        r.type(CTRL_R + CTRL_U + "renamed\r")
        await until(lambda: r.repo.get(sid).name == "renamed", what="the rename")
        r.type(ESC)
        await until(lambda: "No session chosen" in r.output, what="the browser to close")
        assert r.app.meta is not None and r.app.meta.name == "renamed"

    repl.drive(scenario)
    assert "you are still in session renamed" in repl.output


def test_in_the_chat_trashing_the_session_in_use_leaves_it(repl: Repl) -> None:
    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2, what="the first exchange")
        sid = r.app.current_id
        r.type("/resume\r")
        await asyncio.sleep(0.3)
        r.type(CTRL_D + "y")
        await until(lambda: [t.metadata.id for t in r.repo.trashed()] == [sid], what="the trash")
        r.type(ESC)
        await until(lambda: "No session chosen" in r.output, what="the browser to close")
        assert r.app.current_id is None

    repl.drive(scenario)
    assert "The session in use went to the trash: you are now in a new session." in repl.output


def test_the_delete_answer_is_about_the_session_asked_about(service: SessionService) -> None:
    """The list may change under the question (content hits, letters-in-order matches arriving):
    y trashes the session the question named, not whatever is highlighted by then."""
    asked = seed(service.repo, "asked", name="asked", when=BASE + timedelta(hours=1))
    other = seed(service.repo, "other", name="other")
    service.set_pinned(asked.id, True)

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_D)
        await until(lambda: picker.mode == "delete", what="the question")
        assert "Move pinned session asked to the trash? y/N" in "".join(t for _, t, *_ in picker.help_line())
        picker.index = 1  # the list moved under the question
        type_("y")
        await until(lambda: picker.mode == "browse", what="the answer")

    browse(service, scenario)
    assert [t.metadata.id for t in service.repo.trashed()] == [asked.id]
    assert service.repo.get(other.id).name == "other"
