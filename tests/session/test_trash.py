"""The trash: delete moves a session there whole, restore brings it back identical, only emptying
erases; trashed sessions leave listings, search and name lookups but ``show``/``export`` and
``search --trash`` reach them; the index follows every move."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.session.errors import AmbiguousId, SessionAlreadyExists, SessionNotFound, UnsafePath
from chatcli.session.repository import InMemoryRepository, SessionRepository
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import TRASH_DIR, TRASH_RECORD
from tests.helpers import TEST_LOCK_TIMEOUT, seed, tree


def _service(repo: SessionRepository) -> SessionService:
    return SessionService(repo)


def test_delete_moves_to_the_trash_and_restore_brings_back_identical(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    meta = seed(any_repo, "fix the login bug", replies=["sure"], name="fix-login")
    before_meta = any_repo.get(meta.id)
    before_bytes = any_repo.transcript_bytes(meta.id)
    result = svc.delete(meta.id)
    assert result.trash_id is not None and result.trash_id.startswith(meta.id)
    assert not any_repo.exists(meta.id)
    assert svc.list_sessions(status="all").sessions == []
    assert svc.briefs() == [] and list(any_repo.iter_briefs()) == []  # what completion reads
    assert any_repo.find_by_name("fix-login") == []
    assert any_repo.find_by_prefix(meta.id[:8]) == []
    trashed = svc.trash.list().sessions
    assert [(t.session_id, t.name, t.reason) for t in trashed] == [(meta.id, "fix-login", "deleted")]
    restored = svc.trash.restore("fix-login")
    assert restored.dropped_name is None
    assert any_repo.get(meta.id) == before_meta
    assert any_repo.transcript_bytes(meta.id) == before_bytes
    assert svc.trash.list().sessions == []
    assert [s.id for s in svc.list_sessions().sessions] == [meta.id]


def test_file_round_trip_keeps_every_file_byte_for_byte(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s", lock_timeout=TEST_LOCK_TIMEOUT)
    meta = seed(repo, "hello", replies=["a", "b"])
    before = {k: v for k, v in tree(repo.root).items() if k.startswith(meta.id)}
    trash_id = repo.trash(meta.id, "deleted")
    entry = repo.root / TRASH_DIR / trash_id
    assert sorted(os.listdir(entry)) == [meta.id, TRASH_RECORD]
    assert repo.index_problems() == []
    repo.restore(trash_id)
    after = {k: v for k, v in tree(repo.root).items() if k.startswith(meta.id)}
    assert after == before
    assert os.listdir(repo.root / TRASH_DIR) == []
    assert repo.index_problems() == []
    assert [m.id for m in repo.list()] == [meta.id]


def test_restore_leaves_the_session_unnamed_when_its_name_was_taken(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    old = seed(any_repo, "old", name="deploy")
    svc.delete(old.id)
    new = seed(any_repo, "new", name="deploy")
    result = svc.trash.restore(old.id[:8])
    assert result.dropped_name == "deploy" and result.name_taken_by == new.id
    assert any_repo.get(old.id).name is None
    assert any_repo.get(new.id).name == "deploy"
    assert svc.resolve("deploy").id == new.id


def test_restore_refuses_when_the_id_is_back_in_place(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    meta = seed(any_repo, "hello")
    svc.delete(meta.id)
    seed(any_repo, "imported again", session_id=meta.id)
    with pytest.raises(SessionAlreadyExists):
        svc.trash.restore(meta.id)
    assert any_repo.get(meta.id).first_message == "imported again"
    assert len(svc.trash.list().sessions) == 1


def test_show_export_and_search_trash_reach_trashed_sessions(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    meta = seed(any_repo, "the needle is here", replies=["ok"], name="gone")
    svc.delete(meta.id)
    with pytest.raises(SessionNotFound):
        svc.resolve("gone")
    with pytest.raises(SessionNotFound):
        svc.load("gone")
    detail = svc.show("gone")
    assert detail.trashed is not None and detail.total_messages == 2
    assert '"the needle is here"' in svc.export(meta.id[:8])
    assert svc.search("needle").hits == []
    hits = svc.search("needle", trash=True).hits
    assert [h.session_id for h in hits] == [meta.id]
    assert svc.most_recent() is None


def test_prune_moves_to_the_trash_with_its_reason(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    meta = seed(any_repo, "old")
    done = svc.prune(svc.prune_candidates(timedelta(days=1)))
    assert [m.id for m in done.sessions] == [meta.id]
    (entry,) = svc.trash.list().sessions
    assert entry.reason.startswith("pruned: not used since")


def test_empty_erases_only_what_is_older(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    a, b = seed(any_repo, "a"), seed(any_repo, "b")
    svc.delete(a.id)
    svc.delete(b.id)
    assert svc.trash.candidates(timedelta(days=1)).sessions == []
    every = svc.trash.candidates()
    assert {t.session_id for t in every.sessions} == {a.id, b.id}
    done = svc.trash.empty(every)
    assert len(done.sessions) == 2 and done.failures == []
    assert svc.trash.list().sessions == []
    with pytest.raises(SessionNotFound):
        svc.trash.restore(a.id)


def test_retention_expires_only_when_set(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    svc.delete(seed(any_repo, "a").id)
    assert svc.trash.expire(None, "") is None
    assert svc.trash.expire(timedelta(days=30), "30d") is None
    done = svc.trash.expire(timedelta(0), "0h")
    assert done is not None and len(done.sessions) == 1 and done.retention == "0h"


def test_same_session_trashed_twice_keeps_both_copies(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    meta = seed(any_repo, "first life")
    svc.delete(meta.id)
    seed(any_repo, "second life", session_id=meta.id)
    svc.delete(meta.id)
    entries = svc.trash.list().sessions
    assert [t.metadata.first_message for t in entries] == ["second life", "first life"]
    assert svc.trash.resolve(meta.id[:6]).metadata.first_message == "second life"


def test_an_ambiguous_trash_reference_lists_the_candidates() -> None:
    repo = InMemoryRepository()
    svc = _service(repo)
    a = seed(repo, "a", session_id="abcd0000-0000-4000-8000-000000000001")
    b = seed(repo, "b", session_id="abcd0000-0000-4000-8000-000000000002")
    svc.delete(a.id)
    svc.delete(b.id)
    with pytest.raises(AmbiguousId):
        svc.trash.resolve("abcd")


def test_permanent_delete_skips_the_trash(any_repo: SessionRepository) -> None:
    svc = _service(any_repo)
    meta = seed(any_repo, "bye")
    assert svc.delete(meta.id, permanent=True).trash_id is None
    assert not any_repo.exists(meta.id) and svc.trash.list().sessions == []


def test_a_planted_trash_link_is_refused_and_nothing_moves(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s", lock_timeout=TEST_LOCK_TIMEOUT)
    meta = seed(repo, "stay")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo.root / TRASH_DIR).symlink_to(elsewhere)
    with pytest.raises(UnsafePath):
        repo.trash(meta.id, "deleted")
    assert repo.exists(meta.id) and os.listdir(elsewhere) == []
    with pytest.raises(UnsafePath):
        repo.trashed()
