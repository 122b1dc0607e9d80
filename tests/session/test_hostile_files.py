"""Hostile files planted in the store and around it (issue 11: defects 3, 4, 7, 8 and 17).

* hard links (and files owned by someone else) at every name the store writes, truncates,
  appends to or chmods: refused with a clear message, the outside file never changes;
* a FIFO named ``.changes`` and a folder in place of a lock file: a clear message naming the
  path, never a hang; ``doctor`` reports them and ``--repair`` moves them aside;
* a planted ``.amazonq`` owned by another user, writable by others, or above the project's
  ``.git``: never used;
* a torn last line read in pieces (``pread`` is capped): the repair keeps every byte it cuts;
* ``sessions export -o`` onto a dangling link, into a missing or an unwritable folder.

Commands that could hang run in a subprocess with a timeout, so a regression fails the test.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from chatcli.commands.output_file import write_export as _write_export
from chatcli.errors import ExitCode
from chatcli.session.errors import SessionError, UnsafePath
from chatcli.session.location import discover_sessions_dir
from chatcli.session.models import Message
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import (
    CHANGES_FILE,
    CONVERSATION_FILE,
    INDEX_DIR,
    INDEX_FILE,
    LOCKS_DIR,
    METADATA_FILE,
    NAMES_LOCK,
    QUARANTINE_DIR,
    lock_name,
)
from tests.helpers import (
    TEST_LOCK_TIMEOUT,
    chatcli,
    locked_out,
    numbered,
    run_unprivileged,
    seed,
    unprivileged_ids,
)

OUTSIDE_TEXT = b"my own notes, not a session file\n"
OUTSIDE_MODE = 0o644


def _outside(tmp_path: Path, data: bytes = OUTSIDE_TEXT) -> Path:
    """A file of the user's outside the store, with a mode the store never uses."""
    notes = tmp_path / "home-notes.txt"
    notes.write_bytes(data)
    notes.chmod(OUTSIDE_MODE)
    return notes


def _unchanged(path: Path, data: bytes) -> None:
    assert path.read_bytes() == data, "the outside file was written through a hard link"
    assert stat.S_IMODE(path.stat().st_mode) == OUTSIDE_MODE, "the outside file was chmodded"


def _plant_link(outside: Path, at: Path) -> None:
    at.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(at):
        at.unlink()
    os.link(outside, at)


# --------------------------------------------------------------------------- hard links (defect 3)

#: Every file a rename or an append writes, truncates, appends to or chmods, relative to the store.
LINKED = {
    "metadata": "{sid}/" + METADATA_FILE,
    "transcript": "{sid}/" + CONVERSATION_FILE,
    "changes": CHANGES_FILE,
    "session-lock": f"{LOCKS_DIR}/{{lock}}",
    "names-lock": f"{LOCKS_DIR}/{NAMES_LOCK}",
}


@pytest.mark.parametrize("what", list(LINKED))
def test_hard_links_in_the_store_are_never_written_through(
    repo: FileRepository, tmp_path: Path, what: str
) -> None:
    sid = seed(repo, messages=numbered(2), name="before").id
    other = seed(repo, messages=numbered(1)).id
    at = repo.root / LINKED[what].format(sid=sid, lock=lock_name(sid))
    # The outside file holds what the store expects there, so nothing stops at a parse error.
    content = at.read_bytes() if at.exists() else OUTSIDE_TEXT
    outside = _outside(tmp_path, content)
    _plant_link(outside, at)
    svc = SessionService(repo)
    transcript = (repo.root / sid / CONVERSATION_FILE).read_bytes()

    refused: list[str] = []
    operations: dict[str, Callable[[], object]] = {
        "rename": lambda: svc.rename(sid, "after"),
        "append": lambda: repo.append_message(sid, Message(role="user", content="through the link?")),
    }
    for name, operation in operations.items():
        try:
            operation()
        except UnsafePath as exc:
            refused.append(name)
            message = exc.user_message()
            assert "hard link" in message and str(repo.root) in message, message
            assert "disk space" not in message
            assert exc.exit_code == ExitCode.STORAGE
        _unchanged(outside, content)
    assert refused, "a hard-linked store file was used without a word"
    if "append" in refused:
        assert (repo.root / sid / CONVERSATION_FILE).read_bytes() == transcript, "refused before the append"
    # Other sessions are unaffected (the session lock and the transcript are this session's own).
    if what in ("metadata", "transcript", "session-lock"):
        svc.rename(other, "still-works")
        repo.append_message(other, Message(role="user", content="fine"))
        assert repo.get(other).message_count == 2


def test_a_hard_linked_index_is_dropped_never_written(repo: FileRepository, tmp_path: Path) -> None:
    """The index is a cache: a hard link in its place is unlinked and rebuilt; the other file stays."""
    sid = seed(repo, messages=numbered(2)).id
    db = tmp_path / "someone-elses.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE mine (x)")
    conn.close()
    db.chmod(OUTSIDE_MODE)
    before = db.read_bytes()
    index = repo.root / INDEX_DIR / INDEX_FILE
    repo.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    os.link(db, index)

    SessionService(repo).rename(sid, "renamed")
    repo.append_message(sid, Message(role="user", content="more"))
    assert [m.name for m in SessionService(repo).list_sessions(status="all").sessions] == ["renamed"]
    repo.close()
    _unchanged(db, before)


def test_a_file_owned_by_another_user_is_refused(repo: FileRepository, tmp_path: Path) -> None:
    sid = seed(repo, messages=numbered(2)).id
    path = repo.root / sid / METADATA_FILE
    before = path.read_bytes()
    uid, gid = unprivileged_ids()
    os.chown(path, uid if uid != os.geteuid() else 0, gid)
    if path.stat().st_uid == os.geteuid():  # not root: a file we cannot give away; use a link instead
        _plant_link(_outside(tmp_path), path)
        before = path.read_bytes()
    with pytest.raises(UnsafePath) as caught:
        SessionService(repo).rename(sid, "mine-now")
    assert str(path) in caught.value.user_message()
    assert path.read_bytes() == before


def test_doctor_reports_hard_links_and_repair_never_touches_them(
    repo: FileRepository, tmp_path: Path
) -> None:
    sid = seed(repo, messages=numbered(2)).id
    good = seed(repo, messages=numbered(1)).id
    torn = (repo.root / sid / CONVERSATION_FILE).read_bytes() + b'{"role": "user", "cont'
    outside = _outside(tmp_path, torn)
    _plant_link(outside, repo.root / sid / CONVERSATION_FILE)
    changes = tmp_path / "changes-notes.txt"
    changes.write_bytes(OUTSIDE_TEXT)
    changes.chmod(OUTSIDE_MODE)
    _plant_link(changes, repo.root / CHANGES_FILE)
    lock = tmp_path / "lock-notes.txt"
    lock.write_bytes(OUTSIDE_TEXT)
    lock.chmod(OUTSIDE_MODE)
    _plant_link(lock, repo.root / LOCKS_DIR / lock_name(good))

    base = ["sessions", "--sessions-dir", str(repo.root)]
    checked = chatcli([*base, "doctor", "--json"], cwd=tmp_path)
    repaired = chatcli([*base, "doctor", "--repair", "--json"], cwd=tmp_path)

    _unchanged(outside, torn)
    _unchanged(changes, OUTSIDE_TEXT)
    _unchanged(lock, OUTSIDE_TEXT)
    assert checked.code == 1, checked
    findings = {f["target"]: f for f in json.loads(checked.out)["findings"]}
    assert any("hard link" in p and CONVERSATION_FILE in p for p in findings[sid]["problems"]), findings
    assert any("hard link" in p for p in findings[CHANGES_FILE]["problems"]), findings
    assert any("hard link" in p for p in findings[f"{LOCKS_DIR}/{lock_name(good)}"]["problems"]), findings
    report = json.loads(repaired.out)
    fixed = {f["target"]: f for f in report["findings"]}
    assert fixed[sid]["unrepairable"], "the linked transcript is left as it is"
    # The planted links themselves were moved aside (a rename: the outside files are untouched).
    assert not os.path.lexists(repo.root / CHANGES_FILE)
    assert not os.path.lexists(repo.root / LOCKS_DIR / lock_name(good))
    assert len(list((repo.root / QUARANTINE_DIR).iterdir())) == 2
    SessionService(repo).rename(good, "works-again")


# --------------------------------------------------------------------------- FIFOs and folders (defect 8)


def test_a_fifo_named_changes_never_hangs_a_write(repo: FileRepository, tmp_path: Path) -> None:
    sid = seed(repo, messages=numbered(2)).id
    (repo.root / CHANGES_FILE).unlink()
    os.mkfifo(repo.root / CHANGES_FILE)
    base = ["sessions", "--sessions-dir", str(repo.root)]

    renamed = chatcli([*base, "name", sid, "new-name"], cwd=tmp_path)
    assert renamed.code == ExitCode.STORAGE, renamed
    assert CHANGES_FILE in renamed.err and "disk space" not in renamed.err, renamed
    assert repo.get(sid).name is None, "refused before anything changed"

    doctor = chatcli([*base, "doctor", "--json"], cwd=tmp_path)
    assert doctor.code == 1, doctor
    assert CHANGES_FILE in {f["target"] for f in json.loads(doctor.out)["findings"]}
    repaired = chatcli([*base, "doctor", "--repair"], cwd=tmp_path)
    assert repaired.code == 0, repaired
    assert not os.path.lexists(repo.root / CHANGES_FILE)
    assert any(stat.S_ISFIFO(p.lstat().st_mode) for p in (repo.root / QUARANTINE_DIR).iterdir())
    assert chatcli([*base, "name", sid, "new-name"], cwd=tmp_path).code == 0


def test_a_folder_in_place_of_a_lock_file_is_named(repo: FileRepository, tmp_path: Path) -> None:
    sid = seed(repo, messages=numbered(2)).id
    other = seed(repo, messages=numbered(1)).id
    lock = repo.root / LOCKS_DIR / lock_name(sid)
    lock.unlink(missing_ok=True)
    lock.mkdir()
    base = ["sessions", "--sessions-dir", str(repo.root)]

    renamed = chatcli([*base, "name", sid, "new-name"], cwd=tmp_path)
    assert renamed.code == ExitCode.STORAGE, renamed
    assert str(lock) in renamed.err.replace("\n", "") or lock_name(sid) in renamed.err, renamed
    assert "disk space" not in renamed.err, renamed
    assert chatcli([*base, "name", other, "other-name"], cwd=tmp_path).code == 0

    doctor = chatcli([*base, "doctor", "--json"], cwd=tmp_path)
    assert doctor.code == 1, doctor
    assert f"{LOCKS_DIR}/{lock_name(sid)}" in {f["target"] for f in json.loads(doctor.out)["findings"]}
    assert chatcli([*base, "doctor", "--repair"], cwd=tmp_path).code == 0
    assert not os.path.lexists(lock)
    assert chatcli([*base, "name", sid, "new-name"], cwd=tmp_path).code == 0


# ---------------------------------------------------------------- a torn tail read in pieces (defect 7)


def test_a_torn_tail_longer_than_one_pread_is_kept_whole(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux caps one ``pread`` (at 0x7ffff000 bytes); here the cap is 1000 bytes."""
    sid = seed(repo, messages=numbered(2)).id
    path = repo.root / sid / CONVERSATION_FILE
    complete = path.read_bytes()
    torn = b'{"role": "user", "content": "' + b"x" * 5000
    path.write_bytes(complete + torn)
    real_pread = os.pread

    def capped(fd: int, size: int, offset: int) -> bytes:
        return real_pread(fd, min(size, 1000), offset)

    monkeypatch.setattr(os, "pread", capped)

    report = repo.repair(sid)

    kept = list((repo.root / QUARANTINE_DIR).iterdir())
    assert [p.read_bytes() for p in kept] == [torn], "every byte cut off is kept"
    assert path.read_bytes() == complete
    assert any(f"({len(torn)} bytes)" in a and kept[0].name in a for a in report.actions), report.actions


# --------------------------------------------------------------------------- discovery (defect 4)


def _shared(tmp_path: Path) -> tuple[Path, Path]:
    """A shared parent holding a planted ``.amazonq/sessions`` with a bait session, and a work folder."""
    shared = tmp_path / "shared"
    bait = FileRepository(shared / ".amazonq" / "sessions", lock_timeout=TEST_LOCK_TIMEOUT)
    seed(bait, messages=numbered(1), name="bait")
    work = shared / "work"
    work.mkdir()
    return shared, work


@pytest.mark.parametrize("how", ["other-owner", "world-writable", "group-writable-sessions"])
def test_an_untrusted_amazonq_is_refused(tmp_path: Path, how: str) -> None:
    shared, work = _shared(tmp_path)
    amazonq = shared / ".amazonq"
    if how == "other-owner":
        uid, gid = unprivileged_ids()
        os.chown(amazonq, uid, gid)
    elif how == "world-writable":
        amazonq.chmod(0o777)
    else:
        (amazonq / "sessions").chmod(0o770)

    with pytest.raises(UnsafePath) as caught:
        discover_sessions_dir(cwd=work, environ={})
    message = caught.value.user_message()
    assert str(amazonq) in message and "--sessions-dir" in message, message

    run = chatcli(["sessions", "list", "--all"], cwd=work)
    assert run.code == ExitCode.STORAGE and "bait" not in run.out, run
    assert "--sessions-dir" in run.err, run
    # Given outright, the same folder is trusted.
    trusted = chatcli(["sessions", "--sessions-dir", str(amazonq / "sessions"), "list"], cwd=work)
    assert trusted.code == 0 and "bait" in trusted.out, trusted


def test_an_amazonq_above_the_project_is_not_used(tmp_path: Path) -> None:
    shared, _ = _shared(tmp_path)
    project = shared / "project"
    (project / ".git").mkdir(parents=True)
    deep = project / "src"
    deep.mkdir()

    found = discover_sessions_dir(cwd=deep, environ={})
    assert (found.path, found.source) == (project / ".amazonq" / "sessions", "git")
    run = chatcli(["sessions", "list", "--all"], cwd=deep)
    assert run.code == 0 and "bait" not in run.out, run


# --------------------------------------------------------------------------- export -o (defect 17)


def test_export_never_replaces_a_dangling_link_without_force(repo: FileRepository, tmp_path: Path) -> None:
    sid = seed(repo, messages=numbered(2)).id
    link = tmp_path / "export.md"
    link.symlink_to(tmp_path / "nowhere" / "target.md")
    base = ["sessions", "--sessions-dir", str(repo.root), "export", sid, "-o", str(link)]

    refused = chatcli(base, cwd=tmp_path)
    assert refused.code == 1 and "--force" in refused.err, refused
    assert link.is_symlink() and os.readlink(link) == str(tmp_path / "nowhere" / "target.md")
    forced = chatcli([*base, "--force"], cwd=tmp_path)
    assert forced.code == 0, forced
    assert not link.is_symlink() and "message 1" in link.read_text()
    assert not (tmp_path / "nowhere").exists(), "--force replaces the link, never writes through it"


def test_export_into_a_missing_folder_says_so(repo: FileRepository, tmp_path: Path) -> None:
    sid = seed(repo, messages=numbered(2)).id
    target = tmp_path / "missing" / "export.md"
    run = chatcli(
        ["sessions", "--sessions-dir", str(repo.root), "export", sid, "-o", str(target)], cwd=tmp_path
    )
    assert run.code != 0, run
    err = " ".join(run.err.split())
    assert "does not exist" in err and str(target.parent) in err, run
    assert "disk space" not in err and "sessions folder" not in err, run


def test_export_into_an_unwritable_folder_says_permission_denied(tmp_path: Path) -> None:
    sandbox = Path(tempfile.mkdtemp(prefix="chatcli-export-"))
    try:
        sandbox.chmod(0o755)
        locked = sandbox / "locked"
        locked.mkdir()
        target = locked / "export.md"

        def export() -> dict[str, object]:
            try:
                _write_export(target, "text", overwrite=False)
            except SessionError as exc:
                return {"kind": exc.kind, "message": exc.user_message()}
            return {"kind": "written"}

        with locked_out(locked):
            result = run_unprivileged(export)
        message = " ".join(str(result.get("message")).split())
        assert result["kind"] != "written" and "ermission denied" in message, result
        assert str(target) in message and "sessions folder" not in message, result
        assert not target.exists()
    finally:
        shutil.rmtree(sandbox)


def test_export_errors_are_named_for_injected_failures(
    repo: FileRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for code, words in ((errno.EACCES, "ermission denied"), (errno.EROFS, "read-only")):

        def refuse(*_: object, code: int = code, **__: object) -> int:
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(os, "open", refuse)
        with pytest.raises(SessionError) as caught:
            _write_export(tmp_path / "out.md", "text", overwrite=False)
        monkeypatch.undo()
        message = caught.value.user_message()
        assert words in message and str(tmp_path / "out.md") in message, message
        assert "sessions folder" not in message and "disk space" not in message, message
