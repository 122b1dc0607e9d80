"""``sessions doctor``: every kind of damage is found, repaired without losing data, and only once.

Each damage is built on disk by hand (through FileRepository, then bytes written directly) next to
a healthy session. The doctor must report it (and nothing about the healthy one), change nothing
while only looking, repair what can be repaired (keeping every broken byte in ``.quarantine/``),
leave alone what cannot, never write outside the sessions folder, and be idempotent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from chatcli.session.health import DoctorReport, Finding
from chatcli.session.models import Message, SessionMetadata, SessionStatus, is_session_id, new_session_id
from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from chatcli.session.store.layout import CONVERSATION_FILE, INDEX_DIR, METADATA_FILE
from tests.helpers import BASE, confined_writes, numbered, seed, tree

QUARANTINE = ".quarantine"
FIFTY_MB = 50 * 1024 * 1024


# --------------------------------------------------------------------------- helpers


def quarantined_blobs(repo: FileRepository) -> list[bytes]:
    """The content of every file under ``.quarantine/`` (folders moved there included)."""
    folder = repo.root / QUARANTINE
    if not folder.is_dir():
        return []
    return [p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the whole run) if the block takes longer than ``seconds``."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"blocked for more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def by_target(report: DoctorReport) -> dict[str, Finding]:
    """Findings keyed by target (each target must appear once)."""
    targets = [f.target for f in report.findings]
    assert len(targets) == len(set(targets)), targets
    return {f.target: f for f in report.findings}


def write_metadata_json(repo: FileRepository, sid: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit the session's metadata.json as plain JSON (bypassing validation)."""
    path = repo.root / sid / METADATA_FILE
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def conv_path(repo: FileRepository, sid: str) -> Path:
    return repo.root / sid / CONVERSATION_FILE


# --------------------------------------------------------------------------- the damages


@dataclass
class Case:
    """One damaged thing and what the doctor must do about it."""

    target: str
    problem: str
    repairable: bool = True
    #: Informational only (a folder chatcli does not own): never makes the report unhealthy.
    note: bool = False
    #: Exact file contents that must be found in ``.quarantine/`` after the repair.
    quarantined: list[bytes] = field(default_factory=list)
    #: Complete messages that must still load, in order, after the repair.
    messages: dict[str, list[Message]] = field(default_factory=dict)
    #: Paths whose whole tree must be unchanged by the repair.
    untouched: list[Path] = field(default_factory=list)
    #: Further checks after the repair.
    check: Callable[[FileRepository], None] | None = None
    #: Other targets the same damage is reported under (e.g. the lock file an interrupted write left).
    also: list[str] = field(default_factory=list)


Build = Callable[[FileRepository, Path], Case]


def torn_tail(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    torn = b'{"role": "user", "content": "half a mess'
    with conv_path(repo, sid).open("ab") as fh:
        fh.write(torn)
    return Case(sid, "last line of the transcript is incomplete", quarantined=[torn], messages={sid: msgs})


def missing_final_newline(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    path = conv_path(repo, sid)
    path.write_bytes(path.read_bytes()[:-1])

    def check(repo: FileRepository) -> None:
        assert conv_path(repo, sid).read_bytes().count(b"\n") == 3

    # A complete message: reported as such (never as an interrupted write), mended, never set aside.
    return Case(sid, "last message of the transcript has no line end", messages={sid: msgs}, check=check)


def bad_lines_in_the_middle(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(4)
    sid = seed(repo, messages=msgs).id
    path = conv_path(repo, sid)
    lines = path.read_bytes().split(b"\n")[:-1]
    bad = [b"this is not json at all", b'{"role": "robot", "content": 1}']
    path.write_bytes(b"\n".join([lines[0], bad[0], lines[1], lines[2], bad[1], lines[3]]) + b"\n")
    return Case(
        sid,
        "2 unreadable transcript line(s): 2, 5",
        quarantined=[b"".join(line + b"\n" for line in bad)],
        messages={sid: msgs},
    )


def metadata_damage(kind: str) -> Build:
    def build(repo: FileRepository, outside: Path) -> Case:
        msgs = numbered(3)
        sid = seed(repo, messages=msgs, name="keep-me", archived=True).id
        path = repo.root / sid / METADATA_FILE
        good = json.loads(path.read_bytes())
        broken = {
            "truncated": path.read_bytes()[:57],
            "empty": b"",
            "json-array": json.dumps([good]).encode(),
            "wrong-types": json.dumps({**good, "message_count": "many", "created": [1]}).encode(),
            "garbage-50mb": bytes(range(256)) * (FIFTY_MB // 256),
        }[kind]
        path.write_bytes(broken)
        salvaged = kind == "wrong-types"

        def check(repo: FileRepository) -> None:
            meta = repo.get(sid)
            assert meta.message_count == 3 and meta.first_message == "message 0"
            assert meta.last_active == msgs[-1].timestamp
            expected = ("keep-me", SessionStatus.ARCHIVED) if salvaged else (None, SessionStatus.ACTIVE)
            assert (meta.name, meta.status) == expected

        return Case(sid, "metadata: ", quarantined=[broken], messages={sid: msgs}, check=check)

    build.__name__ = f"metadata_{kind}"
    return build


def future_version(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(3)).id
    write_metadata_json(repo, sid, lambda doc: doc.update(version=999, shiny_new_field=[1, 2]))
    with conv_path(repo, sid).open("ab") as fh:
        fh.write(b'{"torn": ')  # even a repairable problem is left alone in a newer session
    return Case(sid, "newer chatcli", repairable=False, untouched=[repo.root / sid])


def count_disagrees(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    write_metadata_json(repo, sid, lambda doc: doc.update(message_count=99))

    def check(repo: FileRepository) -> None:
        assert repo.get(sid).message_count == 3

    return Case(sid, "metadata counts 99 messages, the transcript holds 3", messages={sid: msgs}, check=check)


def last_active_behind(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    write_metadata_json(repo, sid, lambda doc: doc.update(last_active=(BASE - timedelta(days=1)).isoformat()))

    def check(repo: FileRepository) -> None:
        assert repo.get(sid).last_active == msgs[-1].timestamp

    return Case(sid, "last_active is older than the last message", messages={sid: msgs}, check=check)


def stray_temp_file(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(2)
    sid = seed(repo, messages=msgs).id
    leftover = (repo.root / sid / METADATA_FILE).read_bytes()[:30]
    (repo.root / sid / f".{METADATA_FILE}.4242.deadbeef.tmp").write_bytes(leftover)

    def check(repo: FileRepository) -> None:
        assert [p for p in (repo.root / sid).iterdir() if p.name.endswith(".tmp")] == []

    return Case(sid, "stray temporary file", quarantined=[leftover], messages={sid: msgs}, check=check)


def stale_lock(repo: FileRepository, outside: Path) -> Case:
    gone = new_session_id()
    lock = repo.root / ".locks" / f"{gone}.lock"
    lock.write_bytes(b"")

    def check(repo: FileRepository) -> None:
        assert not lock.exists()

    return Case(lock.name, "a lock file of a session that no longer exists", check=check)


def staging_leftover(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(2)).id
    staging = repo.root / f".staging-{sid}-abcd1234"
    os.rename(repo.root / sid, staging)  # a fork killed before its final rename (it takes no lock)
    blobs = [(staging / CONVERSATION_FILE).read_bytes(), (staging / METADATA_FILE).read_bytes()]

    def check(repo: FileRepository) -> None:
        assert not staging.exists()
        assert not (repo.root / ".locks" / f"{sid}.lock").exists()

    return Case(staging.name, "interrupted before it finished", quarantined=blobs, check=check)


def deleted_leftover(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(2)).id
    doomed = repo.root / f".deleted-{sid}-abcd1234"
    with repo.session_lock(sid):  # a delete holds the session's lock: its lock file stays
        pass
    os.rename(repo.root / sid, doomed)  # a delete killed right after its rename

    def check(repo: FileRepository) -> None:
        assert not doomed.exists()
        assert not (repo.root / ".locks" / f"{sid}.lock").exists()

    return Case(doomed.name, "a deletion that was interrupted", check=check, also=[f"{sid}.lock"])


def wrong_permissions(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(2)
    sid = seed(repo, messages=msgs).id
    folder = repo.root / sid
    for name in (METADATA_FILE, CONVERSATION_FILE):
        (folder / name).chmod(0o644)
    folder.chmod(0o755)

    def check(repo: FileRepository) -> None:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in (METADATA_FILE, CONVERSATION_FILE):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600

    return Case(sid, "has permissions 644 instead of 600", messages={sid: msgs}, check=check)


def symlinked_session_folder(repo: FileRepository, outside: Path) -> Case:
    elsewhere = FileRepository(outside / "other-sessions")
    sid = seed(elsewhere, messages=numbered(2)).id
    with conv_path(elsewhere, sid).open("ab") as fh:
        fh.write(b'{"torn')  # bait: a repair through the link would write outside
    elsewhere.close()  # its own index connection must not change the snapshot later
    os.symlink(elsewhere.root / sid, repo.root / sid)
    return Case(sid, "symbolic link", repairable=False, untouched=[outside, repo.root / sid])


def symlinked_metadata_file(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(2)).id
    target = outside / "planted.json"
    target.write_bytes(b"[not metadata")
    (repo.root / sid / METADATA_FILE).unlink()
    os.symlink(target, repo.root / sid / METADATA_FILE)
    return Case(sid, "symbolic link", repairable=False, untouched=[outside])


def fifo_transcript(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(2)).id
    conv_path(repo, sid).unlink()
    os.mkfifo(conv_path(repo, sid), 0o600)
    return Case(sid, "not a regular file", repairable=False)


def empty_session_folder(repo: FileRepository, outside: Path) -> Case:
    sid = new_session_id()
    (repo.root / sid).mkdir(mode=0o700)
    leftover = b'{"id": "half-written metadata'
    (repo.root / sid / f".{METADATA_FILE}.77.cafebabe.tmp").write_bytes(leftover)

    def check(repo: FileRepository) -> None:
        assert not (repo.root / sid).exists()
        assert sid not in {m.id for m in repo.list()}

    return Case(sid, "holds no session files", quarantined=[leftover], check=check)


def non_session_folder(repo: FileRepository, outside: Path) -> Case:
    notes = repo.root / "my-notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    return Case("my-notes", "not a session folder", repairable=False, note=True, untouched=[notes])


DAMAGES: list[Build] = [
    torn_tail,
    missing_final_newline,
    bad_lines_in_the_middle,
    *(metadata_damage(k) for k in ("truncated", "empty", "json-array", "wrong-types", "garbage-50mb")),
    future_version,
    count_disagrees,
    last_active_behind,
    stray_temp_file,
    stale_lock,
    staging_leftover,
    deleted_leftover,
    wrong_permissions,
    symlinked_session_folder,
    symlinked_metadata_file,
    fifo_transcript,
    empty_session_folder,
    non_session_folder,
]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the sessions folder that nothing may write into."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def _check_after_repair(repo: FileRepository, cases: list[Case], good: Mapping[str, list[Message]]) -> None:
    """Nothing lost: every complete message loads, every broken byte is in quarantine."""
    for sid, msgs in {**good, **{k: v for c in cases for k, v in c.messages.items()}}.items():
        transcript = repo.load_messages(sid)
        assert transcript.messages == msgs, sid
        assert transcript.skipped_lines == [] and not transcript.torn_tail
        assert repo.get(sid).message_count == len(msgs)
    blobs = quarantined_blobs(repo)
    for case in cases:
        for blob in case.quarantined:
            assert blob in blobs, f"{case.target}: {len(blob)} bytes missing from quarantine"
        if case.check is not None:
            case.check(repo)


# --------------------------------------------------------------------------- tests


def test_healthy_store_has_no_findings(repo: FileRepository, tmp_path: Path) -> None:
    seed(repo, messages=numbered(3))
    seed(repo, messages=numbered(1), name="named", archived=True)
    metadata_only = SessionMetadata.new(new_session_id(), "")
    repo.save(metadata_only)
    before = tree(tmp_path)

    for repair in (False, True):
        report = run_doctor(repo, repair=repair)
        assert report.findings == []
        assert report.healthy and report.problems == 0
        assert report.sessions_checked == 3
    assert tree(tmp_path) == before, "a healthy store is not touched, even by --repair"


def test_missing_sessions_folder_is_healthy_and_stays_missing(repo: FileRepository) -> None:
    report = run_doctor(repo, repair=True)
    assert report.healthy and report.findings == [] and report.sessions_checked == 0
    assert not repo.root.exists()


@pytest.mark.parametrize("build", DAMAGES, ids=lambda b: b.__name__)
def test_each_damage_is_found_and_repaired(
    repo: FileRepository, tmp_path: Path, outside: Path, build: Build
) -> None:
    good_msgs = numbered(2)
    good_id = seed(repo, messages=good_msgs, name="healthy").id
    case = build(repo, outside)
    before = tree(tmp_path)

    with deadline(20):
        report = run_doctor(repo)

    assert tree(tmp_path) == before, "looking changes nothing"
    findings = by_target(report)
    # Damage made by hand inside the folder may also leave the metadata index stale (a warning).
    assert set(findings) - {INDEX_DIR} == {case.target, *case.also}, "findings about the damaged target only"
    assert INDEX_DIR not in findings or findings[INDEX_DIR].severity == "warning"
    finding = findings[case.target]
    assert any(case.problem in p for p in finding.problems), finding.problems
    assert finding.actions == []
    assert bool(finding.unrepairable) == (not case.repairable)
    assert finding.severity == ("ok" if case.note else "error" if not case.repairable else "warning")
    assert report.healthy == case.note
    untouched = {str(p): tree(p) for p in case.untouched}

    with deadline(20), confined_writes(repo.root) as refused:
        repaired = run_doctor(repo, repair=True)

    assert refused == []
    assert {str(p): tree(p) for p in case.untouched} == untouched
    finding = by_target(repaired)[case.target]
    assert repaired.healthy == (case.repairable or case.note)
    if case.repairable:
        assert finding.actions and finding.unrepairable == []
    else:
        assert finding.unrepairable
    _check_after_repair(repo, [case], {good_id: good_msgs})

    settled = tree(tmp_path)
    with deadline(20):
        again = run_doctor(repo, repair=True)
        after = run_doctor(repo)
    assert tree(tmp_path) == settled, "a second repair changes nothing"
    assert all(f.actions == [] for f in again.findings)
    assert {f.target for f in after.findings} == ({case.target} if not case.repairable else set())
    assert after.healthy == (case.repairable or case.note)


def test_every_damage_at_once(repo: FileRepository, tmp_path: Path, outside: Path) -> None:
    good_msgs = numbered(2)
    good_id = seed(repo, messages=good_msgs, name="healthy").id
    cases = [build(repo, outside) for build in DAMAGES]
    before = tree(tmp_path)

    with deadline(30):
        report = run_doctor(repo)

    assert tree(tmp_path) == before
    findings = by_target(report)
    # Damage made by hand inside session folders also leaves the metadata index stale.
    assert set(findings) == {t for c in cases for t in (c.target, *c.also)} | {".index"}
    assert findings[".index"].severity == "warning"
    for case in cases:
        assert any(case.problem in p for p in findings[case.target].problems), case.target
    assert not report.healthy
    real_folders = [p for p in repo.root.iterdir() if is_session_id(p.name) and not p.is_symlink()]
    assert report.sessions_checked == len(real_folders) == 17
    outside_before = tree(outside)

    with deadline(30), confined_writes(repo.root) as refused:
        repaired = run_doctor(repo, repair=True)

    assert refused == []
    assert tree(outside) == outside_before
    _check_after_repair(repo, cases, {good_id: good_msgs})
    leftover = {c.target for c in cases if not c.repairable}
    assert {f.target for f in repaired.findings if f.unrepairable} == leftover
    settled = tree(tmp_path)
    with deadline(30):
        assert all(f.actions == [] for f in run_doctor(repo, repair=True).findings)
        after = run_doctor(repo)
    assert tree(tmp_path) == settled
    assert {f.target for f in after.findings} == leftover
    listed = repo.list()
    assert good_id in {m.id for m in listed}


# --------------------------------------------------------------------------- through the command line


def run_cli(sessions_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``chatcli sessions --sessions-dir DIR ARGS…`` with no terminal; no traceback allowed."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    env.update(NO_COLOR="1", COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", "sessions", "--sessions-dir", str(sessions_dir), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc
    return proc


FINDING_KEYS = {"target", "severity", "problems", "actions", "unrepairable"}


def _check_json_shape(doc: dict[str, Any], root: Path, repaired: bool) -> list[dict[str, Any]]:
    assert set(doc) == {"root", "repaired", "healthy", "sessions_checked", "findings"}
    assert doc["root"] == str(root) and doc["repaired"] is repaired
    assert isinstance(doc["healthy"], bool) and isinstance(doc["sessions_checked"], int)
    for finding in doc["findings"]:
        assert set(finding) == FINDING_KEYS
        assert finding["severity"] in ("ok", "warning", "error")
        assert all(isinstance(x, str) for k in FINDING_KEYS - {"target", "severity"} for x in finding[k])
    return list(doc["findings"])


def test_doctor_through_the_cli(repo: FileRepository, outside: Path) -> None:
    good_msgs = numbered(2)
    good_id = seed(repo, messages=good_msgs, name="healthy").id
    builds = [torn_tail, bad_lines_in_the_middle, metadata_damage("json-array"), future_version]
    builds += [stale_lock, wrong_permissions, symlinked_session_folder, non_session_folder]
    cases = [build(repo, outside) for build in builds]
    outside_before = tree(outside)
    newer = next(c for c in cases if c.problem == "newer chatcli")
    newer_before = tree(repo.root / newer.target)

    plain = run_cli(repo.root, "doctor")
    assert plain.returncode == 1, plain.stderr  # problems found: scripts can tell
    assert "Doctor:" in plain.stdout and "doctor --repair" in plain.stdout
    assert "\x1b" not in plain.stdout

    looked = run_cli(repo.root, "doctor", "--json")
    assert looked.returncode == 1, looked.stderr
    doc = json.loads(looked.stdout)
    findings = {f["target"]: f for f in _check_json_shape(doc, repo.root, repaired=False)}
    # Damage made by hand inside session folders may also leave the metadata index stale.
    assert set(findings) - {INDEX_DIR} == {t for c in cases for t in (c.target, *c.also)}
    assert INDEX_DIR not in findings or findings[INDEX_DIR]["severity"] == "warning"
    assert doc["healthy"] is False and doc["sessions_checked"] == 6
    assert findings["my-notes"]["severity"] == "ok"

    fixed = run_cli(repo.root, "doctor", "--repair", "--json")
    assert fixed.returncode == 1, fixed.stderr  # some damage (a newer chatcli's session) stays
    doc = json.loads(fixed.stdout)
    findings = {f["target"]: f for f in _check_json_shape(doc, repo.root, repaired=True)}
    for case in cases:
        assert bool(findings[case.target]["actions"]) == case.repairable, case.target
        assert bool(findings[case.target]["unrepairable"]) == (not case.repairable), case.target

    plain_repair = run_cli(repo.root, "doctor", "--repair")
    assert plain_repair.returncode == 1 and "Traceback" not in plain_repair.stderr
    after = json.loads(run_cli(repo.root, "doctor", "--json").stdout)
    assert {f["target"] for f in after["findings"]} == {c.target for c in cases if not c.repairable}, [
        f for f in after["findings"] if f["target"] == ".index"
    ]
    assert tree(outside) == outside_before
    assert tree(repo.root / newer.target) == newer_before
    _check_after_repair(repo, cases, {good_id: good_msgs})


def test_doctor_exit_code_says_whether_problems_remain(repo: FileRepository, outside: Path) -> None:
    """0 when healthy (or everything was repaired), 1 while problems remain: scripts can rely on it."""
    seed(repo, messages=numbered(2), name="fine")
    assert run_cli(repo.root, "doctor").returncode == 0
    torn_tail(repo, outside)
    found = run_cli(repo.root, "doctor")
    assert found.returncode == 1 and "doctor --repair" in found.stdout, found
    repaired = run_cli(repo.root, "doctor", "--repair")
    assert repaired.returncode == 0, repaired
    assert run_cli(repo.root, "doctor", "--json").returncode == 0


@pytest.mark.parametrize(
    "salvaged",
    [
        {"status": []},  # TypeError: unhashable type: 'list' (found by the metadata fuzzer)
        {"status": {"a": 1}},
        {"version": 2, "tags": [7, None, ["x"], "ok"]},
        {"version": 2, "pinned": "yes", "name": 5},
    ],
    ids=["status-list", "status-object", "tags-not-text", "pinned-and-name-not-flags"],
)
def test_a_broken_file_of_any_shape_is_rebuilt_and_never_left_missing(
    repo: FileRepository, salvaged: dict[str, Any]
) -> None:
    """Loading a session whose metadata holds odd values repairs it; the repair once crashed on
    an unhashable status after moving the broken file aside, leaving no metadata at all."""
    from chatcli.session.service import SessionService

    meta = seed(repo, messages=numbered(2))
    path = repo.root / meta.id / METADATA_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.update(salvaged)
    path.write_text(json.dumps(doc), encoding="utf-8")
    exported = json.loads(SessionService(repo).export(meta.id))
    assert [m["content"] for m in exported["messages"]] == [m.content for m in numbered(2)]
    rebuilt = repo.get(meta.id)
    assert rebuilt.status is SessionStatus.ACTIVE and rebuilt.message_count == 2
    assert rebuilt.tags == (["ok"] if "tags" in salvaged else [])
    assert list((repo.root / ".quarantine").iterdir()), "the broken file is kept"
