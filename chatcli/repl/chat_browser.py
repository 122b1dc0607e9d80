"""``/resume`` without an ID in the chat: the session browser, then the session in use read again.

Its own module, imported when ``/resume`` first opens the browser: the chat's first prompt never
loads the browser's modules (see docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from chatcli.commands.results import Cancelled, NewSessionAction, ResumeAction
from chatcli.repl import picker
from chatcli.repl.picker_actions import BrowserActions
from chatcli.repl.picker_projects import ProjectsBrowse
from chatcli.session.errors import SessionNotFound

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from chatcli.repl.app import ChatApp

__all__ = ["pick_in_browser"]


async def pick_in_browser(app: ChatApp, input: Input | None, output: Output | None) -> object:
    """``/resume`` without an ID: the ``--resume`` picker (the session in use listed last).

    Esc or Ctrl-C (or the end of the input) leaves it and you stay where you were.
    """
    snap = await asyncio.to_thread(app.snapshots.refresh)
    current = app.current_id
    entries = sorted(snap.entries, key=lambda entry: entry.id == current)  # stable
    browse = ProjectsBrowse(app.projects) if app.projects is not None else None
    everywhere = not entries and browse is not None and await asyncio.to_thread(browse.others_known)
    if not entries and not everywhere:
        return Cancelled("No saved sessions to resume yet.")
    actions = BrowserActions(app.service, "/")
    try:
        chosen = await picker.pick_session_async(
            entries,
            actions=actions,
            browse=browse,
            everywhere=everywhere,
            input=input,
            output=output,
        )
    except EOFError:  # the input ended (a pipe, a closed terminal) before a choice: none made
        chosen = None
    await _after_browser(app)
    if chosen is None:
        where = "the new session" if app.meta is None else f"session {app.session_label()}"
        return Cancelled(f"No session chosen: you are still in {where}.")
    if chosen == picker.NEW_SESSION:
        return NewSessionAction()
    project = browse.project_of(chosen) if browse is not None else None
    if project is not None:  # another project's session (Ctrl-O): continued in its store
        return ResumeAction(await asyncio.to_thread(project.service.load, chosen), project)
    return ResumeAction(await asyncio.to_thread(app.service.load, chosen))


async def _after_browser(app: ChatApp) -> None:
    """The browser may have renamed, pinned, archived or trashed the session in use: read it
    again (a trashed one is left for a new session, and the user is told)."""
    if app.meta is None:
        return
    try:
        app.meta = await asyncio.to_thread(app.service.resolve, app.meta.id)
    except SessionNotFound:
        app.new_session()
        app.console.print("The session in use went to the trash: you are now in a new session.")
