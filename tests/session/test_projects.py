"""The registry of known projects and the sessions of every project (``--all-projects``)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatcli.session.all_projects import AllProjects
from chatcli.session.errors import AmbiguousId, StorageError
from chatcli.session.projects import (
    ENV_DATA_DIR,
    MAX_PROJECTS,
    MAX_REGISTRY_BYTES,
    KnownProject,
    ProjectRegistry,
    data_dir,
    project_label,
)
from chatcli.session.search import SearchQuery
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import locked_out, run_unprivileged, seed, user


def _store(folder: Path) -> Path:
    """A project's sessions folder (``folder/.amazonq/sessions``)."""
    return folder / ".amazonq" / "sessions"


def _open(path: Path) -> SessionService:
    return SessionService(FileRepository(path, lock_timeout=2.0))


def _projects(registry: ProjectRegistry, here: Path) -> AllProjects:
    return AllProjects(registry, here, _open(here), _open)


def _seeded(folder: Path, first: str, **kwargs: object) -> tuple[Path, str]:
    """A project holding one session whose first message is ``first``; (its store, the id)."""
    store = _store(folder)
    meta = seed(FileRepository(store), first, **kwargs)  # type: ignore[arg-type]
    return store, meta.id


# --------------------------------------------------------------------------- the registry file


def test_the_data_folder_can_be_named_in_the_environment(tmp_path: Path) -> None:
    assert data_dir({ENV_DATA_DIR: str(tmp_path / "d")}) == tmp_path / "d"
    assert data_dir({}).name == "chatcli"


def test_a_remembered_project_is_read_back(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    assert registry.read().projects == []
    store = _store(tmp_path / "app")
    store.mkdir(parents=True)
    assert registry.remember(store) is None
    again = ProjectRegistry(tmp_path / "data").read()
    assert again.problem is None
    assert [p.sessions_dir for p in again.projects] == [store.resolve()]
    assert os.stat(registry.path).st_mode & 0o777 == 0o600


def test_remembering_writes_once_per_process_and_once_a_day(tmp_path: Path) -> None:
    days = iter([datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 1, 18, tzinfo=UTC)])
    store = _store(tmp_path / "app")
    store.mkdir(parents=True)
    first = ProjectRegistry(tmp_path / "data", now=lambda: next(days))
    first.remember(store)
    stamp = os.stat(first.path).st_mtime_ns
    first.path.write_text(first.path.read_text() + " ")  # a rewrite would drop this space
    assert first.remember(store) is None  # the same process: not even read
    second = ProjectRegistry(tmp_path / "data", now=lambda: next(days))
    second.remember(store)  # another process, the same day: read, not rewritten
    assert first.path.read_text().endswith(" ")
    assert os.stat(first.path).st_mtime_ns != stamp
    later = ProjectRegistry(tmp_path / "data", now=lambda: datetime(2026, 1, 2, tzinfo=UTC))
    later.remember(store)  # another day: recorded again
    assert not later.path.read_text().endswith(" ")
    assert later.read().projects[0].last_write == "2026-01-02T00:00:00Z"


def test_the_registry_keeps_the_most_recently_written_projects(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    registry.folder.mkdir()
    entries = [
        {"sessions": f"/p/{n}", "last_write": f"2025-01-01T00:00:{n % 60:02d}Z"} for n in range(MAX_PROJECTS)
    ]
    registry.path.write_text(json.dumps({"version": 1, "projects": entries}))
    store = _store(tmp_path / "new")
    store.mkdir(parents=True)
    assert registry.remember(store) is None
    kept = registry.read().projects
    assert len(kept) == MAX_PROJECTS
    assert kept[0].sessions_dir == store.resolve()
    assert os.path.getsize(registry.path) < MAX_REGISTRY_BYTES


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe garbage", b'{"version": 99, "projects": []}', b"[1, 2, 3]"],
    ids=["broken-json", "not-utf8", "future-version", "not-an-object"],
)
def test_an_unreadable_registry_is_reported_set_aside_and_rebuilt(tmp_path: Path, content: bytes) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    registry.folder.mkdir()
    registry.path.write_bytes(content)
    read = registry.read()
    assert read.projects == []
    assert read.problem is not None and "could not be used" in read.problem and "set aside" in read.problem
    assert (registry.folder / "projects.json.unreadable").read_bytes() == content
    store = _store(tmp_path / "app")
    store.mkdir(parents=True)
    assert registry.remember(store) is None
    assert [p.sessions_dir for p in registry.read().projects] == [store.resolve()]


def test_a_huge_registry_is_not_read_but_set_aside(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    registry.folder.mkdir()
    with open(registry.path, "wb") as f:
        f.truncate(MAX_REGISTRY_BYTES + 1)
    store = _store(tmp_path / "app")
    store.mkdir(parents=True)
    problem = registry.remember(store)
    assert problem is not None and "larger than" in problem
    assert [p.sessions_dir for p in registry.read().projects] == [store.resolve()]
    assert os.path.getsize(registry.folder / "projects.json.unreadable") == MAX_REGISTRY_BYTES + 1


def test_entries_that_are_not_projects_are_skipped(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    registry.folder.mkdir()
    doc = {
        "version": 1,
        "projects": [
            {"sessions": "relative/path", "last_write": "x"},
            7,
            {"sessions": "/ok", "last_write": "t"},
        ],
    }
    registry.path.write_text(json.dumps(doc))
    assert registry.read() == registry.read()
    assert registry.read().projects == [KnownProject(Path("/ok"), "t")]


def test_an_unwritable_data_folder_is_reported_not_raised(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    store = _store(tmp_path / "app")
    store.mkdir(parents=True)
    os.chmod(tmp_path / "app", 0o755)
    os.chmod(tmp_path, 0o755)

    def remember() -> str | None:
        return ProjectRegistry(data).remember(store)

    with locked_out(data):
        problem = run_unprivileged(remember)
    assert problem is not None and "could not remember this project" in problem
    assert not (data / "projects.json").exists()


def test_a_failing_write_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise StorageError("no space left on device", tmp_path)

    monkeypatch.setattr("chatcli.session.projects.replace_file", refuse)
    store = _store(tmp_path / "app")
    store.mkdir(parents=True)
    problem = ProjectRegistry(tmp_path / "data").remember(store)
    assert problem is not None and "no space left" in problem


def test_the_project_label_is_the_project_folder_under_home(tmp_path: Path) -> None:
    assert project_label(tmp_path / "app" / ".amazonq" / "sessions", home=tmp_path) == "~/app"
    assert project_label(Path("/srv/custom"), home=tmp_path) == "/srv/custom"


# --------------------------------------------------------------------------- every project


def test_sessions_of_every_project_newest_first_with_their_project(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    a, a_id = _seeded(tmp_path / "a", "alpha needle", when=datetime(2025, 1, 1, tzinfo=UTC))
    b, b_id = _seeded(tmp_path / "b", "beta needle", when=datetime(2025, 2, 1, tzinfo=UTC))
    registry.remember(a)
    registry.remember(b)
    here = _store(tmp_path / "elsewhere")
    listing = _projects(registry, here).list_sessions()
    assert [(r.project.sessions_dir, r.session.id) for r in listing.sessions] == [
        (b.resolve(), b_id),
        (a.resolve(), a_id),
    ]
    assert listing.total == 2 and listing.notes == []
    found = _projects(registry, here).search(SearchQuery.parse("needle"))
    assert [f.matches.session_id for f in found.sessions] == [b_id, a_id]
    assert found.total_hits == 2 and found.sessions_searched == 2
    assert _projects(registry, here).list_sessions(limit=1).sessions[0].session.id == b_id


def test_a_vanished_project_is_reported_once_and_forgotten(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    a, _ = _seeded(tmp_path / "a", "alpha")
    b, b_id = _seeded(tmp_path / "b", "beta")
    registry.remember(a)
    registry.remember(b)
    shutil.rmtree(tmp_path / "a")
    here = _store(tmp_path / "c")
    first = _projects(registry, here).list_sessions()
    assert [r.session.id for r in first.sessions] == [b_id]
    assert len(first.notes) == 1 and "is gone" in first.notes[0] and str(a) in first.notes[0]
    assert [p.sessions_dir for p in registry.read().projects] == [b.resolve()]
    assert _projects(registry, here).list_sessions().notes == []


def test_an_unreadable_project_is_one_line_and_the_others_are_listed(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    a, _ = _seeded(tmp_path / "a", "alpha")
    b, b_id = _seeded(tmp_path / "b", "beta")
    for n in range(3):
        seed(FileRepository(a), f"more {n}")
    registry.remember(a)
    registry.remember(b)

    def broken(path: Path) -> SessionService:
        if path == a.resolve():
            raise_on = _open(path)
            raise_on.list_sessions = _refuse  # type: ignore[method-assign]
            return raise_on
        return _open(path)

    listing = AllProjects(
        registry, _store(tmp_path / "c"), _open(_store(tmp_path / "c")), broken
    ).list_sessions()
    assert [r.session.id for r in listing.sessions] == [b_id]
    assert len(listing.notes) == 1 and "could not be read" in listing.notes[0]
    assert [p.sessions_dir for p in registry.read().projects] == [b.resolve(), a.resolve()]


def _refuse(**kwargs: object) -> None:
    raise StorageError("permission denied", None)


def test_a_moved_project_is_found_again_once_it_writes(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    old, sid = _seeded(tmp_path / "old", "moving house")
    registry.remember(old)
    (tmp_path / "old").rename(tmp_path / "new")
    moved = _store(tmp_path / "new")
    here = _store(tmp_path / "c")
    assert _projects(registry, here).list_sessions().sessions == []
    service = SessionService(FileRepository(moved), on_write=lambda: registry.remember(moved) and None)
    service.append(sid, user("still here"))
    listing = _projects(registry, here).list_sessions()
    assert [(r.project.sessions_dir, r.session.id) for r in listing.sessions] == [(moved.resolve(), sid)]


def test_the_write_hook_runs_once_after_the_first_write(tmp_path: Path) -> None:
    calls: list[int] = []
    service = SessionService(FileRepository(tmp_path / "s"), on_write=lambda: calls.append(1))
    service.list_sessions()
    assert calls == []
    meta = service.start_session([user("one")])
    service.append(meta.id, user("two"))
    service.fork(meta.id)
    assert calls == [1]


def test_a_session_of_another_project_is_located_and_loaded_there(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    a, a_id = _seeded(tmp_path / "a", "alpha", name="shared-name")
    b, b_id = _seeded(tmp_path / "b", "beta", name="shared-name")
    registry.remember(a)
    registry.remember(b)
    projects = _projects(registry, _store(tmp_path / "c"))
    found = projects.locate(a_id[:8])
    assert found is not None
    project, loaded = found
    assert project.sessions_dir == a.resolve() and loaded.metadata.id == a_id
    assert projects.locate("0000dead") is None
    with pytest.raises(AmbiguousId) as raised:
        projects.locate("shared-name")
    assert {c.split()[0] for c in raised.value.candidates} == {a_id, b_id}
    assert _projects(registry, a).locate(a_id) is None  # this project's own are not "another's"


def test_a_remembered_folder_now_open_to_others_is_skipped(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    a, _ = _seeded(tmp_path / "a", "alpha")
    b, b_id = _seeded(tmp_path / "b", "beta")
    registry.remember(a)
    registry.remember(b)
    os.chmod(a, 0o777)
    projects = _projects(registry, _store(tmp_path / "c"))
    listing = projects.list_sessions()
    assert [r.session.id for r in listing.sessions] == [b_id]
    assert len(listing.notes) == 1 and "writable by other users" in listing.notes[0]
    assert projects.locate("alpha") is None


def test_looking_a_session_up_forgets_no_project_unreported(tmp_path: Path) -> None:
    registry = ProjectRegistry(tmp_path / "data")
    a, _ = _seeded(tmp_path / "a", "alpha")
    registry.remember(a)
    shutil.rmtree(tmp_path / "a")
    projects = _projects(registry, _store(tmp_path / "c"))
    assert projects.locate(a.name) is None
    assert [p.sessions_dir.name for p in registry.read().projects] == ["sessions"]  # still known
    assert "is gone" in projects.list_sessions().notes[0]
