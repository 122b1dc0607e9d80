"""``sessions doctor`` in-process: every kind of damage is found, repaired without losing data, and only once.

Each damage is built on disk by hand (through FileRepository, then bytes written directly) next to
a healthy session. The doctor must report it (and nothing about the healthy one), change nothing
while only looking, repair what can be repaired (keeping every broken byte in ``.quarantine/``),
leave alone what cannot, never write outside the sessions folder, and be idempotent."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from chatcli.session.health import DoctorReport, Finding
from chatcli.session.models import SessionMetadata, is_session_id, new_session_id
from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from chatcli.session.store.layout import INDEX_DIR
from tests.helpers import confined_writes, numbered, seed, tree
from tests.helpers.store_damages import DAMAGES, Build, check_after_repair


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
    check_after_repair(repo, [case], {good_id: good_msgs})

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
    check_after_repair(repo, cases, {good_id: good_msgs})
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
