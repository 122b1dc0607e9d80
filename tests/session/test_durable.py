"""The store's seams: the durable primitives, the layout's leftover names, and the repair rule
shared by the store and the doctor (stale temporary files are set aside, never deleted)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from chatcli.session.errors import PermissionDenied, SessionNotFound, StorageError, UnsafePath
from chatcli.session.health import DoctorReport, RepairReport
from chatcli.session.models import new_session_id
from chatcli.session.repository import IN_MEMORY, InMemoryRepository
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository, durable
from chatcli.session.store.doctor import run_doctor
from chatcli.session.store.layout import (
    METADATA_FILE,
    QUARANTINE_DIR,
    deleted_name,
    is_leftover,
    is_temp,
    leftover_session_id,
    staging_name,
    temp_name,
)
from tests.helpers import make_meta, user

# --------------------------------------------------------------------------- atomic writers


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder of its own (``tmp_path`` also holds the test's home)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_create_file_writes_a_new_file_whole(folder: Path) -> None:
    durable.create_file(folder, "out.txt", b"fresh")
    assert (folder / "out.txt").read_bytes() == b"fresh"
    assert stat.S_IMODE((folder / "out.txt").stat().st_mode) == 0o600
    assert os.listdir(folder) == ["out.txt"], "no temporary file is left behind"


def test_create_file_refuses_an_existing_file_and_leaves_it_intact(folder: Path) -> None:
    target = folder / "out.txt"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        durable.create_file(folder, "out.txt", b"would overwrite")
    assert target.read_bytes() == b"precious"
    assert os.listdir(folder) == ["out.txt"], "no temporary file is left behind"


def test_create_file_never_replaces_a_link(folder: Path) -> None:
    elsewhere = folder / "elsewhere"
    elsewhere.write_bytes(b"outside")
    (folder / "out.txt").symlink_to(elsewhere)
    with pytest.raises(FileExistsError):
        durable.create_file(folder, "out.txt", b"new")
    assert (folder / "out.txt").is_symlink() and elsewhere.read_bytes() == b"outside"


def test_create_file_without_hard_links_still_never_overwrites(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    durable.create_file(folder, "a.txt", b"one")
    assert (folder / "a.txt").read_bytes() == b"one"
    with pytest.raises(FileExistsError):
        durable.create_file(folder, "a.txt", b"two")
    assert (folder / "a.txt").read_bytes() == b"one"
    assert os.listdir(folder) == ["a.txt"]


def test_replace_file_overwrites_atomically_and_mode_none_follows_the_umask(folder: Path) -> None:
    (folder / "out.txt").write_bytes(b"old")
    old_umask = os.umask(0o022)
    try:
        durable.replace_file(folder, "out.txt", b"new", mode=None)
    finally:
        os.umask(old_umask)
    assert (folder / "out.txt").read_bytes() == b"new"
    assert stat.S_IMODE((folder / "out.txt").stat().st_mode) == 0o644
    assert os.listdir(folder) == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "out.txt").write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    for write in (durable.replace_file, durable.create_file):
        with pytest.raises(StorageError) as err:
            write(folder, "new.txt" if write is durable.create_file else "out.txt", b"data")
        assert "no space left" in err.value.user_message()
    assert os.listdir(folder) == ["out.txt"] and (folder / "out.txt").read_bytes() == b"old"


# --------------------------------------------------------------------------- reads and the one translation


def test_the_one_translation_of_an_os_error(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target")
    plain = tmp_path / "plain"
    loop = OSError(errno.ELOOP, "Too many levels of symbolic links")
    assert isinstance(durable.storage_error(loop, link), UnsafePath)
    assert isinstance(durable.storage_error(OSError(errno.EIO, "I/O"), link), UnsafePath)
    denied = durable.storage_error(PermissionError(errno.EACCES, "denied"), plain)
    assert isinstance(denied, PermissionDenied)
    io = durable.storage_error(OSError(errno.EIO, "Input/output error"), plain)
    assert type(io) is StorageError and "input/output error" in io.user_message()

    with pytest.raises(UnsafePath), durable.translated(link):
        durable.read_bytes(link)
    with pytest.raises(StorageError), durable.translated(plain):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_read_bytes_refuses_links_fifos_and_oversized_files(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"secret")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(OSError) as err:
        durable.read_bytes(tmp_path / "link")
    assert err.value.errno == errno.ELOOP
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(IsADirectoryError):
        durable.read_bytes(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(durable.FileTooLarge):
        durable.read_bytes(tmp_path / "big", limit=10)
    assert durable.read_bytes(tmp_path / "big", limit=100) == b"x" * 100


# --------------------------------------------------------------------------- layout


def test_leftover_names_are_recognised() -> None:
    sid = new_session_id()
    for name in (staging_name(sid), deleted_name(sid)):
        assert is_leftover(name) and leftover_session_id(name) == sid
    assert not is_leftover(".gitignore") and leftover_session_id(".staging-not-an-id") is None
    assert is_temp(temp_name(METADATA_FILE)) and temp_name(METADATA_FILE).startswith(f".{METADATA_FILE}.")
    assert not is_temp(METADATA_FILE)


# ------------------------------------------------------------------ one rule for stale temp files


def _with_stale_temp(repo: FileRepository) -> tuple[str, bytes]:
    meta = make_meta("hello")
    repo.create(meta, [user("hello")])
    leftover = b'{"version": 1, "id": "half'
    (repo.root / meta.id / temp_name(METADATA_FILE)).write_bytes(leftover)
    return meta.id, leftover


def test_store_repair_and_doctor_both_set_stale_temp_files_aside(tmp_path: Path) -> None:
    for via_doctor in (False, True):
        repo = FileRepository(tmp_path / f"s{via_doctor}")
        sid, leftover = _with_stale_temp(repo)
        if via_doctor:
            assert run_doctor(repo, repair=True).healthy
        else:
            assert "temporary" in repo.repair(sid).actions[0]
        assert not [p for p in (repo.root / sid).iterdir() if is_temp(p.name)]
        kept = [p.read_bytes() for p in (repo.root / QUARANTINE_DIR).iterdir()]
        assert kept == [leftover], "set aside, never deleted"


# ------------------------------------------------------------------ check and repair via the protocol


def test_in_memory_check_and_repair_are_real() -> None:
    repo = InMemoryRepository()
    meta = make_meta("hello")
    repo.create(meta, [user("hello")])
    report = SessionService(repo).doctor(repair=True)
    assert isinstance(report, DoctorReport)
    assert (report.root, report.repaired, report.sessions_checked, report.healthy) == (
        IN_MEMORY,
        True,
        1,
        True,
    )
    assert repo.repair(meta.id) == RepairReport(meta.id) and not repo.repair(meta.id).changed
    with pytest.raises(SessionNotFound):
        repo.repair(new_session_id())


def test_file_check_is_the_doctor(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    sid, _ = _with_stale_temp(repo)
    report = repo.check()
    assert not report.healthy and [f.target for f in report.findings] == [sid]
    assert repo.check(repair=True).healthy and repo.check().healthy
