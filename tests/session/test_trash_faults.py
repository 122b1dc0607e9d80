"""Crash safety of the trash: an I/O error (injected at the N-th system call) or a SIGKILL (of a
child process at the N-th call) at any step of a move into the trash, a restore or an emptying
leaves the session whole in exactly one place — in the sessions folder or in the trash — and
``sessions doctor --repair`` leaves nothing behind."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chatcli.session.errors import SessionError
from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import TRASH_DIR
from tests.helpers import TEST_LOCK_TIMEOUT, LineReader, seed, spawn_worker

#: Every call that changes the disk during a trash operation (and ``open``/``write``, through
#: which the record, temp files and locks are written).
FAULT_POINTS = ("open", "write", "fsync", "mkdir", "rename", "replace", "unlink", "rmdir", "link")


class _Injected(Exception):
    pass


@contextmanager
def fail_at(step: int, counted: list[str]) -> Iterator[None]:
    """Make the ``step``-th call of any :data:`FAULT_POINTS` function raise EIO; ``counted``
    records every call made (its name), failed or not."""
    originals = {name: getattr(os, name) for name in FAULT_POINTS}

    def wrap(name: str) -> Callable[..., Any]:
        real = originals[name]

        def faulty(*args: Any, **kwargs: Any) -> Any:
            counted.append(name)
            if len(counted) == step:
                raise OSError(errno.EIO, f"injected I/O error at {name}")
            return real(*args, **kwargs)

        return faulty

    try:
        for name in FAULT_POINTS:
            setattr(os, name, wrap(name))
        yield
    finally:
        for name, real in originals.items():
            setattr(os, name, real)


def _whole(repo: FileRepository, meta: SessionMetadata, body: bytes, *, any_name: bool) -> str:
    """Where the session is ("place" or "trash"), checked whole; fails if in both or neither."""
    places: list[str] = []
    expected = meta.model_copy(update={"name": None}) if any_name else meta
    if repo.exists(meta.id):
        got = repo.get(meta.id)
        assert got in (meta, expected)
        assert repo.transcript_bytes(meta.id) == body
        places.append("place")
    for entry in repo.trashed():
        if entry.session_id == meta.id:
            assert entry.metadata in (meta, expected)
            assert b"".join(repo.trashed_transcript(entry.trash_id)) == body
            places.append("trash")
    assert len(places) == 1, f"the session is in {places or 'no place'}"
    return places[0]


def _clean_after_repair(repo: FileRepository) -> None:
    repo.check(repair=True)
    report = repo.check()
    assert report.healthy, [(f.target, f.problems) for f in report.findings]
    assert repo.index_problems() == []
    trash = repo.root / TRASH_DIR
    for name in os.listdir(trash) if trash.exists() else []:
        assert not name.startswith("."), name
        assert len(os.listdir(trash / name)) == 2, (name, os.listdir(trash / name))


def _setup(tmp_path: Path, step: int) -> tuple[FileRepository, SessionMetadata, bytes]:
    root = tmp_path / f"s{step}"
    repo = FileRepository(root, lock_timeout=TEST_LOCK_TIMEOUT)
    meta = seed(repo, "keep me", replies=["kept"], name="precious")
    repo.list()  # the index exists, so every move must keep it in step
    return repo, repo.get(meta.id), repo.transcript_bytes(meta.id)


def _run_every_step(
    tmp_path: Path, operation: Callable[[FileRepository, str], object], prepare: str
) -> list[str]:
    """Run ``operation`` once per fault point until it runs through; returns the calls counted."""
    step = 0
    while True:
        step += 1
        repo, meta, body = _setup(tmp_path, step)
        arg = meta.id
        if prepare in ("trashed", "purge"):
            arg = repo.trash(meta.id, "deleted")
        counted: list[str] = []
        failed = False
        with fail_at(step, counted):
            try:
                operation(repo, arg)
            except SessionError:
                failed = True
        repo.close()
        repo = FileRepository(repo.root, lock_timeout=TEST_LOCK_TIMEOUT)
        if prepare == "purge":
            # Emptied, or still whole in the trash: never half of it.
            assert not repo.exists(meta.id)
            left = [e for e in repo.trashed() if e.session_id == meta.id]
            assert not (left and not failed)
            if left:
                _whole(repo, meta, body, any_name=True)
        else:
            _whole(repo, meta, body, any_name=True)
        _clean_after_repair(repo)
        if prepare != "purge":
            _whole(repo, meta, body, any_name=True)
        if len(counted) < step:
            return counted
        assert step < 200


def test_io_error_at_every_step_of_a_move_into_the_trash(tmp_path: Path) -> None:
    calls = _run_every_step(tmp_path, lambda repo, sid: repo.trash(sid, "deleted"), "place")
    assert {"mkdir", "rename", "fsync", "replace", "write"} <= set(calls)


def test_io_error_at_every_step_of_a_restore(tmp_path: Path) -> None:
    calls = _run_every_step(tmp_path, lambda repo, tid: repo.restore(tid), "trashed")
    assert {"rename", "fsync", "unlink", "rmdir"} <= set(calls)


def test_io_error_at_every_step_of_a_restore_that_clears_the_name(tmp_path: Path) -> None:
    calls = _run_every_step(tmp_path, lambda repo, tid: repo.restore(tid, clear_name=True), "trashed")
    assert "replace" in calls


def test_io_error_at_every_step_of_emptying(tmp_path: Path) -> None:
    calls = _run_every_step(tmp_path, lambda repo, tid: repo.purge(tid), "purge")
    assert "rename" in calls


# --------------------------------------------------------------------------- SIGKILL


@pytest.mark.parametrize("operation", ["trash", "restore"])
def test_sigkill_at_every_step(tmp_path: Path, operation: str) -> None:
    step = 0
    while True:
        step += 1
        repo, meta, body = _setup(tmp_path, step)
        target = meta.id if operation == "trash" else repo.trash(meta.id, "deleted")
        repo.close()
        reader = LineReader(spawn_worker("trash-kill", str(repo.root), target, operation, str(step)))
        lines, err = reader.finish(timeout=30)
        repo = FileRepository(repo.root, lock_timeout=TEST_LOCK_TIMEOUT)
        _whole(repo, meta, body, any_name=False)
        _clean_after_repair(repo)
        where = _whole(repo, meta, body, any_name=False)
        if lines and lines[-1] == "done":
            assert where == ("trash" if operation == "trash" else "place")
            assert step > 3, err  # it did stop at several steps before
            return
        assert lines == ["ready"], err
        assert step < 60
