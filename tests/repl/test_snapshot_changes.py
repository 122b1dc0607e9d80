"""After a write the completion snapshot reads only the sessions that changed (the index's log
of changed rows), and the patched snapshot equals one built from scratch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from chatcli.repl.completion.snapshot import Snapshot, SnapshotCache
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store import index as index_module
from tests.helpers import at, seed, user


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
    assert dict(snap.by_id) == {e.id: e for e in fresh.entries}


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
