"""The session browser across projects (Ctrl-O): every known project's sessions with their
project, read off the keystroke path; choosing or acting on another project's session goes to
that project's store."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatcli.repl.completion.snapshot import SnapshotCache
from chatcli.repl.picker import _Picker, _picker_app
from chatcli.repl.picker_actions import BrowserActions
from chatcli.repl.picker_projects import ProjectsBrowse, ProjectsListing
from chatcli.session.all_projects import AllProjects
from chatcli.session.projects import ProjectRegistry
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import BASE, ENTER, Repl, seed, until

ESC = "\x1b"
DOWN = "\x1b[B"
CTRL_O, CTRL_P = "\x0f", "\x10"

Scenario = Callable[[_Picker, Callable[[str], None]], Awaitable[None]]


def _open(path: Path) -> SessionService:
    return SessionService(FileRepository(path, lock_timeout=2.0))


def _two_projects(tmp_path: Path) -> tuple[AllProjects, str, str, Path]:
    """Project A (here) with one session, project B (remembered) with one newer session:
    (the projects, A's session id, B's session id, B's store)."""
    here = tmp_path / "alpha" / ".amazonq" / "sessions"
    there = tmp_path / "beta\x1b[31m" / ".amazonq" / "sessions"
    a = seed(FileRepository(here), "the alpha plan")
    b = seed(FileRepository(there), "the beta plan", when=BASE + timedelta(hours=1))
    registry = ProjectRegistry(tmp_path / "data")
    assert registry.remember(here) is None and registry.remember(there) is None
    return AllProjects(registry, here, _open(here), _open), a.id, b.id, there


def _browse(projects: AllProjects, browse: ProjectsBrowse, scenario: Scenario) -> str | None:
    service = projects.here.service
    entries = SnapshotCache(service).refresh(force=True).entries
    picker = _Picker(entries, BrowserActions(service), debounce=0.01, browse=browse)

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
    return "".join(text for _, text, *_ in picker.rows(100))


def test_ctrl_o_lists_every_project_with_its_label_and_back(tmp_path: Path) -> None:
    projects, a, b, _ = _two_projects(tmp_path)

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        assert [e.id for e in picker.matches()] == [a]
        assert "^O all projects" in screen(picker)
        type_(CTRL_O)
        await until(lambda: len(picker.matches()) == 2, what="every project's sessions")
        assert [e.id for e in picker.matches()] == [b, a]  # newest first
        text = screen(picker)
        assert "beta␛[31m" in text and "alpha" in text and "\x1b" not in text  # labels, literally
        assert "2 of 2 sessions in every project" in text and "^O this project" in text
        assert picker.message == "Sessions of 2 projects."
        type_(CTRL_O)
        await until(lambda: not picker.everywhere, what="this project again")
        assert [e.id for e in picker.matches()] == [a]
        assert "beta" not in screen(picker)

    assert _browse(projects, ProjectsBrowse(projects), scenario) is None


def test_enter_on_another_projects_session_returns_it_with_its_project(tmp_path: Path) -> None:
    projects, _, b, there = _two_projects(tmp_path)
    browse = ProjectsBrowse(projects)

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_O)
        await until(lambda: len(picker.matches()) == 2, what="every project's sessions")
        type_(ENTER)

    assert _browse(projects, browse, scenario) == b
    project = browse.project_of(b)
    assert project is not None and project.sessions_dir == there
    assert project.service.load(b).metadata.first_message == "the beta plan"


def test_an_action_on_another_projects_session_writes_to_its_store(tmp_path: Path) -> None:
    projects, a, b, there = _two_projects(tmp_path)

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_O)
        await until(lambda: len(picker.matches()) == 2, what="every project's sessions")
        type_(CTRL_P)  # B's session is highlighted
        await until(lambda: picker.message.startswith("Pinned"), what="the pin")
        type_(CTRL_O)
        await until(lambda: not picker.everywhere, what="this project again")

    assert _browse(projects, ProjectsBrowse(projects), scenario) is None
    assert FileRepository(there).get(b).pinned
    assert not projects.here.service.resolve(a).pinned


def test_a_vanished_project_is_reported_once_in_the_browser(tmp_path: Path) -> None:
    projects, a, _, there = _two_projects(tmp_path)
    shutil.rmtree(there.parent.parent)

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_O)
        await until(lambda: picker.message.startswith("Project"), what="the note")
        assert picker.message.count("is gone") == 1
        assert [e.id for e in picker.matches()] == [a]

    assert _browse(projects, ProjectsBrowse(projects), scenario) is None


def test_the_projects_are_read_off_the_keystroke_path(tmp_path: Path) -> None:
    """While every project is being read, the browser still takes keys."""
    projects, a, _, _ = _two_projects(tmp_path)
    gate = threading.Event()

    class Slow(ProjectsBrowse):
        def load(self) -> ProjectsListing:
            gate.wait(5)
            return super().load()

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_O)
        await until(lambda: "Reading the sessions of every project" in picker.message, what="the note")
        type_("alpha")
        await until(lambda: picker.query.text == "alpha", what="typing while reading")
        gate.set()
        await until(lambda: picker.labels != {}, what="every project's sessions")
        assert [e.id for e in picker.matches()] == [a]
        type_(DOWN)

    try:
        assert _browse(projects, Slow(projects), scenario) is None
    finally:
        gate.set()


def test_resume_in_the_chat_continues_another_projects_session_in_its_store(
    repl: Repl, tmp_path: Path
) -> None:
    there = tmp_path / "beta" / ".amazonq" / "sessions"
    b = seed(FileRepository(there), "the beta plan", replies=["noted"])
    registry = ProjectRegistry(tmp_path / "data")
    assert registry.remember(there) is None
    repl.app.projects = AllProjects(registry, repl.root, repl.service, _open)

    async def scenario(r: Repl) -> None:
        r.type("hello\r")
        await until(lambda: len(r.app.messages) == 2, what="the first exchange")
        r.type("/resume\r")
        await asyncio.sleep(0.3)
        r.type(CTRL_O)
        await asyncio.sleep(0.3)
        r.type("beta plan")
        await asyncio.sleep(0.3)
        r.type(ENTER)
        await until(lambda: r.app.current_id == b.id, what="the resume")
        r.type("and then?\r")
        await until(lambda: len(r.app.messages) == 4, what="the next exchange")

    repl.drive(scenario)
    assert "This session is in project" in repl.output
    assert FileRepository(there).get(b.id).message_count == 4
    assert b.id not in [p.name for p in repl.session_dirs()]


def test_trashing_another_projects_session_says_where_to_restore_it(tmp_path: Path) -> None:
    projects, a, b, there = _two_projects(tmp_path)

    async def scenario(picker: _Picker, type_: Callable[[str], None]) -> None:
        type_(CTRL_O)
        await until(lambda: len(picker.matches()) == 2, what="every project's sessions")
        type_("\x04y")  # Ctrl-D, then yes: B's session is highlighted
        await until(lambda: picker.message.startswith("Moved"), what="the delete")
        assert "trash of project" in picker.message and str(there.parent.parent) in picker.message
        assert [e.id for e in picker.matches()] == [a]

    assert _browse(projects, ProjectsBrowse(projects), scenario) is None
    assert [t.metadata.id for t in FileRepository(there).trashed()] == [b]
    assert projects.here.service.resolve(a).id == a


def test_resume_in_the_chat_with_no_session_here_opens_on_every_project(repl: Repl, tmp_path: Path) -> None:
    there = tmp_path / "beta" / ".amazonq" / "sessions"
    b = seed(FileRepository(there), "the beta plan", replies=["noted"])
    registry = ProjectRegistry(tmp_path / "data")
    assert registry.remember(there) is None
    repl.app.projects = AllProjects(registry, repl.root, repl.service, _open)

    async def scenario(r: Repl) -> None:
        r.type("/resume\r")
        await asyncio.sleep(0.5)
        r.type(ENTER)
        await until(lambda: r.app.current_id == b.id, what="the resume")

    repl.drive(scenario)
    assert "No saved sessions" not in repl.output
    assert "This session is in project" in repl.output
