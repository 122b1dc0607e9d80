"""FileRepository and hostile paths: ids that try to leave the folder, symbolic links planted in the
store."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from chatcli.session.errors import (
    SessionError,
    SessionNotFound,
    StorageError,
    UnsafePath,
)
from chatcli.session.location import discover_sessions_dir
from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers import (
    confined_writes,
    make_meta,
    session_with_messages,
    snapshot,
    user,
)

# --------------------------------------------------------------------------- hostile ids


HOSTILE_IDS = [
    "..",
    ".",
    "../x",
    "/etc",
    "/",
    "a/b",
    "",
    "\x00",
    "abc\x00def",
    "not-a-uuid",
    "~",
    "\\..\\x",
    "../" + "0" * 8 + "-0000-4000-8000-" + "0" * 12,
    "0" * 8 + "-0000-4000-8000-" + "0" * 12 + "/../..",
    "ABCDEF01-ABCD-4ABC-8ABC-ABCDEFABCDEF",
    ".locks",
    ".quarantine",
]


@pytest.mark.parametrize("bad_id", HOSTILE_IDS, ids=repr)
def test_hostile_ids_touch_nothing(repo: FileRepository, tmp_path: Path, bad_id: str) -> None:
    session_with_messages(repo, 1)
    before = snapshot(tmp_path)

    with confined_writes(tmp_path) as refused:
        assert repo.exists(bad_id) is False
        for op in (
            repo.get,
            repo.delete,
            repo.load_messages,
            repo.repair,
            lambda i: repo.update(i, lambda m: m.archive()),
            lambda i: repo.append_message(i, user("x")),
            repo.session_lock,
        ):
            with pytest.raises(SessionNotFound) as err:
                op(bad_id)
            assert "not a valid session id" in err.value.user_message()

    assert refused == []
    assert snapshot(tmp_path) == before


def test_save_with_a_non_uuid_id_is_refused(repo: FileRepository, tmp_path: Path) -> None:
    with pytest.raises(SessionError):
        repo.save(SessionMetadata.new("../escape", "x"))
    with pytest.raises(SessionError):
        repo.create(SessionMetadata.new("../escape", "x"))
    assert not (tmp_path / "escape").exists()


# --------------------------------------------------------------------------- symbolic links


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the sessions tree holding things an attacker would like chatcli to write to."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"do not touch\n")
    return folder


def _assert_unsafe(call: Callable[[], object]) -> UnsafePath:
    with pytest.raises(UnsafePath) as err:
        call()
    assert isinstance(err.value, StorageError)
    assert "symbolic link" in err.value.user_message()
    assert "never follows links" in err.value.user_message()
    return err.value


@pytest.mark.parametrize("planted", [".amazonq", ".amazonq/sessions"])
def test_symlinked_project_folders_are_refused(tmp_path: Path, outside: Path, planted: str) -> None:
    project = tmp_path / "project"
    (project / ".amazonq").mkdir(parents=True)
    if planted == ".amazonq":
        (project / ".amazonq").rmdir()
    victim = FileRepository(outside / "sessions")
    victim.save(make_meta("victim"))
    victim.close()
    os.symlink(outside if planted == ".amazonq" else outside / "sessions", project / planted)
    before = snapshot(outside)
    repo = FileRepository(discover_sessions_dir(cwd=project, environ={}))
    victim_id = victim.list()[0].id

    err = _assert_unsafe(repo.list)
    assert err.path == project / planted
    _assert_unsafe(lambda: repo.get(victim_id))
    _assert_unsafe(lambda: repo.load_messages(victim_id))
    _assert_unsafe(lambda: repo.save(make_meta()))
    _assert_unsafe(lambda: repo.append_message(victim_id, user("x")))
    _assert_unsafe(lambda: repo.delete(victim_id))
    assert snapshot(outside) == before


def test_symlinked_explicit_sessions_folder_is_refused(tmp_path: Path, outside: Path) -> None:
    os.symlink(outside, tmp_path / "sessions-link")
    repo = FileRepository(tmp_path / "sessions-link")
    before = snapshot(outside)
    _assert_unsafe(repo.list)
    _assert_unsafe(lambda: repo.save(make_meta()))
    assert snapshot(outside) == before


def _plant_session_folder_link(repo: FileRepository, outside: Path) -> str:
    victim = FileRepository(outside / "victim-store")
    sid = session_with_messages(victim, 2).id
    victim.close()  # its own index connection must not write (checkpoint) during the test
    repo.save(make_meta("real"))
    os.symlink(outside / "victim-store" / sid, repo.root / sid)
    return sid


def test_symlinked_session_folder_is_refused(repo: FileRepository, outside: Path) -> None:
    sid = _plant_session_folder_link(repo, outside)
    before = snapshot(outside)

    for call in (
        lambda: repo.get(sid),
        lambda: repo.load_messages(sid),
        lambda: repo.append_message(sid, user("x")),
        lambda: repo.update(sid, lambda m: m.archive()),
        lambda: repo.save(make_meta(session_id=sid)),
        lambda: repo.repair(sid),
        lambda: repo.delete(sid),
    ):
        _assert_unsafe(call)
    listed = repo.list()
    assert len(listed) == 1 and [type(p) for p in listed.problems] == [UnsafePath]
    assert snapshot(outside) == before
    assert os.path.islink(repo.root / sid)


@pytest.mark.parametrize("planted", [METADATA_FILE, CONVERSATION_FILE])
def test_symlinked_session_files_are_refused(repo: FileRepository, outside: Path, planted: str) -> None:
    meta = session_with_messages(repo, 2)
    target = outside / "target"
    shutil.copyfile(repo.root / meta.id / planted, target)  # a perfectly valid file, just elsewhere
    (repo.root / meta.id / planted).unlink()
    os.symlink(target, repo.root / meta.id / planted)
    before = snapshot(outside)

    calls: list[Callable[[], object]] = [
        lambda: repo.append_message(meta.id, user("x")),
        lambda: repo.repair(meta.id),
    ]
    if planted == METADATA_FILE:
        calls += [
            lambda: repo.get(meta.id),
            lambda: repo.update(meta.id, lambda m: m.archive()),
            lambda: repo.save(meta),
        ]
    else:
        calls += [lambda: repo.load_messages(meta.id)]
    for call in calls:
        _assert_unsafe(call)
    assert snapshot(outside) == before

    repo.delete(meta.id)  # deleting removes the link, never what it points to
    assert snapshot(outside) == before


@pytest.mark.parametrize("planted", [".locks", ".quarantine"])
def test_symlinked_bookkeeping_folders_are_refused(repo: FileRepository, outside: Path, planted: str) -> None:
    meta = session_with_messages(repo, 1)
    conv = repo.root / meta.id / CONVERSATION_FILE
    conv.write_bytes(conv.read_bytes() + b'{"torn')  # so the next append needs .quarantine/
    if planted == ".locks":
        shutil.rmtree(repo.root / ".locks")
    os.symlink(outside, repo.root / planted)
    before_outside, before_conv = snapshot(outside), conv.read_bytes()

    _assert_unsafe(lambda: repo.append_message(meta.id, user("x")))

    assert snapshot(outside) == before_outside
    assert conv.read_bytes() == before_conv


def test_symlinked_lock_file_is_refused(repo: FileRepository, outside: Path) -> None:
    meta = session_with_messages(repo, 1)
    lock = repo.root / ".locks" / f"{meta.id}.lock"
    lock.unlink()
    os.symlink(outside / "secret.txt", lock)
    before = snapshot(outside)
    _assert_unsafe(lambda: repo.update(meta.id, lambda m: m.archive()))
    assert snapshot(outside) == before
