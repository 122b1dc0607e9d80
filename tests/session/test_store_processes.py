"""FileRepository across OS processes: concurrent writers, and writers killed with SIGKILL mid-work."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter

import pytest

from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE
from tests.helpers import LineReader, make_meta, spawn_worker, transcript_lines, user

pytestmark = pytest.mark.slow


def _start_all(workers: list[tuple[subprocess.Popen[bytes], LineReader]]) -> None:
    """Wait until every worker is ready, then release them together (no sleeps)."""
    for _, reader in workers:
        assert reader.wait_for(1, timeout=30)[0] == "ready"
    for proc, _ in workers:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()


def _finish_all(workers: list[tuple[subprocess.Popen[bytes], LineReader]]) -> list[list[str]]:
    outputs = []
    try:
        for proc, reader in workers:
            lines, err = reader.finish(timeout=60)
            assert proc.returncode == 0, err
            outputs.append(lines[1:])  # drop "ready"
    finally:
        for _, reader in workers:
            reader.close()
    return outputs


def _check_session(repo: FileRepository, session_id: str) -> list[str]:
    """Every line parses, the file ends with a newline, and the count matches; returns message ids."""
    data = (repo.root / session_id / CONVERSATION_FILE).read_bytes()
    assert data.endswith(b"\n")
    for line in transcript_lines(repo, session_id):
        json.loads(line)
    transcript = repo.load_messages(session_id)
    assert transcript.warnings == []
    assert repo.get(session_id).message_count == len(transcript.messages) == data.count(b"\n")
    return [m.id for m in transcript.messages]


def test_concurrent_appends_from_processes(repo: FileRepository) -> None:
    """4 processes append to one session while 2 others append to their own sessions."""
    shared, own_a, own_b = make_meta(""), make_meta(""), make_meta("")
    for meta in (shared, own_a, own_b):
        repo.save(meta)
    plan = [(shared.id, f"p{i}") for i in range(4)] + [(own_a.id, "a"), (own_b.id, "b")]
    per_process = 50

    workers = []
    for session_id, tag in plan:
        proc = spawn_worker(
            "append", str(repo.root), session_id, tag, str(per_process), stdin=subprocess.PIPE
        )
        workers.append((proc, LineReader(proc)))
    _start_all(workers)
    outputs = _finish_all(workers)

    for (_, tag), acked in zip(plan, outputs, strict=True):
        assert acked == [f"{tag}-{i}" for i in range(per_process)]
    shared_ids = _check_session(repo, shared.id)
    assert Counter(shared_ids) == Counter(f"p{p}-{i}" for p in range(4) for i in range(per_process))
    for p in range(4):
        mine = [i for i in shared_ids if i.startswith(f"p{p}-")]
        assert mine == [f"p{p}-{i}" for i in range(per_process)], "each writer's messages stay in order"
    assert _check_session(repo, own_a.id) == [f"a-{i}" for i in range(per_process)]
    assert _check_session(repo, own_b.id) == [f"b-{i}" for i in range(per_process)]
    assert repo.get(shared.id).first_message.endswith(" says 0")


def test_concurrent_updates_lose_nothing(repo: FileRepository) -> None:
    """Read-modify-write increments from 4 processes (with archive toggles in between) all land."""
    meta = make_meta("counter")
    repo.save(meta)
    procs, rounds = 4, 20

    workers = []
    for k in range(procs):
        proc = spawn_worker("bump", str(repo.root), meta.id, f"p{k}", str(rounds), stdin=subprocess.PIPE)
        workers.append((proc, LineReader(proc)))
    _start_all(workers)
    outputs = _finish_all(workers)

    assert all(len(acked) == rounds for acked in outputs)
    final = repo.get(meta.id)
    assert final.custom_fields["n"] == procs * rounds
    assert all(final.custom_fields[f"p{k}"] == rounds for k in range(procs))
    assert [p.name for p in (repo.root / meta.id).iterdir() if p.name.endswith(".tmp")] == []


def test_sigkill_at_random_moments(repo: FileRepository) -> None:
    """A writer is killed mid-loop again and again; every acknowledged message survives every crash."""
    rng = random.Random(20250101)
    meta: SessionMetadata = make_meta("")
    repo.save(meta)
    acknowledged: list[str] = []
    rounds = 20
    started = time.monotonic()

    for round_no in range(rounds):
        proc = spawn_worker("crash-loop", str(repo.root), meta.id, f"r{round_no}")
        reader = LineReader(proc)
        try:
            reader.wait_for(1 + rng.randint(0, 25), timeout=30)
            time.sleep(rng.uniform(0, 0.004))  # land the kill anywhere inside the next operation
            proc.kill()
            lines, _ = reader.finish(timeout=30)
        finally:
            reader.close()
        assert proc.returncode == -9
        acknowledged += lines[1:]

        fresh = FileRepository(repo.root, lock_timeout=5)
        transcript = fresh.load_messages(meta.id)
        before_repair = fresh.get(meta.id)  # metadata is always readable: it is replaced atomically
        assert before_repair.message_count <= len(transcript.messages) + (1 if transcript.torn_tail else 0)
        fresh.repair(meta.id)
        assert list((repo.root / meta.id).glob("*.tmp")) == [], "repair clears unfinished temp files"

        ids = [m.id for m in fresh.load_messages(meta.id).messages]
        assert len(ids) == len(set(ids)), "a message was written twice"
        missing = set(acknowledged) - set(ids)
        assert not missing, f"round {round_no}: acknowledged messages lost: {sorted(missing)[:5]}"
        assert fresh.get(meta.id).message_count == len(ids)

        probe = user(f"probe after round {round_no}", f"probe-{round_no}")
        after = fresh.append_message(meta.id, probe)
        assert after.message_count == len(ids) + 1
        transcript = fresh.load_messages(meta.id)
        assert transcript.messages[-1] == probe and transcript.warnings == []

    assert len(acknowledged) >= rounds
    assert time.monotonic() - started < 60
    final = repo.get(meta.id)
    assert final.custom_fields.get("n", 0) >= 1
