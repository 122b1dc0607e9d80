"""``chatcli sessions …`` when the storage fails: read-only or full disk, someone else's folder, a
folder made read-only for its owner, a missing folder.

Each command runs as a real subprocess (``python -m chatcli``, stdin at /dev/null, output piped).
Storage failures must exit 3 with a clear one-paragraph message and no traceback, and must leave
the sessions folder exactly as it was; reads of a missing folder return nothing and create nothing.
Disk faults are injected into the child through a ``sitecustomize`` module that makes every
write-side ``os`` call under the sessions folder fail with the chosen errno.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatcli.session.models import Message, SessionMetadata, new_session_id
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE
from chatcli.session.transfer import export_json
from tests.helpers import AS_ROOT, Run, locked_out, numbered, seed, tree, unprivileged_ids

#: Makes every write-side ``os`` call on a path under $CHATCLI_TEST_FAULT_ROOT fail with
#: $CHATCLI_TEST_FAULT (an errno name); loaded by the child interpreter at start-up.
SITECUSTOMIZE = """
import errno
import os

_ERR = getattr(errno, os.environ.get("CHATCLI_TEST_FAULT", ""), None)
_ROOT = os.environ.get("CHATCLI_TEST_FAULT_ROOT", "")
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _hit(path):
    if isinstance(path, int):
        return False
    where = os.path.abspath(os.fsdecode(path))
    return where == _ROOT or where.startswith(_ROOT + os.sep)


def _guard(real, check_all=True):
    def call(*args, **kwargs):
        if any(_hit(a) for a in args[: 2 if check_all else 1] if not isinstance(a, int)):
            raise OSError(_ERR, os.strerror(_ERR), os.fsdecode(args[0]))
        return real(*args, **kwargs)

    return call


if _ERR is not None and _ROOT:
    _real_open = os.open

    def _open(path, flags, mode=0o777, *, dir_fd=None):
        if flags & _WRITING and _hit(path):
            raise OSError(_ERR, os.strerror(_ERR), os.fsdecode(path))
        return _real_open(path, flags, mode, dir_fd=dir_fd)

    os.open = _open
    for _name in ("mkdir", "rename", "replace", "unlink", "rmdir", "chmod", "truncate"):
        setattr(os, _name, _guard(getattr(os, _name)))
"""


#: Starts ``python -m chatcli ARGS…`` as root without the capabilities that let root ignore file
#: permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER are dropped from the bounding set
#: before exec), so folders owned by someone else, or read-only for their owner, are refused as for
#: any user. (Becoming "nobody" is not an option here: the interpreter lives under /root.)
WITHOUT_ROOT_POWERS = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2, 3):
    if libc.prctl(24, cap, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_CAPBSET_DROP, {cap}) failed: errno {ctypes.get_errno()}")
os.execv(sys.executable, [sys.executable, "-m", "chatcli", *sys.argv[1:]])
"""


def chatcli(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    powerless: bool = False,
) -> Run:
    """``python -m chatcli ARGS…`` without a terminal; ``powerless``: without root's file powers
    (any other user has none to drop)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    full_env.update(NO_COLOR="1", COLUMNS="200")
    full_env.update(env or {})
    launch = ["-c", WITHOUT_ROOT_POWERS] if powerless and AS_ROOT else ["-m", "chatcli"]
    proc = subprocess.run(
        [sys.executable, *launch, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    run = Run(tuple(args), proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    assert "Traceback" not in run.out + run.err, run
    assert "\x1b" not in run.out + run.err, run
    return run


def chatcli_many(calls: Sequence[Sequence[str]], **kwargs: Any) -> list[Run]:
    """Several independent runs in parallel (same options)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: chatcli(args, **kwargs), calls))


@dataclass
class Store:
    """A seeded sessions folder and what the commands are pointed at."""

    root: Path
    alpha: str
    beta: str
    #: An archived session (so that unarchiving it has to write).
    gamma: str
    import_file: Path
    work: Path

    def args(self, *rest: str) -> list[str]:
        return ["sessions", "--sessions-dir", str(self.root), *rest]


def make_store(base: Path) -> Store:
    root = base / "sessions"
    repo = FileRepository(root)
    alpha = seed(repo, messages=numbered(3), name="alpha").id
    beta = seed(repo, messages=numbered(2)).id
    gamma = seed(repo, messages=numbered(1), archived=True).id
    with (root / beta / CONVERSATION_FILE).open("ab") as fh:
        fh.write(b'{"role": "user", "con')  # damage for doctor --repair to try
    incoming = SessionMetadata.new(new_session_id(), "imported")
    import_file = base / "import.json"
    import_file.write_text(export_json(incoming, [Message(role="user", content="imported")]))
    work = base / "work"
    work.mkdir()
    return Store(root, alpha, beta, gamma, import_file, work)


def writes(s: Store) -> list[list[str]]:
    """Every command that has to write to the sessions folder."""
    return [
        s.args("name", s.alpha, "renamed"),
        s.args("name", s.alpha, "--clear"),
        s.args("archive", s.alpha),
        s.args("unarchive", s.gamma),
        s.args("delete", "--yes", s.beta),
        s.args("fork", s.alpha),
        s.args("import", str(s.import_file)),
        s.args("name", s.alpha, "renamed", "--json"),
    ]


def reads(s: Store) -> list[list[str]]:
    """Commands that only read."""
    return [
        s.args("list", "--all"),
        s.args("show", s.alpha),
        s.args("search", "message"),
        s.args("export", s.alpha, "--format", "json"),
        s.args("doctor"),
    ]


def _storage_failure(run: Run, text: str) -> None:
    assert run.code == 3, run
    assert run.out == "", run
    if "--json" in run.args:
        error = json.loads(run.err)["error"]
        assert error["kind"] in ("storage", "permission_denied"), run
        assert text in error["message"], run
    else:
        assert text in run.err, run
        assert len(run.err.splitlines()) <= 12, run


# --------------------------------------------------------------------------- read-only and full disks


@pytest.mark.parametrize(
    ("fault", "text"),
    [("EROFS", "the file system is read-only"), ("ENOSPC", "no space left on the device")],
)
def test_read_only_or_full_disk(tmp_path: Path, fault: str, text: str) -> None:
    s = make_store(tmp_path)
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(inject), os.environ.get("PYTHONPATH", "")])),
        "CHATCLI_TEST_FAULT": fault,
        "CHATCLI_TEST_FAULT_ROOT": str(s.root),
    }
    before = tree(s.root)

    failed = chatcli_many(writes(s), cwd=s.work, env=env)
    fine = chatcli_many(reads(s), cwd=s.work, env=env)
    repair = chatcli(s.args("doctor", "--repair", "--json"), cwd=s.work, env=env)

    for run in failed:
        _storage_failure(run, text)
    for run in fine:
        # doctor reports the damage planted in beta (unrepairable here), so it exits 1.
        assert run.code == (1 if "doctor" in run.args else 0), run
    assert repair.code == 1, repair
    report = json.loads(repair.out)
    assert report["healthy"] is False
    beta = next(f for f in report["findings"] if f["target"] == s.beta)
    assert any(text in u for u in beta["unrepairable"]), beta
    assert tree(s.root) == before, "nothing half-written"
    control = chatcli(s.args("name", s.alpha, "renamed"), cwd=s.work, env={**env, "CHATCLI_TEST_FAULT": ""})
    assert control.code == 0, "without the fault the same command works"


# --------------------------------------------------------------------------- someone else's folder


def test_folder_owned_by_someone_else(tmp_path: Path) -> None:
    """A 0700 sessions folder owned by another user: every command, reads included, exits 3.

    As root the folder is given to nobody; as any other user, the folder is closed to its owner.
    """
    s = make_store(tmp_path)
    if AS_ROOT:
        uid, gid = unprivileged_ids()
        for path in [s.root, *s.root.rglob("*")]:
            os.chown(path, uid, gid, follow_symlinks=False)
    before = tree(s.root)
    logs = tmp_path / "logs"
    env = {"CHATCLI_LOG_DIR": str(logs)}

    with locked_out(s.root):
        runs = chatcli_many([*writes(s), *reads(s)], cwd=s.work, env=env, powerless=True)

    for run in runs:
        _storage_failure(run, "Permission denied")
    assert tree(s.root) == before
    assert not logs.exists(), "no log file: nothing unexpected happened"


def test_folder_read_only_for_its_owner(tmp_path: Path) -> None:
    """Folders chmod 0500 (files 0600) of the user running chatcli: reads work, every write
    exits 3, and nothing changes — not even a transcript line an append got half-way with."""
    s = make_store(tmp_path)
    for path in [s.root, *s.root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o500)
    before = tree(s.root)
    logs = tmp_path / "logs"
    env = {"CHATCLI_LOG_DIR": str(logs)}

    failed = chatcli_many(writes(s), cwd=s.work, env=env, powerless=True)
    fine = chatcli_many(reads(s), cwd=s.work, env=env, powerless=True)

    for run in failed:
        _storage_failure(run, "Permission denied")
    for run in fine:
        # doctor reports the damage planted in beta (unrepairable here), so it exits 1.
        assert run.code == (1 if "doctor" in run.args else 0), run
    assert tree(s.root) == before
    assert not logs.exists(), "no log file: nothing unexpected happened"
    for path in [s.root, *s.root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o700)


# --------------------------------------------------------------------------- a missing folder


def test_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "there"
    work = tmp_path / "work"
    work.mkdir()
    base = ["sessions", "--sessions-dir", str(missing)]
    listed, as_json, doctor, search, show, name, delete = chatcli_many(
        [
            [*base, "list", "--all"],
            [*base, "list", "--json"],
            [*base, "doctor", "--repair"],
            [*base, "search", "anything"],
            [*base, "show", "abcd"],
            [*base, "name", new_session_id(), "x"],
            [*base, "delete", "--yes", "abcd"],
        ],
        cwd=work,
    )

    assert listed.code == 0 and "No sessions yet" in listed.out, listed
    assert as_json.code == 0 and json.loads(as_json.out)["sessions"] == []
    assert doctor.code == 0 and "healthy" in doctor.out, doctor
    assert search.code == 0, search
    for run in (show, name, delete):
        assert run.code == 1 and "not found" in run.err, run
    assert not (tmp_path / "not").exists(), "a read created the folder"
    assert os.listdir(work) == []


def test_prune_that_could_not_delete_everything_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deletions that fail are reported and the exit code says the prune did not finish."""
    from datetime import UTC, datetime

    from chatcli.cli import run_sessions
    from chatcli.session.errors import StorageError
    from chatcli.session.models import Message, SessionMetadata, new_session_id
    from chatcli.session.store import FileRepository

    repo = FileRepository(tmp_path / "s")
    old = datetime(2020, 1, 1, tzinfo=UTC)
    meta = SessionMetadata(id=new_session_id(), created=old, last_active=old, message_count=1)
    repo.create(meta, [Message(role="user", content="old", timestamp=old)])

    def refuse(self: FileRepository, session_id: str, reason: str) -> None:
        raise StorageError("the file system is read-only", self.root)

    monkeypatch.setattr(FileRepository, "trash", refuse)  # a prune moves sessions to the trash
    code = run_sessions(["--sessions-dir", str(repo.root), "prune", "--older-than", "30d", "--yes", "--json"])
    out = capsys.readouterr().out
    assert code == 1
    assert "read-only" in out
    assert repo.exists(meta.id)
