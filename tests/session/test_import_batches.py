"""``sessions import`` creates sessions in batches (:mod:`chatcli.session.store.batch`): shared
flushes and one index transaction per batch, yet a crash leaves whole sessions only, the index
stays true to the files, and nothing is reported imported that is not on disk."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from chatcli import logs
from chatcli.session import transfer
from chatcli.session.store import FileRepository
from chatcli.session.store.content_index import ContentIndex
from chatcli.session.store.index import SessionIndex
from chatcli.session.store.index_sync import IndexSync
from chatcli.session.store.layout import STAGING_PREFIX
from tests.helpers import chatcli, spawn_worker, write_corpus


def _by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in records}


def _indexed_messages(repo: FileRepository) -> dict[str, int]:
    """How many messages the content index holds per session (its own count, checked against
    its rows)."""
    index = repo._sync.index
    counted = dict(
        index._query(
            "SELECT s.session, count(*) FROM content c JOIN content_state s ON s.seq = c.id >> 32 GROUP BY 1"
        )
    )
    states = dict(index._query("SELECT session, rows FROM content_state"))
    assert all(counted.get(sid, 0) == rows for sid, rows in states.items())
    return {str(sid): int(str(rows)) for sid, rows in states.items()}


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
    calls: dict[str, int] = {"mark_dirty": 0, "store_created": 0, "store_many": 0, "store": 0}
    for name in calls:
        owner = ContentIndex if name == "store_created" else SessionIndex
        real = getattr(owner, name)

        def counted(self: SessionIndex, *args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls[_name] += 1 if args and args[0] else 0  # readers reconciling store nothing
            return _real(self, *args, **kw)

        monkeypatch.setattr(owner, name, counted)
    monkeypatch.setattr(transfer, "BATCH", 8)
    repo = FileRepository(tmp_path / "s")
    repo.ensure_root()
    repo.rebuild_index()
    result = transfer.import_sessions(repo, corpus)
    assert len(result.imported) == 20 and not result.skipped
    # batches of 8, 8 and 4: each one transaction for its rows and its messages
    assert calls == {"mark_dirty": 3, "store_created": 3, "store_many": 0, "store": 0}
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
    assert sorted(_indexed_messages(repo)) == first  # indexed meanwhile, though the next batch failed


#: Disk changes of the killed import (24 sessions, 8 a batch): 5 stages the first batch, 34 is
#: its flush of the file system, 40 and 77 rename sessions of the first and second batch, 106
#: flushes the third, 112 renames in it; 10,000 is past the end.
KILL_STEPS = [5, 34, 40, 77, 106, 112, 10_000]
#: How many sessions (the first ones) are indexed for certain before each step: a batch's index
#: transaction runs while the next batch is written, and is waited for before the one after it
#: is marked (so the first batch is indexed before the third is staged).
FINISHED = {106: 8, 112: 8, 10_000: 24}


@pytest.mark.parametrize("step", KILL_STEPS)
def test_killed_mid_import_leaves_whole_sessions_and_a_true_index(tmp_path: Path, step: int) -> None:
    """SIGKILL at the STEP-th disk change (staging, flushing, renaming, in any batch): every
    session folder that appears is whole, listings match the folders, the content index holds
    every message of those sessions and nothing else, doctor --repair clears the leftovers and
    the index rebuilds to the same sessions."""
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
    assert 0 < len(found) < 24 if step in (77, 106, 112) else True
    repo = FileRepository(root)
    assert sorted(m.id for m in repo.list()) == found
    if found:  # each session's messages are indexed whole, or not yet (then a search does it)
        index = repo._sync.index
        counts = {sid: len(_by_id(records)[sid]["messages"]) for sid in found}
        indexed = _indexed_messages(repo)
        assert indexed == {sid: counts[sid] for sid in indexed}
        # a batch whose index transaction was waited for indexed its messages with its rows
        assert {r["id"] for r in records[: FINISHED.get(step, 0)]} <= set(indexed)
        assert sorted(index.pending()) == sorted(set(found) - set(indexed))
        assert index.content_problems() == []
        index.index_pending(index.pending(), [])
        assert _indexed_messages(repo) == counts
    # Killed before the first batch created it, the index is missing (built by the next write).
    assert all(p.startswith("the index is missing") for p in repo.index_problems())
    repaired = chatcli(["sessions", "--sessions-dir", str(root), "doctor", "--repair"], cwd=tmp_path)
    assert repaired.code == 0, repaired
    assert not [p for p in root.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert repo.rebuild_index() == len(found)
    listed = chatcli(["sessions", "--sessions-dir", str(root), "list", "--all", "--json"], cwd=tmp_path)
    assert listed.code == 0 and len(json.loads(listed.out)["sessions"]) == len(found), listed


def _mixed_records() -> list[dict[str, Any]]:
    """Records whose messages exercise every part of the content index: words with accents,
    unspaced scripts (the trigram table), a reply with its model and usage, an interrupted one,
    given ids, text with escapes, a session without messages and one all in ASCII."""
    at = "2025-03-01T10:00:00Z"
    texts = [
        "Café naïve résumé",
        "東京タワーで会いましょう",
        'a\nline\rbreak "quoted" \\ tab\t',
        "서울에서 deploy \x00 nul",
    ]
    records: list[dict[str, Any]] = []
    for i in range(7):
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": f"{texts[i % 4]} zebra{i}", "timestamp": at},
            {"role": "assistant", "content": texts[(i + 1) % 4], "timestamp": at, "id": f"given-{i}"},
        ]
        if i % 2:
            messages.append(
                {
                    "role": "assistant",
                    "content": "cut short",
                    "timestamp": at,
                    "interrupted": True,
                    "model": "m-1",
                    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
                }
            )
        records.append({"id": str(uuid.UUID(int=i + 1, version=4)), "messages": messages})
    records.append({"id": str(uuid.UUID(int=99, version=4)), "messages": []})
    # all in ASCII, escapes included: indexed from the lines of its transcript as written
    plain = [{**m, "content": f"{texts[2]} plain {n}"} for n, m in enumerate(records[1]["messages"])]
    records.append({"id": str(uuid.UUID(int=98, version=4)), "messages": plain})
    return records


def _content(repo: FileRepository) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The content index's bookkeeping per session and its messages by session and position
    (the row numbers aside, which depend on the order sessions were indexed in)."""
    index = repo._sync.index
    states = index._query("SELECT session, inode, offset, lines, rows, stamp FROM content_state ORDER BY 1")
    messages = index._query(
        "SELECT s.session, c.id & 4294967295, c.role, c.ts, w.body, w.original, x.folded FROM content c "
        "JOIN content_state s ON s.seq = c.id >> 32 "
        "JOIN content_words w ON w.rowid = c.id LEFT JOIN content_chars x ON x.rowid = c.id ORDER BY 1, 2"
    )
    return states, messages


def test_an_import_indexes_the_messages_exactly_as_reading_the_files_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "mixed.jsonl"
    records = _mixed_records()
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    monkeypatch.setattr(transfer, "BATCH", 3)
    repo = FileRepository(tmp_path / "s")
    result = transfer.import_sessions(repo, corpus)
    assert len(result.imported) == len(records) and not result.skipped
    assert repo._sync.index.pending() == []
    imported = _content(repo)
    assert len(imported[0]) == len(records) and len(imported[1]) == sum(len(r["messages"]) for r in records)
    assert repo.rebuild_index() == len(records)  # rows and content again, read from the files
    assert _content(repo) == imported


def test_a_search_after_an_import_finds_its_messages_with_nothing_left_to_index(tmp_path: Path) -> None:
    corpus = tmp_path / "mixed.jsonl"
    records = _mixed_records()
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    root = tmp_path / "s"
    imported = chatcli(["sessions", "--sessions-dir", str(root), "import", str(corpus)], cwd=tmp_path)
    assert imported.code == 0, imported
    assert FileRepository(root)._sync.index.pending() == []
    for query, wanted in (("zebra3", [records[3]["id"]]), ("東京", [records[i]["id"] for i in (0, 1, 4, 5)])):
        found = chatcli(["sessions", "--sessions-dir", str(root), "search", query, "--json"], cwd=tmp_path)
        assert found.code == 0, found
        assert sorted(s["session_id"] for s in json.loads(found.out)["sessions"]) == sorted(wanted)


def test_a_batch_is_indexed_on_its_own_thread_after_the_next_is_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline's order: batch k's index transaction starts once batch k+1 is marked (on
    the index thread, while k+1 is written) and ends before batch k+2 is marked; the last batch
    is indexed before the import returns."""
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 24, 1)
    batch_of = {r["id"]: n // 8 for n, r in enumerate(records)}
    events: list[tuple[str, int, bool]] = []
    real_mark, real_store = IndexSync.mark, ContentIndex.store_created

    def mark(self: IndexSync, *ids: str, **kw: Any) -> None:
        real_mark(self, *ids, **kw)
        events.append(("marked", batch_of[ids[0]], threading.current_thread() is threading.main_thread()))

    def store(self: ContentIndex, prepared: Any) -> list[str]:
        here = (batch_of[prepared.rows[0][0].id], threading.current_thread() is threading.main_thread())
        events.append(("indexing", *here))
        try:
            return real_store(self, prepared)
        finally:
            events.append(("indexed", *here))

    monkeypatch.setattr(IndexSync, "mark", mark)
    monkeypatch.setattr(ContentIndex, "store_created", store)
    monkeypatch.setattr(transfer, "BATCH", 8)
    repo = FileRepository(tmp_path / "s")
    result = transfer.import_sessions(repo, corpus)
    assert len(result.imported) == 24 and not result.skipped
    assert events == [
        ("marked", 0, True),
        ("marked", 1, True),
        ("indexing", 0, False),
        ("indexed", 0, False),
        ("marked", 2, True),
        ("indexing", 1, False),
        ("indexed", 1, False),
        ("indexing", 2, True),  # the last batch, once the batches end
        ("indexed", 2, True),
    ]
    assert sorted(_indexed_messages(repo)) == sorted(batch_of) and repo._sync.index.pending() == []


def test_an_index_failure_on_the_index_thread_costs_only_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is a cache: its transaction failing on the index thread (here the second
    batch's) is logged and the index dropped; the import goes on and reports every session,
    each whole, and listings and searches read the files."""
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 20, 1)
    ids = sorted(r["id"] for r in records)
    real_store = ContentIndex.store_created
    calls: list[bool] = []

    def failing(self: ContentIndex, prepared: Any) -> list[str]:
        calls.append(threading.current_thread() is threading.main_thread())
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return real_store(self, prepared)

    logged: list[BaseException] = []
    monkeypatch.setattr(ContentIndex, "store_created", failing)
    monkeypatch.setattr(logs, "log_exception", lambda exc, context="": logged.append(exc))
    monkeypatch.setattr(transfer, "BATCH", 8)
    repo = FileRepository(tmp_path / "s")
    result = transfer.import_sessions(repo, corpus)
    assert sorted(m.id for m in result.imported) == ids and not result.skipped
    assert calls == [False, False]  # given up after the failure: no index transaction since
    assert [type(exc) for exc in logged] == [sqlite3.OperationalError]
    assert _whole(repo.root, records) == ids
    again = FileRepository(repo.root)
    assert sorted(m.id for m in again.list()) == ids
    # dropped, the index is built again by the next write; meanwhile the files are read
    assert all(p.startswith("the index is missing") for p in again.index_problems())
    word = records[12]["messages"][0]["content"].split()[0].rstrip(".")  # of the failed batch
    found = chatcli(["sessions", "--sessions-dir", str(repo.root), "search", word, "--json"], cwd=tmp_path)
    assert found.code == 0 and records[12]["id"] in {
        s["session_id"] for s in json.loads(found.out)["sessions"]
    }


def test_an_error_escaping_the_index_thread_is_raised_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error the index transaction does not turn into giving up the index (none is expected:
    this stands for the next bug) reaches the import's caller; the sessions written are whole."""
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 20, 1)

    def broken(self: IndexSync, *args: Any) -> None:
        raise RuntimeError("a bug in the index thread")

    monkeypatch.setattr(IndexSync, "sync_many", broken)
    monkeypatch.setattr(transfer, "BATCH", 8)
    repo = FileRepository(tmp_path / "s")
    with pytest.raises(RuntimeError, match="a bug in the index thread"):
        transfer.import_sessions(repo, corpus)
    found = _whole(repo.root, records)
    assert found and not [p for p in repo.root.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert sorted(m.id for m in FileRepository(repo.root).list()) == found


def test_index_rows_that_cannot_be_prepared_are_synced_from_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Preparing a batch's index rows (on the writing thread) failing, the next bug there, costs
    neither the import nor the index: that batch's sessions are synced from their files."""
    from chatcli.session.store import batch

    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 20, 1)
    ids = sorted(r["id"] for r in records)
    real_prepare = batch.prepare
    calls: list[int] = []

    def failing(rows: Any, written: Any) -> Any:
        calls.append(len(rows))
        if len(calls) == 2:
            raise ValueError("a bug preparing the rows")
        return real_prepare(rows, written)

    logged: list[BaseException] = []
    monkeypatch.setattr(batch, "prepare", failing)
    monkeypatch.setattr(logs, "log_exception", lambda exc, context="": logged.append(exc))
    monkeypatch.setattr(transfer, "BATCH", 8)
    repo = FileRepository(tmp_path / "s")
    result = transfer.import_sessions(repo, corpus)
    assert sorted(m.id for m in result.imported) == ids and not result.skipped
    assert [str(exc) for exc in logged] == ["a bug preparing the rows"]
    assert _whole(repo.root, records) == ids
    assert repo.index_problems() == [] and sorted(_indexed_messages(repo)) == ids
