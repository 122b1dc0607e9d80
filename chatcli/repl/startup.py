"""Starting the REPL from the command line: options, the first session, the input history file."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from chatcli.commands.spec import UsageError
from chatcli.errors import ExitCode
from chatcli.repl.boundary import ErrorBoundary
from chatcli.repl.completion.snapshot import SnapshotCache
from chatcli.sanitize import clean_inline
from chatcli.session.errors import SessionNotFound

if TYPE_CHECKING:
    from rich.console import Console

    from chatcli.config import Settings
    from chatcli.repl.app import ChatApp
    from chatcli.repl.picker_projects import ProjectsBrowse
    from chatcli.session.all_projects import AllProjects
    from chatcli.session.location import SessionsLocation
    from chatcli.session.outcomes import LoadedSession
    from chatcli.session.service import SessionService

__all__ = ["NoSessionChosen", "ReplOptions", "initial_session", "run_repl"]


@dataclass(frozen=True, slots=True)
class ReplOptions:
    """The REPL's command-line options."""

    sessions_dir: str | None = None
    resume: str | None = None
    continue_latest: bool = False
    backend: str | None = None
    model: str | None = None
    base_url: str | None = None
    system: str | None = None


def run_repl(options: ReplOptions) -> int:
    """Start the REPL as the command line asked and run it; returns the exit code.

    Start-up and the whole loop run inside the REPL's error boundary, which reports on stderr.
    """
    from chatcli.render.console import make_console

    console = make_console()
    boundary = ErrorBoundary(make_console(stderr=True))
    with boundary.guard("starting the chat") as outcome:
        try:
            app = open_app(options, console)
        except NoSessionChosen:
            console.print("No session chosen.")
            return ExitCode.OK
        return asyncio.run(app.run())
    return outcome.exit_code


class NoSessionChosen(Exception):
    """The user left the ``--resume`` picker with Esc or Ctrl-C: chatcli ends without a chat."""


def open_app(options: ReplOptions, console: Console) -> ChatApp:
    """The chat app the options ask for, in its first session (raises a ChatcliError if it cannot).

    The ``--resume`` browser is painted before the chat's own modules are loaded (the model
    backend, the app): what it needs is loaded first, the rest while the user reads it.
    """
    from chatcli.config import load_settings
    from chatcli.render.styles import warning
    from chatcli.session.all_projects import open_file_projects
    from chatcli.session.location import discover_sessions_dir

    flags = {
        "backend": options.backend,
        "model": options.model,
        "base_url": options.base_url,
        "system_prompt": options.system,
    }
    settings = load_settings(flags)
    location = discover_sessions_dir(options.sessions_dir)
    projects = open_file_projects(location, lambda problem: console.print(warning(problem)))
    service = projects.here.service
    snapshots = SnapshotCache(service)
    browse = _browse(projects) if options.resume == "" else None  # only the browser lists them
    missing: SessionNotFound | None = None
    try:
        loaded = initial_session(options, service, snapshots, console, browse)
    except SessionNotFound as exc:
        loaded, missing = None, exc
    app = _chat_app(settings, console, location, projects, snapshots)
    if missing is not None:
        loaded = _from_another_project(app, options, missing)
    moved = browse.project_of(loaded.metadata.id) if loaded is not None and browse is not None else None
    if moved is not None:  # chosen in the browser from another project's sessions
        app.switch_project(moved)
    if loaded is not None:
        if settings.system_prompt is not None and settings.source_of("system_prompt").startswith("flag "):
            # An explicit --system replaces a resumed session's prompt (config and env do not).
            meta = app.service.set_system_prompt(loaded.metadata.id, settings.system_prompt)
            loaded = loaded._replace(metadata=meta)
        app.use_session(loaded)
    else:
        console.print(
            f"chatcli — {app.backend.name}/{clean_inline(app.backend.model)}. Type a message, /help for "
            "commands, Ctrl-D to leave. Conversations are saved as you go.",
            markup=False,
            highlight=False,
        )
    return app


def _browse(projects: AllProjects) -> ProjectsBrowse:
    """What the ``--resume`` browser needs to list every project's sessions (Ctrl-O)."""
    from chatcli.repl.picker_projects import ProjectsBrowse

    return ProjectsBrowse(projects)


def _chat_app(
    settings: Settings,
    console: Console,
    location: SessionsLocation,
    projects: AllProjects,
    snapshots: SnapshotCache,
) -> ChatApp:
    """The chat app over the projects' store, with the backend the settings name."""
    from chatcli.chat.factory import create_backend
    from chatcli.repl.app import ChatApp

    backend = create_backend(settings, offline_delay=0.01 if console.is_terminal else 0.0)
    return ChatApp(
        projects.here.service,
        backend,
        console,
        history_budget=settings.history_budget,
        system_prompt=settings.system_prompt,
        location=location,
        history=history_file(),
        snapshots=snapshots,
        trash_retention=settings.trash_retention,
        projects=projects,
    )


def _from_another_project(app: ChatApp, options: ReplOptions, error: SessionNotFound) -> LoadedSession:
    """``chatcli --resume ID`` of a session of another known project: the app carries on in that
    project's store. ``error`` (saying where it looked) when no other project has it either."""
    found = app.projects.locate(options.resume) if app.projects is not None and options.resume else None
    if found is None:
        if app.location is not None:
            error.locate(app.location.describe(), "chatcli ")
        raise error
    app.switch_project(found[0])
    return found[1]


def history_file() -> History:
    """The input history, kept in the user's data folder (in memory only if that cannot be written)."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("chatcli", appauthor=False))
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / "history"
        path.touch(mode=0o600, exist_ok=True)
        return FileHistory(str(path))
    except OSError:
        return InMemoryHistory()


def initial_session(
    options: ReplOptions,
    service: SessionService,
    snapshots: SnapshotCache,
    console: Console,
    browse: ProjectsBrowse | None = None,
) -> LoadedSession | None:
    """The session ``--resume``/``--continue`` asked for, or None for a new one.

    ``--resume`` without a value lets the user pick from ``snapshots`` (refreshed here; the REPL
    then completes from the same snapshot); leaving the picker raises :class:`NoSessionChosen`.
    With ``browse`` the picker may list every project's sessions: one chosen from another project
    is loaded from there (``browse.project_of`` says which).
    """
    if options.continue_latest:
        latest = service.most_recent()
        if latest is None:
            console.print("No earlier session in this project: starting a new one.")
            return None
        return service.load(latest.id)
    if options.resume is None:
        return None
    if options.resume:
        return service.load(options.resume)
    from chatcli.repl.picker_actions import BrowserActions, first_page

    entries, total = first_page(service)  # at once from the index; the rest after the first paint
    everywhere = not entries and browse is not None and browse.others_known()
    if not entries and not everywhere:
        console.print("No saved sessions in this project yet: starting a new one.")
        return None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "--resume without a value needs a terminal to pick from",
            "chatcli --resume ID|NAME (see: chatcli sessions list)",
        )
    from chatcli.repl.picker import NEW_SESSION, pick_session

    rest = (lambda: snapshots.refresh(force=True).entries, total)
    chosen = pick_session(
        entries, actions=BrowserActions(service), rest=rest, browse=browse, everywhere=everywhere
    )
    if chosen is None:
        raise NoSessionChosen
    if chosen == NEW_SESSION:
        return None
    project = browse.project_of(chosen) if browse is not None else None
    return (project.service if project is not None else service).load(chosen)
