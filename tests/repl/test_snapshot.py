"""The completion snapshot: built from the service's listing, cached, and rebuilt only on change."""

from __future__ import annotations

import pytest

from chatcli.repl.completion.snapshot import SnapshotCache
from chatcli.session.models import SessionStatus
from chatcli.session.repository import InMemoryRepository, SessionRepository
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import TEST_LOCK_TIMEOUT, at, seed


@pytest.fixture(params=["file", "memory"])
def svc(request: pytest.FixtureRequest, repo: FileRepository) -> SessionService:
    """A service on either repository (the snapshot does not depend on the storage)."""
    any_repo: SessionRepository = InMemoryRepository() if request.param == "memory" else repo
    return SessionService(any_repo)


def test_snapshot_follows_writes_of_another_process(repo: FileRepository) -> None:
    snapshots = SnapshotCache(SessionService(repo))
    first = seed(repo, "first")
    snap = snapshots.refresh()
    assert [e.id for e in snap.entries] == [first.id]
    assert snapshots.current() is snap
    assert snapshots.is_stale() is False

    # Another FileRepository on the same folder stands in for another chatcli process.
    other = SessionService(FileRepository(repo.root, lock_timeout=TEST_LOCK_TIMEOUT))
    second = seed(other.repo, "second", when=at(60))
    assert snapshots.is_stale() is True
    assert [e.id for e in snapshots.current().entries] == [first.id]  # the cache is never re-read implicitly
    refreshed = snapshots.refresh()
    assert [e.id for e in refreshed.entries] == [second.id, first.id]
    assert snapshots.is_stale() is False

    other.rename(first.id, "renamed")
    assert snapshots.is_stale() is True
    entry = {e.id: e for e in snapshots.refresh().entries}[first.id]
    assert entry.name == "renamed"
    assert snapshots.is_stale() is False

    other.delete(second.id)
    assert snapshots.is_stale() is True
    assert [e.id for e in snapshots.refresh().entries] == [first.id]


def test_refresh_without_changes_keeps_the_snapshot(svc: SessionService) -> None:
    seed(svc.repo, "one")
    cache = SnapshotCache(svc)
    snap = cache.refresh()
    assert cache.refresh() is snap
    assert cache.refresh(force=True) is not snap


def test_snapshot_entries_describe_the_sessions(svc: SessionService) -> None:
    meta = seed(svc.repo, "what completion shows", replies=["r"], name="snap", archived=True)
    cache = SnapshotCache(svc)
    assert cache.current().entries == ()
    (entry,) = cache.refresh().entries
    assert (entry.id, entry.name, entry.first_message, entry.status, entry.message_count) == (
        meta.id,
        "snap",
        "what completion shows",
        SessionStatus.ARCHIVED,
        2,
    )
