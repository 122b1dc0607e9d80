"""Sessions of every known project: ``sessions list --all-projects``, ``sessions search
--all-projects`` and resuming a session of another project from anywhere.

:class:`AllProjects` holds the project chatcli runs in (its :class:`SessionService`) and opens a
service per remembered project (:mod:`chatcli.session.projects`) through ``open_service``, so
each project's sessions are read, and written, in that project's own store: a session resumed
from elsewhere is continued where it lives, never copied. A project whose folder is gone is
reported once (one line, not one per session) and forgotten; one that cannot be read is
reported, one line, and skipped; neither stops the others.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from chatcli.errors import ChatcliError
from chatcli.session.errors import AmbiguousId, SessionNotFound
from chatcli.session.fields import SessionView
from chatcli.session.location import SessionsLocation
from chatcli.session.outcomes import LoadedSession, SearchResult, SessionMatches, StatusChoice
from chatcli.session.projects import ProjectRegistry, data_dir, project_folder, project_label
from chatcli.session.search import SearchQuery, SearchSort
from chatcli.session.service import SessionService

__all__ = [
    "AllProjects",
    "Project",
    "ProjectMatches",
    "ProjectSession",
    "ProjectsListResult",
    "ProjectsSearchResult",
    "open_file_projects",
    "remembering",
]

OpenService = Callable[[Path], SessionService]


class Project(NamedTuple):
    """One project's sessions folder and the service over its store."""

    sessions_dir: Path
    service: SessionService

    @property
    def label(self) -> str:
        """The project folder, shortened with ``~``."""
        return project_label(self.sessions_dir)

    @property
    def folder(self) -> Path:
        """The project folder (the one holding ``.amazonq/sessions``)."""
        return project_folder(self.sessions_dir)


class ProjectSession(NamedTuple):
    """A listed session and the project it belongs to."""

    project: Project
    session: SessionView


class ProjectsListResult(NamedTuple):
    """``sessions list --all-projects``: sessions of every project, newest first.

    ``total`` counts every matching session of every project read; ``notes`` has one line per
    project that is gone or could not be read (or whose sessions could not all be read), and
    one for a registry that could not be used.
    """

    sessions: list[ProjectSession]
    notes: list[str]
    status: StatusChoice
    projects: list[Project]
    search: str | None = None
    total: int = 0
    tags: tuple[str, ...] = ()


class ProjectMatches(NamedTuple):
    """One session's search hits and its project."""

    project: Project
    matches: SessionMatches


class ProjectsSearchResult(NamedTuple):
    """``sessions search --all-projects``: one entry per session with hits, across projects."""

    query: str
    sessions: list[ProjectMatches]
    total_hits: int
    sessions_matched: int
    sessions_searched: int
    projects: list[Project]
    sort: SearchSort = "recent"
    every_hit: bool = False
    notes: Sequence[str] = ()
    stopped: bool = False
    #: False when a project had too many hits to count (the counts are then lower bounds).
    counted: bool = True

    @property
    def truncated(self) -> bool:
        """True when the limit left sessions with hits out (or may have: not ``counted``), or
        the search was stopped."""
        return self.stopped or not self.counted or self.sessions_matched > len(self.sessions)


def remembering(
    registry: ProjectRegistry, sessions_dir: Path, report: Callable[[str], None]
) -> Callable[[], None]:
    """A service's ``on_write`` hook: remember ``sessions_dir`` as a project; ``report`` is told
    (once) when that could not be done."""

    def remember() -> None:
        problem = registry.remember(sessions_dir)
        if problem is not None:
            report(problem)

    return remember


def _untrusted(st: os.stat_result) -> str | None:
    """Why a remembered folder must not be used now (another user's, or open to others' writes:
    the folder may have been replaced since chatcli wrote there), or None."""
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    if st.st_uid != os.geteuid():
        return f"is owned by another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by other users (permissions {stat.S_IMODE(st.st_mode):o})"
    return None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ChatcliError):
        return exc.user_message().splitlines()[0]
    return str(exc) or type(exc).__name__


class AllProjects:
    """The project chatcli runs in (``here``) and every other known project."""

    def __init__(
        self, registry: ProjectRegistry, here: Path, here_service: SessionService, open_service: OpenService
    ) -> None:
        self.registry = registry
        self.here = Project(Path(os.path.realpath(here)), here_service)
        self._open = open_service

    def moved_to(self, project: Project) -> AllProjects:
        """The same projects seen from ``project`` (a session of it was resumed)."""
        return AllProjects(self.registry, project.sessions_dir, project.service, self._open)

    def projects(self, *, forget_gone: bool = True) -> tuple[list[Project], list[str]]:
        """This project (if it has a sessions folder) and every other known one that still
        exists, with a note for each gone or unreachable project; the gone ones are forgotten
        (unless not ``forget_gone``: the notes are then not shown to anyone)."""
        read = self.registry.read()
        notes = [read.problem] if read.problem else []
        found = [self.here] if os.path.isdir(self.here.sessions_dir) else []
        seen = {self.here.sessions_dir}
        gone: list[Path] = []
        for known in read.projects:
            if known.sessions_dir in seen:
                continue
            seen.add(known.sessions_dir)
            try:
                st = os.stat(known.sessions_dir)
            except (FileNotFoundError, NotADirectoryError):
                gone.append(known.sessions_dir)
                notes.append(
                    f"Project {known.label} is gone ({known.sessions_dir} no longer exists): forgotten. "
                    "If it moved, it is listed again once chatcli saves a session there."
                )
                continue
            except OSError as exc:
                notes.append(f"Project {known.label} could not be read ({exc.strerror or exc}): skipped.")
                continue
            untrusted = _untrusted(st)
            if untrusted:
                notes.append(f"Project {known.label} is skipped: its sessions folder {untrusted}.")
                continue
            found.append(Project(known.sessions_dir, self._open(known.sessions_dir)))
        if gone and forget_gone:
            problem = self.registry.forget(gone)
            if problem is not None:
                notes.append(problem)
        return found, notes

    def list_sessions(
        self,
        *,
        status: StatusChoice = "active",
        search: str | None = None,
        limit: int | None = None,
        tags: Sequence[str] = (),
    ) -> ProjectsListResult:
        """Every project's sessions (as :meth:`SessionService.list_sessions`), newest first, at
        most ``limit`` in all."""
        projects, notes = self.projects()
        rows: list[ProjectSession] = []
        total = 0
        read: list[Project] = []
        for project in projects:
            try:
                listing = project.service.list_sessions(status=status, search=search, limit=limit, tags=tags)
            except Exception as exc:  # any failure of one project is that project's problem
                notes.append(f"Project {project.label} could not be read ({_reason(exc)}): skipped.")
                continue
            read.append(project)
            total += listing.total if listing.total is not None else len(listing.sessions)
            rows.extend(ProjectSession(project, s) for s in listing.sessions)
            if listing.problems:
                count = len(listing.problems)
                notes.append(
                    f"Project {project.label}: {count} session{'' if count == 1 else 's'} could not be "
                    f"read ('chatcli sessions doctor' in {project.folder} examines them)."
                )
        rows.sort(key=lambda r: r.session.last_active, reverse=True)
        kept = rows if limit is None else rows[:limit]
        wanted = tuple(dict.fromkeys(t.lower() for t in tags))
        return ProjectsListResult(kept, notes, status, read, search, total, wanted)

    def search(
        self,
        query: SearchQuery,
        *,
        limit: int = 20,
        sort: SearchSort = "recent",
        status: StatusChoice = "all",
        every_hit: bool = False,
        should_stop: Callable[[], bool] | None = None,
        tags: Sequence[str] = (),
    ) -> ProjectsSearchResult:
        """:meth:`SessionService.search` in every project, merged: newest first or most
        relevant first, at most ``limit`` sessions in all."""
        projects, notes = self.projects()

        def run(project: Project, order: SearchSort) -> SearchResult:
            return project.service.search(
                query,
                limit=limit,
                sort=order,
                status=status,
                every_hit=every_hit,
                should_stop=should_stop,
                tags=tags,
            )

        results: list[tuple[Project, SearchResult]] = []
        for project in projects:
            try:
                results.append((project, run(project, sort)))
            except Exception as exc:  # any failure of one project is that project's problem
                notes.append(f"Project {project.label} could not be searched ({_reason(exc)}): skipped.")
        counted = all(result.counted for _, result in results)
        if not counted:  # a project's hits are its newest sessions: ranks were not computed
            if sort == "relevance":  # so every project's newest are wanted, not its best ranked
                results = [(p, r if not r.counted else _again(run, p, r)) for p, r in results]
            sort = "recent"
        return _merged(query, results, notes, sort=sort, limit=limit, every_hit=every_hit)

    def locate(self, ref: str) -> tuple[Project, LoadedSession] | None:
        """The session ``ref`` (an id, id prefix or name) names in another known project, loaded
        from there; None when no other project has it. :class:`AmbiguousId` when several do.
        Projects that cannot be read are passed over."""
        projects, _ = self.projects(forget_gone=False)
        hits: list[tuple[Project, str]] = []
        for project in projects:
            if project.sessions_dir == self.here.sessions_dir:
                continue
            try:
                hits.append((project, project.service.resolve(ref).id))
            except SessionNotFound:
                continue
            except AmbiguousId as exc:
                raise replace_candidates(exc, project) from None
            except Exception:  # an unreadable project cannot hold the session: pass it over
                continue
        if not hits:
            return None
        if len(hits) > 1:
            raise AmbiguousId(ref, [f"{session_id}  (project {p.label})" for p, session_id in hits])
        project, session_id = hits[0]
        return project, project.service.load(session_id)


def replace_candidates(exc: AmbiguousId, project: Project) -> AmbiguousId:
    """``exc`` with each candidate marked with the project it is in."""
    return AmbiguousId(exc.prefix, [f"{c}  (project {project.label})" for c in exc.candidates])


def open_file_projects(location: SessionsLocation, report: Callable[[str], None]) -> AllProjects:
    """The projects as the front ends see them: this project's store at ``location`` (its
    ``here.service``) and every known one, each service remembering its project when it first
    writes (``report`` is told if that fails)."""
    from chatcli.session.store import FileRepository

    registry = ProjectRegistry(data_dir)

    def open_service(sessions_dir: Path, found: SessionsLocation | None = None) -> SessionService:
        where = found if found is not None else SessionsLocation.explicit(sessions_dir)
        return SessionService(FileRepository(where), on_write=remembering(registry, sessions_dir, report))

    return AllProjects(registry, location.path, open_service(location.path, location), open_service)


def _again(
    run: Callable[[Project, SearchSort], SearchResult], project: Project, ranked: SearchResult
) -> SearchResult:
    """``project`` searched again newest first; its ranked result if that fails this time."""
    try:
        return run(project, "recent")
    except Exception:  # searched once already: its first answer stands
        return ranked


def _merged(
    query: SearchQuery,
    results: list[tuple[Project, SearchResult]],
    notes: list[str],
    *,
    sort: SearchSort,
    limit: int,
    every_hit: bool,
) -> ProjectsSearchResult:
    """The results of each project as one: their sessions in ``sort`` order, at most ``limit``."""
    found: list[ProjectMatches] = []
    for project, result in results:
        found.extend(ProjectMatches(project, m) for m in result.sessions)
        if result.notice:
            notes.append(f"Project {project.label}: {result.notice}")
        notes.extend(f"Project {project.label}: {w}" for w in result.warnings)
    if sort == "relevance":
        found.sort(key=lambda f: f.matches.score)
    else:
        found.sort(key=lambda f: f.matches.last_active, reverse=True)
    return ProjectsSearchResult(
        query.text,
        found[:limit],
        sum(r.total_hits for _, r in results),
        sum(r.sessions_matched for _, r in results),
        sum(r.sessions_searched for _, r in results),
        [project for project, _ in results],
        sort,
        every_hit,
        notes,
        any(r.stopped for _, r in results),
        all(r.counted for _, r in results),
    )
