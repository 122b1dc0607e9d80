"""Fault injection, in the style of SQLite's I/O-error and crash tests.

* Every write-side system call an operation makes (``os.write``/``pwrite``/``fsync``/``replace``/
  ``rename``/``mkdir`` and ``os.open`` with write flags) is counted; then, for every N, the operation
  is re-run on a fresh copy of a seeded store with the N-th call failing with ENOSPC, EIO or EACCES
  (once, and from N on). Each run must end in success or a :class:`StorageError`, and the store
  must still load with everything acknowledged before, nothing half-written, and only damage the
  doctor can repair.
* Crash storms: writer processes doing a random mix of operations are SIGKILLed at random moments,
  round after round; every acknowledged message survives exactly once.
* Read-only, foreign-owned, full and missing sessions folders give a clear storage error (or, for a
  missing folder, an empty result) and leave everything as it was.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chatcli.session.errors import PermissionDenied, SessionError, SessionNotFound, StorageError
from chatcli.session.models import Message, SessionMetadata, new_session_id
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from chatcli.session.transfer import export_json
from tests.helpers import REPO_ROOT, locked_out, numbered, run_unprivileged, seed, tree, unprivileged_ids

# --------------------------------------------------------------------------- the injector

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
FAULT_CALLS = ("write", "pwrite", "fsync", "replace", "rename", "mkdir")
ERRNOS = (errno.ENOSPC, errno.EIO, errno.EACCES)


@dataclass
class Faults:
    """Counts write-side calls; the ``fail_at``-th (and, with ``persist``, every later one) fails."""

    fail_at: int | None = None
    err: int = errno.EIO
    persist: bool = False
    calls: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    def hit(self, what: str, target: Any) -> None:
        self.calls.append(what)
        n = len(self.calls)
        if self.fail_at is not None and (n == self.fail_at or (self.persist and n > self.fail_at)):
            self.fired.append(what)
            name = os.fsdecode(target) if isinstance(target, (str, bytes, os.PathLike)) else None
            raise OSError(self.err, os.strerror(self.err), name)


@contextmanager
def injected(faults: Faults) -> Iterator[Faults]:
    """Route the write-side ``os`` calls through ``faults`` while the block runs."""
    saved: dict[str, Callable[..., Any]] = {name: getattr(os, name) for name in (*FAULT_CALLS, "open")}

    def wrap(name: str) -> Callable[..., Any]:
        real = saved[name]

        def call(*args: Any, **kwargs: Any) -> Any:
            faults.hit(name, args[0] if args else None)
            return real(*args, **kwargs)

        return call

    real_open = saved["open"]

    def open_(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if flags & WRITE_FLAGS:
            faults.hit("open", path)
        return int(real_open(path, flags, mode, dir_fd=dir_fd))

    try:
        for name in FAULT_CALLS:
            setattr(os, name, wrap(name))
        os.open = open_
        yield faults
    finally:
        for name, fn in saved.items():
            setattr(os, name, fn)


# --------------------------------------------------------------------------- the seeded store


@dataclass
class Seeded:
    """What the template store holds: every message in it is acknowledged."""

    alpha: str
    beta: str
    torn: str
    torn_bytes: bytes
    acked: dict[str, list[str]]
    import_file: Path
    import_id: str


def make_template(root: Path, work: Path) -> Seeded:
    repo = FileRepository(root)
    alpha_msgs = numbered(3)
    alpha = seed(repo, messages=alpha_msgs, name="alpha").id
    beta_msgs = numbered(2)
    beta = seed(repo, messages=beta_msgs, archived=True).id
    torn_msgs = numbered(2)
    torn = seed(repo, messages=torn_msgs).id
    torn_bytes = b'{"role": "assistant", "content": "cut sh'
    with (root / torn / CONVERSATION_FILE).open("ab") as fh:
        fh.write(torn_bytes)
    incoming = SessionMetadata.new(new_session_id(), "imported")
    incoming_msgs = [Message(role="user", content="imported"), Message(role="assistant", content="ok")]
    incoming.message_count = 2
    import_file = work / "import.json"
    import_file.write_text(export_json(incoming, incoming_msgs))
    acked = {
        sid: [m.id for m in msgs] for sid, msgs in ((alpha, alpha_msgs), (beta, beta_msgs), (torn, torn_msgs))
    }
    return Seeded(alpha, beta, torn, torn_bytes, acked, import_file, incoming.id)


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
    # The doctor can repair whatever is left, and then everything is healthy.
    looked = run_doctor(fresh)
    assert all(f.unrepairable == [] for f in looked.findings), f"{where}: {looked.findings}"
    run_doctor(fresh, repair=True)
    after = run_doctor(fresh)
    assert after.findings == [] and after.healthy, f"{where}: {after.findings}"
    # Every acknowledged message is there exactly once (a deleted session may be gone).
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


# --------------------------------------------------------------------------- crash storms

WRITER = r"""
import random, sys
from chatcli.session.errors import SessionError
from chatcli.session.models import Message
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository

root, seed, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(seed)
repo = FileRepository(root, lock_timeout=5)
svc = SessionService(repo)
print("ready", flush=True)
ops = ["append", "rename", "archive", "unarchive", "fork", "delete", "new"]
weights = [60, 8, 5, 5, 6, 6, 10]
i = 0
while True:
    i += 1
    mid = f"{tag}-{i}"
    op = rng.choices(ops, weights)[0]
    ids = sorted(m.id for m in repo.list())
    try:
        if op == "new" or not ids:
            meta = svc.start_session([Message(role="user", content=f"first {mid}", id=mid)])
            print(f"A {meta.id} {mid}", flush=True)
            continue
        sid = rng.choice(ids)
        if op == "append":
            text = f"{mid} " + "x" * rng.randrange(0, 3000)
            svc.append(sid, Message(role=rng.choice(["user", "assistant"]), content=text, id=mid))
            print(f"A {sid} {mid}", flush=True)
        elif op == "rename":
            svc.rename(sid, f"n-{tag}-{i}")
        elif op in ("archive", "unarchive"):
            getattr(svc, op)(sid)
        elif op == "fork":
            new = svc.fork(sid)
            print(f"F {new.id} {sid}", flush=True)
        elif op == "delete":
            print(f"S {sid}", flush=True)
            svc.delete(sid)
            print(f"D {sid}", flush=True)
    except SessionError:
        pass
"""


@dataclass
class Ledger:
    """What the writers acknowledged, over every round."""

    acked: dict[str, list[str]] = field(default_factory=dict)
    delete_started: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    forks: set[str] = field(default_factory=set)

    def record(self, line: str) -> None:
        kind, *rest = line.split()
        if kind == "A":
            self.acked.setdefault(rest[0], []).append(rest[1])
        elif kind == "S":
            self.delete_started.add(rest[0])
        elif kind == "D":
            self.deleted.add(rest[0])
        elif kind == "F":
            self.forks.add(rest[0])


class Writer:
    """One writer process and a thread collecting its complete stdout lines."""

    def __init__(self, root: Path, seed_value: int, tag: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(seed_value), tag],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.endswith(b"\n"):  # a line cut by the kill was never acknowledged
                self.lines.append(raw.decode().rstrip("\n"))

    def kill(self) -> tuple[list[str], str]:
        self.proc.kill()
        self.proc.wait(10)
        self.thread.join(10)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read().decode()
        self.proc.stdout.close()  # type: ignore[union-attr]
        self.proc.stderr.close()
        assert self.proc.returncode == -signal.SIGKILL, err
        assert "Traceback" not in err, err
        return self.lines, err


def _check_ledger(repo: FileRepository, ledger: Ledger, where: str) -> None:
    present = {m.id for m in repo.list()}
    for sid, acked in ledger.acked.items():
        if sid in ledger.deleted:
            assert sid not in present, f"{where}: deleted session {sid} is back"
            continue
        if sid in ledger.delete_started and sid not in present:
            continue  # killed mid-delete: the user asked for it
        assert sid in present, f"{where}: session {sid} with acknowledged messages is gone"
        ids = [m.id for m in repo.load_messages(sid).messages]
        assert len(ids) == len(set(ids)), f"{where}: a message was stored twice in {sid}"
        missing = [a for a in acked if a not in ids]
        assert not missing, f"{where}: acknowledged messages lost in {sid}: {missing[:5]}"
    for sid in ledger.forks - ledger.delete_started:
        assert sid in present, f"{where}: acknowledged fork {sid} is gone"


@pytest.mark.slow
def test_crash_storm(repo: FileRepository) -> None:
    """6 rounds of 3 writers, each SIGKILLed at a random moment; nothing acknowledged is lost."""
    rng = random.Random(6_2025)
    started = time.monotonic()
    for _ in range(3):
        seed(repo, messages=numbered(2))
    ledger = Ledger()
    for sid in [m.id for m in repo.list()]:
        ledger.acked[sid] = [m.id for m in repo.load_messages(sid).messages]
    total_acks = 0

    for round_no in range(6):
        writers = [Writer(repo.root, rng.randrange(1 << 30), f"r{round_no}p{p}") for p in range(3)]
        deadline_at = time.monotonic() + 30
        while any(not w.lines for w in writers):
            assert time.monotonic() < deadline_at, "writers did not start"
            time.sleep(0.01)
        kill_at = sorted((rng.uniform(0.05, 0.7), k) for k in range(3))
        t0 = time.monotonic()
        for when, k in kill_at:
            time.sleep(max(0.0, t0 + when - time.monotonic()))
            lines, _ = writers[k].kill()
            for line in lines[1:]:
                ledger.record(line)
                total_acks += 1

        fresh = FileRepository(repo.root, lock_timeout=5)
        listing = fresh.list()
        assert listing.problems == [], f"round {round_no}: unreadable metadata {listing.problems}"
        _check_ledger(fresh, ledger, f"round {round_no}")
        report = run_doctor(fresh)
        assert all(f.unrepairable == [] for f in report.findings), report.findings

    fresh = FileRepository(repo.root, lock_timeout=5)
    run_doctor(fresh, repair=True)
    after = run_doctor(fresh)
    assert after.healthy and after.findings == [], after.findings
    _check_ledger(fresh, ledger, "after repair")
    for meta in fresh.list():
        assert meta.message_count == len(fresh.load_messages(meta.id).messages)
    assert total_acks >= 30, "the writers got work done between kills"
    assert time.monotonic() - started < 40


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


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, Seeded]:
    root = tmp_path / "sessions"
    return root, make_template(root, tmp_path)


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
