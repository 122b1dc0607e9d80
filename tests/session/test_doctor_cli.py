"""``sessions doctor`` through the command line: its report and JSON, its exit code, and metadata of
any shape rebuilt.

The damages are built on disk by hand (:mod:`tests.helpers.store_damages`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatcli.session.models import SessionStatus
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import INDEX_DIR, METADATA_FILE
from tests.helpers import numbered, seed, tree
from tests.helpers.store_damages import (
    bad_lines_in_the_middle,
    check_after_repair,
    future_version,
    metadata_damage,
    non_session_folder,
    stale_lock,
    symlinked_session_folder,
    torn_tail,
    wrong_permissions,
)

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
    check_after_repair(repo, cases, {good_id: good_msgs})


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
