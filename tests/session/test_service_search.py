"""SessionService: search, fork and prune, against the file store and the in-memory one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatcli.session.errors import (
    InvalidName,
    SessionAlreadyExists,
)
from chatcli.session.models import Message, utc_now
from chatcli.session.search import InvalidQuery
from chatcli.session.service import SessionService
from tests.helpers import at, ids, messages_of, seed

# --------------------------------------------------------------------------- search


def test_search_hits_carry_snippet_role_and_session_newest_first(svc: SessionService) -> None:
    older = seed(svc.repo, "how do I retry with BACKOFF?", when=at(0), name="retries")
    newer = seed(svc.repo, "unrelated", when=at(10), replies=["use exponential backoff here"])
    seed(svc.repo, "nothing to see", when=at(20), replies=["really nothing"])

    result = svc.search("Backoff")
    assert result.query == "Backoff"
    assert result.truncated is False
    assert result.sessions_searched == 3
    assert [(h.session_id, h.role) for h in result.hits] == [(newer.id, "assistant"), (older.id, "user")]
    assert result.hits[0].snippet == "use exponential backoff here"
    assert result.hits[0].session_name is None
    assert result.hits[1].session_name == "retries"
    assert "BACKOFF" in result.hits[1].snippet
    assert result.hits[0].timestamp > result.hits[1].timestamp


def test_search_snippet_of_a_long_message_is_cut_around_the_match(svc: SessionService) -> None:
    body = "lorem " * 100 + "the\nNEEDLE\tis here " + "ipsum " * 100
    seed(svc.repo, body)
    (hit,) = svc.search("needle").hits
    assert "NEEDLE" in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert "\n" not in hit.snippet and "\t" not in hit.snippet
    assert len(hit.snippet) < 200


def test_search_limit_and_truncated_flag(svc: SessionService) -> None:
    for i in range(3):
        seed(svc.repo, f"match {i}", when=at(i), replies=[f"match {i} again"])
    limited = svc.search("match", limit=2)
    assert [f.session_id for f in limited.sessions] == [
        s.id for s in svc.list_sessions(status="all").sessions[:2]
    ]
    assert (limited.total_hits, limited.sessions_matched, limited.truncated) == (6, 3, True)
    exact = svc.search("match", limit=3)
    assert len(exact.sessions) == 3
    assert exact.truncated is False
    every = svc.search("match", limit=1, every_hit=True)
    assert [h.snippet for h in every.hits] == ["match 2", "match 2 again"]


def test_search_by_status(svc: SessionService) -> None:
    active = seed(svc.repo, "needle active")
    archived = seed(svc.repo, "needle archived", archived=True)
    assert {h.session_id for h in svc.search("needle").hits} == {active.id, archived.id}
    assert [h.session_id for h in svc.search("needle", status="active").hits] == [active.id]
    assert [h.session_id for h in svc.search("needle", status="archived").hits] == [archived.id]


@pytest.mark.parametrize("query", ["", "   "])
def test_search_rejects_an_empty_query(svc: SessionService, query: str) -> None:
    seed(svc.repo, "anything")
    with pytest.raises(InvalidQuery, match="empty"):
        svc.search(query)


# --------------------------------------------------------------------------- fork


def test_fork_copies_the_messages_into_a_new_session(svc: SessionService) -> None:
    source = seed(svc.repo, "question", when=at(0), replies=["answer"], name="orig")
    fork = svc.fork("orig")
    assert fork.id != source.id
    assert fork.custom_fields["forked_from"] == source.id
    assert fork.name is None
    assert fork.first_message == "question"
    assert fork.message_count == 2
    assert messages_of(svc, fork.id) == messages_of(svc, source.id)
    # The source is untouched and both are listed.
    assert svc.repo.get(source.id).name == "orig"
    assert set(ids(svc.list_sessions().sessions)) == {source.id, fork.id}


def test_fork_with_a_name(svc: SessionService) -> None:
    source = seed(svc.repo, "question", name="orig")
    fork = svc.fork(source.id, "the-fork")
    assert svc.resolve("the-fork").id == fork.id
    with pytest.raises(SessionAlreadyExists):
        svc.fork(source.id, "ORIG")
    with pytest.raises(InvalidName):
        svc.fork(source.id, "bad name")
    assert len(svc.list_sessions().sessions) == 2


# --------------------------------------------------------------------------- prune


def test_prune_candidates_by_age_and_status(svc: SessionService) -> None:
    now = utc_now()
    old_active = seed(svc.repo, "old active", when=now - timedelta(days=40))
    old_archived = seed(svc.repo, "old archived", when=now - timedelta(days=50), archived=True)
    seed(svc.repo, "recent", when=now - timedelta(days=5))
    seed(svc.repo, "recent archived", when=now - timedelta(days=5), archived=True)

    candidates = svc.prune_candidates(timedelta(days=30))
    assert candidates.dry_run is True
    assert set(ids(candidates.sessions)) == {old_active.id, old_archived.id}
    assert now - timedelta(days=30, seconds=5) < candidates.cutoff <= utc_now() - timedelta(days=30)
    only_archived = svc.prune_candidates(timedelta(days=30), archived_only=True)
    assert ids(only_archived.sessions) == [old_archived.id]
    # Computing candidates (a dry run) deletes nothing.
    assert len(svc.list_sessions(status="all").sessions) == 4


def test_prune_deletes_only_the_listed_sessions(svc: SessionService) -> None:
    now = utc_now()
    old = seed(svc.repo, "old", when=now - timedelta(days=40))
    used_again = seed(svc.repo, "used again", when=now - timedelta(days=40))
    recent = seed(svc.repo, "recent", when=now - timedelta(days=1))
    candidates = svc.prune_candidates(timedelta(days=30))
    assert set(ids(candidates.sessions)) == {old.id, used_again.id}

    # After the candidates were listed: one of them is used again, and a new old session appears.
    svc.append(used_again.id, Message(role="user", content="back again"))
    late = seed(svc.repo, "late", when=now - timedelta(days=90))

    done = svc.prune(candidates)
    assert done.dry_run is False
    assert ids(done.sessions) == [old.id]
    assert [sid for sid, _ in done.failures] == [used_again.id]
    assert "used again" in done.failures[0][1]
    assert set(ids(svc.list_sessions(status="all").sessions)) == {used_again.id, recent.id, late.id}


def test_prune_reports_a_session_deleted_meanwhile(svc: SessionService) -> None:
    now = utc_now()
    gone = seed(svc.repo, "gone", when=now - timedelta(days=40))
    old = seed(svc.repo, "old", when=now - timedelta(days=40))
    candidates = svc.prune_candidates(timedelta(days=30))
    svc.delete(gone.id)
    done = svc.prune(candidates)
    assert ids(done.sessions) == [old.id]
    assert [sid for sid, _ in done.failures] == [gone.id]
