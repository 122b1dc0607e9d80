"""``sessions import`` creates sessions in batches (:mod:`chatcli.session.store.batch`): shared
flushes and one index transaction per batch, yet a crash leaves whole sessions only, the index
stays true to the files, and nothing is reported imported that is not on disk."""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from chatcli.session import transfer
from chatcli.session.store import FileRepository
from chatcli.session.store.index import SessionIndex
from chatcli.session.store.layout import STAGING_PREFIX
from tests.helpers import chatcli, spawn_worker, write_corpus


def _whole(root: Path, records: list[dict[str, Any]]) -> list[str]:
    """The session folders under ``root``, each checked to hold its record whole."""
    by_id = {r["id"]: r for r in records}
    repo = FileRepository(root)
    found = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    for session_id in found:
        record = by_id[session_id]
        meta = repo.get(session_id)
        loaded = repo.load_messages(session_id)
        assert [m.content for m in loaded.messages] == [m["content"] for m in record["messages"]]
        assert (
            not loaded.skipped_lines
            and not loaded.torn_tail
            and meta.message_count == len(record["messages"])
        )
    return found


def test_one_index_transaction_and_one_mark_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 20, 1)
    calls: dict[str, int] = {"mark_dirty": 0, "store_many": 0, "store": 0}
    for name in calls:
        real = getattr(SessionIndex, name)

        def counted(self: SessionIndex, *args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls[_name] += 1 if args and args[0] else 0  # readers reconciling store nothing
            return _real(self, *args, **kw)

        monkeypatch.setattr(SessionIndex, name, counted)
    monkeypatch.setattr(transfer, "BATCH", 8)
    repo = FileRepository(tmp_path / "s")
    repo.ensure_root()
    repo.rebuild_index()
    result = transfer.import_sessions(repo, corpus)
    assert len(result.imported) == 20 and not result.skipped
    assert calls == {"mark_dirty": 3, "store_many": 3, "store": 0}  # batches of 8, 8 and 4
    assert _whole(repo.root, records) == sorted(r["id"] for r in records)
    assert repo.index_problems() == []


def test_a_store_failure_mid_import_reports_only_what_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 20, 1)
    monkeypatch.setattr(transfer, "BATCH", 8)
    real_rename = os.rename
    renames = [0]

    def failing(src: Any, dst: Any, *args: Any, **kw: Any) -> None:
        if os.path.basename(str(src)).startswith(STAGING_PREFIX):
            renames[0] += 1
            if renames[0] == 11:  # the third session of the second batch
                raise OSError(errno.ENOSPC, "No space left on device")
        real_rename(src, dst, *args, **kw)

    monkeypatch.setattr(os, "rename", failing)
    repo = FileRepository(tmp_path / "s")
    result = transfer.import_sessions(repo, corpus)
    first = sorted(r["id"] for r in records[:8])
    assert sorted(m.id for m in result.imported) == first
    assert result.notes[-1] == "stopped: record 9 could not be saved; the rest were not imported"
    assert _whole(repo.root, records) == first  # the second batch was taken back whole
    assert not [p for p in repo.root.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert sorted(m.id for m in repo.list()) == first
    assert repo.index_problems() == []


@pytest.mark.parametrize("step", [5, 40, 77, 118, 10_000])
def test_killed_mid_import_leaves_whole_sessions_and_a_true_index(tmp_path: Path, step: int) -> None:
    """SIGKILL at the STEP-th disk change (staging, flushing, renaming, in any batch): every
    session folder that appears is whole, listings match the folders, doctor --repair clears
    the leftovers and the index rebuilds to the same sessions."""
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 24, 1)
    root = tmp_path / "s"
    worker = spawn_worker("import-kill", str(root), str(corpus), str(step))
    out, err = worker.communicate(timeout=60)
    lines = out.decode().split()
    if step == 10_000:
        assert worker.returncode == 0 and lines == ["ready", "done"], err
    else:
        assert worker.returncode == -signal.SIGKILL and lines == ["ready"], err
    found = _whole(root, records) if root.exists() else []
    assert 0 < len(found) < 24 if step in (77, 118) else True
    repo = FileRepository(root)
    assert sorted(m.id for m in repo.list()) == found
    # Killed before the first batch created it, the index is missing (built by the next write).
    assert all(p.startswith("the index is missing") for p in repo.index_problems())
    repaired = chatcli(["sessions", "--sessions-dir", str(root), "doctor", "--repair"], cwd=tmp_path)
    assert repaired.code == 0, repaired
    assert not [p for p in root.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert repo.rebuild_index() == len(found)
    listed = chatcli(["sessions", "--sessions-dir", str(root), "list", "--all", "--json"], cwd=tmp_path)
    assert listed.code == 0 and len(json.loads(listed.out)["sessions"]) == len(found), listed
