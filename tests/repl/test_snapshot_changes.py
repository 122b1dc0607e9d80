"""After a write the completion snapshot reads only the sessions that changed (the index's log
of changed rows), and the patched snapshot equals one built from scratch."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chatcli.repl.completion.ranking import (
    PatchedIndex,
    rank_indexed,
    rank_linear,
    session_index,
    warm_session_index,
)
from chatcli.repl.completion.snapshot import Snapshot, SnapshotCache, entry_of, patched
from chatcli.session.fields import ChangeCursor, Changes, SessionBrief, SessionStatus
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store import index as index_module
from tests.helpers import BASE, at, seed, user


@pytest.fixture
def rows_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many index rows each read turned into briefs."""
    counts: list[int] = []
    real = index_module.briefs_of

    def counted(rows: Iterable[Sequence[Any]]) -> Any:
        rows = list(rows)
        counts.append(len(rows))
        return real(rows)

    monkeypatch.setattr(index_module, "briefs_of", counted)
    return counts


def _same_as_a_fresh_one(snap: Snapshot, root: Path) -> None:
    fresh = SnapshotCache(SessionService(FileRepository(root))).refresh()
    assert snap.entries == fresh.entries and snap.tags == fresh.tags
    assert all(snap.entry(e.id) == e for e in fresh.entries)
    assert snap.entry("0" * 8 + "-0000-4000-8000-" + "0" * 12) is None


def test_refresh_after_writes_reads_only_the_changed_rows(tmp_path: Path, rows_read: list[int]) -> None:
    repo = FileRepository(tmp_path / "s")
    made = [seed(repo, f"session {i}", when=at(i)) for i in range(40)]
    cache = SnapshotCache(SessionService(repo))
    cache.refresh()
    assert sum(rows_read) == 40
    rows_read.clear()

    repo.append_message(made[3].id, user("a later message"))  # moves to the top
    snap = cache.refresh()
    assert sum(rows_read) == 1 and snap.entries[0].id == made[3].id
    _same_as_a_fresh_one(snap, repo.root)
    rows_read.clear()

    repo.update(made[7].id, lambda m: setattr(m, "tags", ["work", "urgent"]))
    repo.update(made[9].id, lambda m: setattr(m, "name", "renamed"))
    repo.trash(made[11].id, "deleted")
    other = FileRepository(repo.root)  # another process
    seed(other, "from elsewhere", when=at(100))
    snap = cache.refresh()
    assert sum(rows_read) == 3  # the trashed one is gone: no row to read
    assert snap.tags == (("urgent", 1), ("work", 1))
    _same_as_a_fresh_one(snap, repo.root)


def test_a_rebuilt_index_makes_the_next_refresh_read_everything(tmp_path: Path, rows_read: list[int]) -> None:
    repo = FileRepository(tmp_path / "s")
    made = [seed(repo, f"session {i}", when=at(i)) for i in range(10)]
    cache = SnapshotCache(SessionService(repo))
    cache.refresh()
    repo.rebuild_index()  # a new log: the old cursor means nothing in it
    repo.append_message(made[0].id, user("after the rebuild"))
    rows_read.clear()
    snap = cache.refresh()
    assert sum(rows_read) == 10
    _same_as_a_fresh_one(snap, repo.root)


def _brief(rng: random.Random, session_id: str) -> SessionBrief:
    words = ["alpha", "beta", "gamma", "abba", "Babel", "deploy"]
    when = BASE + timedelta(minutes=rng.randint(0, 500))
    name = rng.choice([None, f"{rng.choice(words)}-{rng.randint(0, 9)}", "abc"])
    status = rng.choice([SessionStatus.ACTIVE, SessionStatus.ACTIVE, SessionStatus.ARCHIVED])
    return SessionBrief(session_id, name, status, when, when, " ".join(rng.sample(words, 3)), 2)


@pytest.mark.parametrize("seed_value", range(6))
def test_a_patched_snapshot_ranks_as_one_built_whole(seed_value: int) -> None:
    """Patch after patch, completion over the patched snapshot (its origin's search structure
    plus the patch) gives exactly what the plain rules give over the whole new tuple, and
    equals a snapshot built from scratch."""
    rng = random.Random(seed_value)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(60)]
    briefs = {sid: _brief(rng, sid) for sid in ids[:40]}
    snap = Snapshot(
        tuple(
            entry_of(b) for b in sorted(briefs.values(), key=lambda b: (b.last_active, b.id), reverse=True)
        ),
        (1,),
        BASE,
    )
    warm_session_index(snap)
    for step in range(8):
        changed = [_brief(rng, sid) for sid in rng.sample(ids, rng.randint(1, 4))]
        gone = {sid for sid in rng.sample(ids, 2) if sid not in {b.id for b in changed}}
        for b in changed:
            briefs[b.id] = b
        for sid in gone:
            briefs.pop(sid, None)
        snap = patched(snap, Changes(ChangeCursor("log", step), changed, gone), (step + 2,))
        whole = tuple(
            entry_of(b) for b in sorted(briefs.values(), key=lambda b: (b.last_active, b.id), reverse=True)
        )
        assert [(e.id, e.last_active, e.name) for e in snap.entries] == [
            (e.id, e.last_active, e.name) for e in whole
        ]
        warm_session_index(snap)
        assert isinstance(session_index(snap.entries), PatchedIndex)  # no whole rebuild
        for word in ["", "a", "ab", "abb", "be", "alpha", "dep", "x", snap.entries[0].id[:3], "a b"]:
            for limit in (1, 5, 50):
                got = rank_indexed(snap.entries, word, limit)
                want = rank_linear(snap.entries, word, limit)
                assert [(id(e), text) for e, text in got] == [(id(e), text) for e, text in want], (
                    word,
                    limit,
                )
