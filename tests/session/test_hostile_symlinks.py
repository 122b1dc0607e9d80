"""Hostile input: symbolic links planted in the store.

Everything goes through the session service and through the real ``chatcli sessions`` command line
(a subprocess with no terminal). Every hostile input must be rejected with a clear message or
handled; never a traceback, never a raw control on the screen."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatcli.session.errors import UnsafePath
from chatcli.session.location import discover_sessions_dir
from chatcli.session.models import Message
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from tests.helpers import chatcli_many, confined_writes, numbered, seed, tree

# --------------------------------------------------------------------------- planted symbolic links


@dataclass
class Planted:
    project: Path
    outside: Path
    bait: str
    good: str | None


def _plant(tmp_path: Path, where: str) -> Planted:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    outside = tmp_path / "outside"
    bait_repo = FileRepository(outside / "sessions")
    bait = seed(bait_repo, messages=numbered(2), name="bait").id
    good = None
    if where == ".amazonq":
        os.symlink(outside, project / ".amazonq")
    elif where == "sessions":
        (project / ".amazonq").mkdir()
        os.symlink(outside / "sessions", project / ".amazonq" / "sessions")
    else:
        real = FileRepository(project / ".amazonq" / "sessions")
        good = seed(real, messages=numbered(1), name="good").id
        os.symlink(outside / "sessions" / bait, real.root / bait)
    return Planted(project, outside, bait, good)


PLANTED = (".amazonq", "sessions", "session-folder")


@pytest.mark.parametrize("where", PLANTED)
def test_planted_symlinks_through_the_service(tmp_path: Path, where: str) -> None:
    p = _plant(tmp_path, where)
    outside_before = tree(p.outside)
    repo = FileRepository(discover_sessions_dir(cwd=p.project, environ={}))
    svc = SessionService(repo)
    calls: dict[str, Callable[[], object]] = {
        "show": lambda: svc.show(p.bait),
        "load": lambda: svc.load(p.bait),
        "rename": lambda: svc.rename(p.bait, "mine"),
        "archive": lambda: svc.archive(p.bait),
        "delete": lambda: svc.delete(p.bait),
        "fork": lambda: svc.fork(p.bait),
        "append": lambda: svc.append(p.bait, Message(role="user", content="through the link")),
        "export": lambda: svc.export(p.bait),
    }
    if where != "session-folder":
        calls["list"] = lambda: svc.list_sessions(status="all")
        calls["search"] = lambda: svc.search("message")
        calls["start"] = lambda: svc.start_session([Message(role="user", content="new")])
        calls["doctor"] = lambda: run_doctor(repo, repair=True)

    with confined_writes(p.project) as refused:
        for name, call in calls.items():
            with pytest.raises(UnsafePath) as caught:
                call()
            assert caught.value.exit_code == 3, name
            assert "symbolic link" in caught.value.user_message(), name
        if where == "session-folder":
            listing = svc.list_sessions(status="all")
            assert [m.id for m in listing.sessions] == [p.good]
            assert [type(e) for e in listing.problems] == [UnsafePath]
            report = run_doctor(repo, repair=True)
            assert [f.target for f in report.findings] == [p.bait]
            assert report.findings[0].unrepairable

    assert refused == []
    assert tree(p.outside) == outside_before, "something was written through the link"


@pytest.mark.parametrize("where", PLANTED)
def test_planted_symlinks_through_the_cli(tmp_path: Path, where: str) -> None:
    p = _plant(tmp_path, where)
    outside_before = tree(p.outside)
    export = tmp_path / "export.json"
    refused = [
        ["sessions", "show", p.bait],
        ["sessions", "name", p.bait, "mine"],
        ["sessions", "delete", "--yes", p.bait],
        ["sessions", "archive", p.bait],
        ["sessions", "fork", p.bait],
        ["sessions", "export", p.bait, "-o", str(export)],
    ]
    reading = [["sessions", "list", "--all"], ["sessions", "search", "message"], ["sessions", "doctor"]]
    reading.append(["sessions", "doctor", "--repair"])

    runs = chatcli_many(refused + reading, cwd=p.project)

    for run in runs[: len(refused)]:
        assert run.code == 3, run
        assert "symbolic link" in run.err, run
    for run in runs[len(refused) :]:
        if where == "session-folder":
            # Reading commands work around the planted link; doctor reports it (it cannot be
            # repaired: chatcli never follows or removes it), so doctor exits 1.
            assert run.code == (1 if "doctor" in run.args else 0), run
        else:
            assert run.code == 3 and "symbolic link" in run.err, run
    if where == "session-folder":
        listed = runs[len(refused)]
        assert p.good is not None and p.good[:8] in listed.out and "symbolic link" in listed.out
    assert not export.exists()
    assert tree(p.outside) == outside_before, "something was written through the link"
