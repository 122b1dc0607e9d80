"""The session browser across projects: Ctrl-O lists the sessions of every known project (each
row shows its project) and lists this project's again.

The list is read on a worker thread (:meth:`ProjectsBrowse.load`, through
:class:`~chatcli.session.all_projects.AllProjects`), never on a keystroke; projects that are gone
or cannot be read are reported once, in one line. Every action on a session of another project
goes through that project's own service (:class:`RoutedActions`), and the caller resumes a chosen
session of another project in its own store (:meth:`ProjectsBrowse.project_of`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prompt_toolkit.application import get_app

from chatcli.repl.completion.snapshot import SnapshotEntry
from chatcli.repl.picker_actions import CONTENT_LIMIT, BrowserActions, ContentHits, Done, Preview
from chatcli.repl.picker_filter import SnapshotFilter
from chatcli.session.all_projects import AllProjects, Project

if TYPE_CHECKING:
    from chatcli.repl.picker import _Picker

__all__ = ["ProjectsBrowse", "ProjectsListing", "RoutedActions", "patched", "toggle_projects"]


@dataclass(frozen=True, slots=True)
class ProjectsListing:
    """Every project's sessions, newest first: their filter, each one's project label, and one
    note per project that is gone or could not be read."""

    filter: SnapshotFilter
    labels: dict[str, str]
    notes: tuple[str, ...]
    projects: int


class ProjectsBrowse:
    """Reads every project's sessions for the browser and remembers which project each is in."""

    def __init__(self, projects: AllProjects) -> None:
        self.projects = projects
        self._owners: dict[str, Project] = {}

    def load(self) -> ProjectsListing:
        """Every known project's sessions (run on a worker thread: it reads every project)."""
        try:
            result = self.projects.list_sessions(status="all")
        except Exception as exc:  # a registry or project that cannot be read is a note, not a crash
            return ProjectsListing(SnapshotFilter([]), {}, (f"The projects could not be read ({exc}).",), 0)
        here = self.projects.here.sessions_dir
        entries: list[SnapshotEntry] = []
        labels: dict[str, str] = {}
        owners: dict[str, Project] = {}
        for row in result.sessions:
            view = row.session
            if view.id in labels:  # the same session copied into two projects: the first is listed
                continue
            labels[view.id] = row.project.label
            if row.project.sessions_dir != here:
                owners[view.id] = row.project
            entries.append(
                SnapshotEntry(
                    view.id,
                    view.name,
                    view.first_message,
                    view.last_active,
                    view.status,
                    view.message_count,
                    view.pinned,
                    tuple(view.tags),
                )
            )
        self._owners = owners
        ready = SnapshotFilter(entries)
        ready.prepare()
        return ProjectsListing(ready, labels, tuple(result.notes), len(result.projects))

    def others_known(self) -> bool:
        """Whether another project is remembered (one small file read; it may be gone since)."""
        here = self.projects.here.sessions_dir
        return any(known.sessions_dir != here for known in self.projects.registry.read().projects)

    def one_session_each(self) -> list[str]:
        """One listed session of each other project."""
        return list({str(p.sessions_dir): sid for sid, p in self._owners.items()}.values())

    def project_of(self, session_id: str) -> Project | None:
        """The other project ``session_id`` is in (None: it is this project's)."""
        return self._owners.get(session_id)


class RoutedActions(BrowserActions):
    """The browser's actions, each made in the project of the session it is about."""

    def __init__(self, here: BrowserActions, browse: ProjectsBrowse) -> None:
        super().__init__(here.service, here.prefix)
        self.here = here
        self.browse = browse
        self._others: dict[str, BrowserActions] = {}

    def _for(self, session_id: str) -> BrowserActions:
        project = self.browse.project_of(session_id)
        if project is None:
            return self.here
        key = str(project.sessions_dir)
        if key not in self._others:
            self._others[key] = BrowserActions(project.service, self.prefix)
        return self._others[key]

    def search(self, text: str) -> ContentHits:
        """The sessions of every listed project whose messages match ``text``."""
        found: list[tuple[str, str]] = []
        error: str | None = None
        for actions in [self.here, *(self._for(sid) for sid in self.browse.one_session_each())]:
            hits = actions.search(text)
            found.extend(hits.hits)
            error = error or hits.error
        return ContentHits(text, tuple(found[:CONTENT_LIMIT]), error)

    def preview(self, session_id: str) -> Preview:
        """The session's last messages, read in its project."""
        return self._for(session_id).preview(session_id)

    def rename(self, entry: SnapshotEntry, name: str) -> Done:
        """Rename the session in its project."""
        return self._for(entry.id).rename(entry, name)

    def toggle_pin(self, entry: SnapshotEntry) -> Done:
        """Pin or unpin the session in its project."""
        return self._for(entry.id).toggle_pin(entry)

    def toggle_archive(self, entry: SnapshotEntry) -> Done:
        """Archive or unarchive the session in its project."""
        return self._for(entry.id).toggle_archive(entry)

    def delete(self, entry: SnapshotEntry) -> Done:
        """Move the session to its project's trash (restored from that project's folder)."""
        done = self._for(entry.id).delete(entry)
        project = self.browse.project_of(entry.id)
        if not done.ok or project is None:
            return done
        label = entry.name or entry.id[:8]
        return Done(
            entry.id,
            f"Moved {label} to the trash of project {project.label} "
            f"('chatcli sessions restore {entry.id[:8]}' in {project.folder} brings it back).",
            None,
        )


def patched(entries: Sequence[SnapshotEntry], done: Done) -> list[SnapshotEntry]:
    """``entries`` with the session ``done`` is about as it now is on disk (or without it)."""
    if done.entry is None:
        return [e for e in entries if e.id != done.session_id]
    return [done.entry if e.id == done.session_id else e for e in entries]


def toggle_projects(picker: _Picker) -> None:
    """Ctrl-O: list every project's sessions (read on a worker thread), or this project's again."""
    browse = picker.browse
    if browse is None:
        return
    picker.generation += 1
    picker.index, picker.content = 0, None
    if picker.everywhere:
        picker.everywhere = False
        entries, picker.actions, picker.total = picker.here_state
        picker.labels, picker.message = {}, ""
        picker.set_entries(entries)
        picker._schedule_search()
        return
    picker.everywhere = True
    picker.here_state = (picker.entries, picker.actions, picker.total)
    picker.message = "Reading the sessions of every project…"
    picker._spawn(asyncio.get_running_loop().create_task(_show_all(picker, browse, picker.generation)))


async def _show_all(picker: _Picker, browse: ProjectsBrowse, generation: int) -> None:
    listing = await asyncio.to_thread(browse.load)
    if picker.generation != generation:  # toggled again meanwhile
        return
    here_actions = picker.here_state[1]
    picker.actions = RoutedActions(here_actions, browse) if here_actions is not None else None
    picker.labels, picker.total = listing.labels, None
    picker.set_entries(listing.filter.entries, listing.filter)
    picker.index = 0
    count = listing.projects
    picker.message = " ".join(listing.notes) or f"Sessions of {count} project{'' if count == 1 else 's'}."
    picker._schedule_search()
    get_app().invalidate()
