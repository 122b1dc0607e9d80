"""Fault injection: every failing write-side call, in the style of SQLite's I/O-error and crash tests.

* Every write-side system call an operation makes (``os.write``/``pwrite``/``fsync``/``replace``/
  ``rename``/``mkdir`` and ``os.open`` with write flags) is counted; then, for every N, the operation
  is re-run on a fresh copy of a seeded store with the N-th call failing with ENOSPC, EIO or EACCES
  (once, and from N on). Each run must end in success or a :class:`StorageError`, and the store
  must still load with everything acknowledged before, nothing half-written, and only damage the
  doctor can repair.
* Crash storms: writer processes doing a random mix of operations are SIGKILLed at random moments,
  round after round; every acknowledged message survives exactly once.
* Read-only, foreign-owned, full and missing sessions folders give a clear storage error (or, for a
  missing folder, an empty result) and leave everything as it was."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatcli.session.errors import PermissionDenied, StorageError
from chatcli.session.models import Message, SessionMetadata, new_session_id
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers.faults import Faults, Seeded, injected, make_template

ERRNOS = (errno.ENOSPC, errno.EIO, errno.EACCES)


NEW_MESSAGE_ID = "the-new-message"


@dataclass(frozen=True)
class Op:
    """An operation under test and what its success or failure must leave behind."""

    name: str
    run: Callable[[SessionService, FileRepository, Seeded], object]
    #: The session the operation appends ``NEW_MESSAGE_ID`` to, if any.
    appends_to: str | None = None
    #: Start from a damaged copy (the doctor's own repairs are under test).
    prepare: Callable[[Path, Seeded], None] | None = None


def _append(target: str) -> Callable[[SessionService, FileRepository, Seeded], object]:
    def run(svc: SessionService, repo: FileRepository, s: Seeded) -> object:
        sid = getattr(s, target)
        return svc.append(sid, Message(role="user", content="new", id=NEW_MESSAGE_ID))

    return run


def _damage(root: Path, s: Seeded) -> None:
    """A truncated metadata file, a bad line in the middle and a stray temp file."""
    meta = root / s.alpha / METADATA_FILE
    meta.write_bytes(meta.read_bytes()[:40])
    conv = root / s.beta / CONVERSATION_FILE
    lines = conv.read_bytes().split(b"\n")
    conv.write_bytes(b"\n".join([lines[0], b"not json", *lines[1:]]))
    (root / s.beta / f".{METADATA_FILE}.9.feedface.tmp").write_bytes(b"{")


OPS = [
    Op("append", _append("alpha"), appends_to="alpha"),
    Op("append-after-torn-tail", _append("torn"), appends_to="torn"),
    Op("rename", lambda svc, repo, s: svc.rename(s.alpha, "renamed")),
    Op("archive", lambda svc, repo, s: svc.archive(s.alpha)),
    Op("save-existing", lambda svc, repo, s: repo.update(s.beta, lambda m: m.unarchive())),
    Op("save-new", lambda svc, repo, s: repo.save(SessionMetadata.new(new_session_id(), "fresh"))),
    Op("start-session", lambda svc, repo, s: svc.start_session([Message(role="user", content="hi")])),
    Op("fork", lambda svc, repo, s: svc.fork(s.alpha, name="forked")),
    Op("import", lambda svc, repo, s: svc.import_file(s.import_file)),
    Op("delete", lambda svc, repo, s: svc.delete(s.beta)),
    Op("doctor-repair", lambda svc, repo, s: run_doctor(repo, repair=True), prepare=_damage),
]


def _run_op(op: Op, root: Path, seeded: Seeded, faults: Faults) -> BaseException | None:
    repo = FileRepository(root, lock_timeout=0.5)
    svc = SessionService(repo)
    with injected(faults):
        try:
            op.run(svc, repo, seeded)
        except Exception as exc:
            return exc
    return None


def _verify(op: Op, root: Path, seeded: Seeded, outcome: BaseException | None, faults: Faults) -> None:
    """The invariants every run must satisfy, whatever failed."""
    where = f"{op.name}: call {faults.fail_at} ({faults.fired[:1]}) {errno.errorcode[faults.err]}"
    if outcome is not None:
        assert isinstance(outcome, StorageError), f"{where}: {type(outcome).__name__}: {outcome}"
        if faults.err == errno.EACCES:
            assert isinstance(outcome, PermissionDenied), where
        else:
            text = "no space left" if faults.err == errno.ENOSPC else "input/output error"
            assert text in outcome.user_message(), where
    fresh = FileRepository(root, lock_timeout=1)
    _check_nothing_half_written(where, op=op, root=root, seeded=seeded, outcome=outcome, fresh=fresh)
    _check_the_doctor_repairs_the_rest(where, fresh)
    _check_every_acknowledged_message(
        where, op=op, root=root, seeded=seeded, outcome=outcome, faults=faults, fresh=fresh
    )


def _check_nothing_half_written(
    where: str, *, op: Op, root: Path, seeded: Seeded, outcome: BaseException | None, fresh: FileRepository
) -> None:
    """Metadata parses, no temp file, staging folder or empty session folder is left, and every
    transcript the operation may have touched parses completely."""
    if op.prepare is None:
        assert fresh.list().problems == [], f"{where}: metadata no longer parses"
    # Nothing half-written: no temp files, no half-created sessions.
    for path in root.rglob("*"):
        assert not path.name.endswith(".tmp") or op.prepare is not None, f"{where}: left {path}"
    assert not list(root.glob(".staging-*")), f"{where}: staging folder left"
    for folder in root.iterdir():
        if folder.is_dir() and len(folder.name) == 36:
            assert os.listdir(folder), f"{where}: empty session folder left"
    # No partial line: every transcript the operation may have touched parses completely.
    for meta in fresh.list() if op.prepare is None else []:
        if meta.id == seeded.torn and op.name != "append-after-torn-tail":
            continue  # torn on purpose, and not this operation's business
        if meta.id == seeded.torn and outcome is not None:
            continue  # the append failed before it could mend the tail
        transcript = fresh.load_messages(meta.id)
        assert not transcript.torn_tail and transcript.skipped_lines == [], f"{where}: partial line"


def _check_the_doctor_repairs_the_rest(where: str, fresh: FileRepository) -> None:
    """The doctor can repair whatever is left, and then everything is healthy."""
    looked = run_doctor(fresh)
    assert all(f.unrepairable == [] for f in looked.findings), f"{where}: {looked.findings}"
    run_doctor(fresh, repair=True)
    after = run_doctor(fresh)
    assert after.findings == [] and after.healthy, f"{where}: {after.findings}"


def _check_every_acknowledged_message(
    where: str,
    *,
    op: Op,
    root: Path,
    seeded: Seeded,
    outcome: BaseException | None,
    faults: Faults,
    fresh: FileRepository,
) -> None:
    """Every acknowledged message is there exactly once (a deleted session may be gone), an
    acknowledged append is kept and a failed one left nothing, a torn tail is kept whole."""
    sessions = {m.id: m for m in fresh.list()}
    for sid, acked in seeded.acked.items():
        if op.name == "delete" and sid == seeded.beta and sid not in sessions:
            continue  # the delete got past its rename: the user asked for it
        assert sid in sessions, f"{where}: session {sid} lost"
        ids = [m.id for m in fresh.load_messages(sid).messages]
        assert len(ids) == len(set(ids)), f"{where}: duplicated message"
        assert all(ids.count(a) == 1 for a in acked), f"{where}: acknowledged message lost"
        assert sessions[sid].message_count == len(ids)
    if op.name == "delete" and outcome is None:
        assert seeded.beta not in sessions
    if op.appends_to is not None:
        sid = getattr(seeded, op.appends_to)
        count = [m.id for m in fresh.load_messages(sid).messages].count(NEW_MESSAGE_ID)
        if outcome is None:
            assert count == 1, f"{where}: acknowledged append lost"
        elif not faults.persist:
            assert count == 0, f"{where}: a failed append left its message behind"
        else:
            assert count <= 1
    if op.name == "append-after-torn-tail":
        quarantine = root / ".quarantine"
        kept = [p.read_bytes() for p in quarantine.iterdir()] if quarantine.exists() else []
        assert all(k == seeded.torn_bytes for k in kept), f"{where}: a half-written copy in quarantine"
        assert outcome is not None or kept, f"{where}: the torn tail was not kept"
    if op.name == "import" and seeded.import_id in sessions:
        assert len(fresh.load_messages(seeded.import_id).messages) == 2


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    work = tmp_path_factory.mktemp("fault-template")
    return work / "sessions", make_template(work / "sessions", work)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_every_failing_call(op: Op, template: tuple[Path, Seeded], tmp_path: Path) -> None:
    """For every N: the N-th write-side call fails (ENOSPC, EIO, EACCES; once and from N on)."""
    source, seeded = template
    runs = 0

    def fresh_copy(tag: str) -> Path:
        root = tmp_path / tag
        shutil.copytree(source, root, symlinks=True)
        if op.prepare is not None:
            op.prepare(root, seeded)
        return root

    counter = Faults()
    root = fresh_copy("count")
    assert _run_op(op, root, seeded, counter) is None, "the operation succeeds without faults"
    _verify(op, root, seeded, None, counter)
    total = len(counter.calls)
    assert total >= 3, counter.calls
    for n in range(1, total + 1):
        for err in ERRNOS:
            for persist in (False, True):
                faults = Faults(fail_at=n, err=err, persist=persist)
                root = fresh_copy(f"n{n}-{err}-{int(persist)}")
                outcome = _run_op(op, root, seeded, faults)
                assert faults.fired, "the injected call was reached"
                _verify(op, root, seeded, outcome, faults)
                shutil.rmtree(root)
                runs += 1
    assert runs == total * len(ERRNOS) * 2
