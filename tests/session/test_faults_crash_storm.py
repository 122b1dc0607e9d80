"""Fault injection: a crash storm (writers SIGKILLed at random points) loses no acknowledged message."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from tests.helpers import REPO_ROOT, numbered, seed

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
