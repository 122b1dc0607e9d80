"""Fault injection: a read-only or full disk, a missing folder, and folders the user may not write."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatcli.session.errors import PermissionDenied, SessionError, SessionNotFound, StorageError
from chatcli.session.models import Message, new_session_id
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from tests.helpers import locked_out, run_unprivileged, tree, unprivileged_ids
from tests.helpers.faults import Faults, Seeded, injected, make_template

# --------------------------------------------------------------------------- read-only, foreign, full


def _writes(svc: SessionService, repo: FileRepository, s: Seeded) -> dict[str, Callable[[], object]]:
    return {
        "append": lambda: svc.append(s.alpha, Message(role="user", content="x")),
        "rename": lambda: svc.rename(s.alpha, "renamed"),
        "archive": lambda: svc.archive(s.alpha),
        "delete": lambda: svc.delete(s.beta),
        "fork": lambda: svc.fork(s.alpha),
        "start-session": lambda: svc.start_session([Message(role="user", content="x")]),
        "import": lambda: svc.import_file(s.import_file),
        "append-after-torn-tail": lambda: svc.append(s.torn, Message(role="user", content="x")),
    }


def _reads(svc: SessionService, s: Seeded) -> dict[str, Callable[[], object]]:
    return {
        "list": lambda: svc.list_sessions(status="all"),
        "show": lambda: svc.show(s.alpha),
        "search": lambda: svc.search("message"),
        "load": lambda: svc.load(s.beta),
    }


@pytest.mark.parametrize(
    ("err", "text"),
    [(errno.EROFS, "read-only"), (errno.ENOSPC, "no space left"), (errno.EDQUOT, "quota")],
)
def test_every_write_fails_cleanly_on_a_read_only_or_full_disk(
    seeded: tuple[Path, Seeded], err: int, text: str
) -> None:
    """Every write-side call fails (a read-only file system, a full disk): reads still work,
    every write is a StorageError naming the cause, and not one byte changes."""
    root, s = seeded
    before = tree(root)
    repo = FileRepository(root, lock_timeout=0.5)
    svc = SessionService(repo)
    with injected(Faults(fail_at=1, err=err, persist=True)):
        for call in _reads(svc, s).values():
            call()  # reads need no write
        for name, call in _writes(svc, repo, s).items():
            with pytest.raises(StorageError) as caught:
                call()
            assert not isinstance(caught.value, PermissionDenied), name
            assert text in caught.value.user_message(), (name, caught.value.user_message())
        report = run_doctor(repo, repair=True)
    assert tree(root) == before, "nothing half-written"
    assert not report.healthy
    torn = next(f for f in report.findings if f.target == s.torn)
    assert any(text in u for u in torn.unrepairable), torn


def test_missing_folder_reads_empty_and_creates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "nowhere" / "sessions"
    repo = FileRepository(root)
    svc = SessionService(repo)
    assert svc.list_sessions(status="all").sessions == []
    assert svc.search("anything").hits == []
    assert svc.most_recent() is None
    assert not repo.exists(new_session_id())
    for call in (lambda: svc.show("abcd"), lambda: svc.load(new_session_id()), lambda: svc.archive("x-y")):
        with pytest.raises(SessionNotFound) as caught:
            call()
        assert "not found" in caught.value.user_message()
    report = run_doctor(repo, repair=True)
    assert report.healthy and report.findings == []
    assert not (tmp_path / "nowhere").exists(), "a read created the folder"


@pytest.fixture
def sandbox() -> Iterator[Path]:
    """A world-traversable temp folder (pytest's own are 0700, which would hide everything from nobody)."""
    folder = Path(tempfile.mkdtemp(prefix="chatcli-faults-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def unprivileged(fn: Callable[[], dict[str, str]]) -> dict[str, str]:
    """``fn``'s result, computed by a child without root's powers (nobody:nogroup, as root)."""
    return dict(run_unprivileged(fn))


def _outcomes(root: Path, s: Seeded) -> dict[str, str]:
    repo = FileRepository(root, lock_timeout=0.5)
    svc = SessionService(repo)
    results: dict[str, str] = {}
    calls = {**{f"read:{k}": v for k, v in _reads(svc, s).items()}, **_writes(svc, repo, s)}
    calls["doctor"] = lambda: run_doctor(repo)
    for name, call in calls.items():
        try:
            call()
            results[name] = "ok"
        except SessionError as exc:
            results[name] = f"{type(exc).__name__}: {exc.user_message().splitlines()[0]}"
        except BaseException as exc:
            results[name] = f"UNEXPECTED {type(exc).__name__}: {exc}"
    return results


def test_read_only_folder_for_its_owner(sandbox: Path) -> None:
    """chmod 0500 folders (0600 files) owned and used by the unprivileged user (nobody, as root):
    reads work, writes are PermissionDenied, and a write that got half-way (the transcript line) is
    rolled back."""
    root = sandbox / "sessions"
    s = make_template(root, sandbox)
    os.chmod(s.import_file, 0o644)
    uid, gid = unprivileged_ids()
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)
        if path.is_dir():
            path.chmod(0o500)
    before = tree(root)

    results = unprivileged(lambda: _outcomes(root, s))

    for name, result in results.items():
        if name.startswith("read:") or name == "doctor":
            assert result == "ok", (name, result)
        else:
            assert result.startswith("PermissionDenied: Permission denied"), (name, result)
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o700)
    assert tree(root) == {k: (v[0], 0o700 if v[0] == "dir" else v[1], v[2]) for k, v in before.items()}


def test_folder_owned_by_someone_else(sandbox: Path) -> None:
    """A root-owned 0700 sessions folder used by nobody (as another user: a folder closed to it):
    every call, doctor included, is a clear PermissionDenied (never a raw OSError), and nothing
    changes."""
    root = sandbox / "sessions"
    s = make_template(root, sandbox)
    os.chmod(s.import_file, 0o644)
    before = tree(root)

    with locked_out(root):
        results = unprivileged(lambda: _outcomes(root, s))

    for name, result in results.items():
        assert result.startswith("PermissionDenied: Permission denied"), (name, result)
    assert tree(root) == before
