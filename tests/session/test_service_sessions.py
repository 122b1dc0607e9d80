"""SessionService: listing, showing, resolving, naming, archiving and deleting sessions, against the
file store and the in-memory one."""

from __future__ import annotations

from typing import Any, cast

import pytest

from chatcli.session.errors import (
    AmbiguousId,
    InvalidName,
    SessionAlreadyExists,
    SessionNotFound,
)
from chatcli.session.models import SessionStatus
from chatcli.session.repository import SessionFilter, SessionList, SessionRepository
from chatcli.session.service import SessionService
from tests.helpers import at, ids, seed

# --------------------------------------------------------------------------- list


def test_list_defaults_to_active_newest_first(svc: SessionService) -> None:
    old = seed(svc.repo, "old", when=at(0))
    new = seed(svc.repo, "new", when=at(10))
    middle = seed(svc.repo, "middle", when=at(5))
    archived = seed(svc.repo, "archived", when=at(20), archived=True)

    result = svc.list_sessions()
    assert ids(result.sessions) == [new.id, middle.id, old.id]
    assert result.status == "active"
    assert result.problems == []

    assert ids(svc.list_sessions(status="archived").sessions) == [archived.id]
    assert ids(svc.list_sessions(status="all").sessions) == [archived.id, new.id, middle.id, old.id]


def test_list_search_matches_name_and_first_message_ignoring_case(svc: SessionService) -> None:
    by_text = seed(svc.repo, "Fix the DOCKER build", when=at(0))
    by_name = seed(svc.repo, "unrelated", when=at(1), name="docker-notes")
    seed(svc.repo, "something else", when=at(2), replies=["docker is only in a reply"])
    archived = seed(svc.repo, "docker archived", when=at(3), archived=True)

    found = svc.list_sessions(search="dOcKeR")
    assert ids(found.sessions) == [by_name.id, by_text.id]
    assert found.search == "dOcKeR"
    assert ids(svc.list_sessions(search="docker", status="all").sessions) == [
        archived.id,
        by_name.id,
        by_text.id,
    ]
    assert svc.list_sessions(search="kubernetes").sessions == []


def test_list_limit_keeps_the_newest(svc: SessionService) -> None:
    made = [seed(svc.repo, f"s{i}", when=at(i)) for i in range(5)]
    assert ids(svc.list_sessions(limit=2).sessions) == [made[4].id, made[3].id]
    assert len(svc.list_sessions(limit=50).sessions) == 5


# --------------------------------------------------------------------------- show


def test_show_returns_the_last_messages_and_the_total(svc: SessionService) -> None:
    meta = seed(svc.repo, "q0", when=at(0), replies=[f"a{i}" for i in range(1, 10)])
    detail = svc.show(meta.id, last=3)
    assert detail.metadata.id == meta.id
    assert detail.total_messages == 10
    assert [m.content for m in detail.recent] == ["a7", "a8", "a9"]
    assert detail.warnings == []
    assert [m.content for m in svc.show(meta.id).recent] == ["a4", "a5", "a6", "a7", "a8", "a9"]
    assert len(svc.show(meta.id, last=100).recent) == 10


def test_show_unknown_session(svc: SessionService) -> None:
    with pytest.raises(SessionNotFound):
        svc.show("no-such-session")


# --------------------------------------------------------------------------- resolve


def test_resolve_full_id_in_any_case(svc: SessionService) -> None:
    meta = seed(svc.repo, "hello")
    assert svc.resolve(meta.id).id == meta.id
    assert svc.resolve(meta.id.upper()).id == meta.id
    assert svc.resolve(f"  {meta.id}  ").id == meta.id


def test_resolve_unique_prefix(svc: SessionService) -> None:
    one = seed(svc.repo, "one", session_id="1111aaaa-0000-4000-8000-000000000001")
    two = seed(svc.repo, "two", session_id="2222bbbb-0000-4000-8000-000000000002")
    assert svc.resolve("1111").id == one.id
    assert svc.resolve("2222BB").id == two.id
    assert svc.resolve("1111aaaa-0000").id == one.id


def test_resolve_short_prefix_is_refused_with_a_reason(svc: SessionService) -> None:
    seed(svc.repo, "one", session_id="abcdef00-0000-4000-8000-000000000001")
    with pytest.raises(SessionNotFound) as info:
        svc.resolve("abc")
    text = info.value.user_message()
    assert "at least 4 characters" in text
    assert "'abc'" in text


def test_resolve_ambiguous_prefix_lists_the_candidates(svc: SessionService) -> None:
    first = seed(svc.repo, "first one", session_id="abcd1234-0000-4000-8000-000000000001")
    second = seed(svc.repo, "second one", session_id="abcd1234-0000-4000-8000-000000000002")
    other = seed(svc.repo, "other", session_id="abce0000-0000-4000-8000-000000000003")
    with pytest.raises(AmbiguousId) as info:
        svc.resolve("abcd")
    assert sorted(c.split()[0] for c in info.value.candidates) == sorted([first.id, second.id])
    text = info.value.user_message()
    assert first.id in text and second.id in text and other.id not in text
    assert "first one" in text
    # A longer prefix settles it.
    assert svc.resolve("abcd1234-0000-4000-8000-000000000002").id == second.id
    with pytest.raises(AmbiguousId):
        svc.resolve("abcd1234-0000-4000-8000-00000000000")


def test_resolve_by_name_exact_and_ignoring_case(svc: SessionService) -> None:
    meta = seed(svc.repo, "hello", name="Fix-Login")
    assert svc.resolve("Fix-Login").id == meta.id
    assert svc.resolve("fix-login").id == meta.id
    assert svc.resolve("FIX-LOGIN").id == meta.id


def test_id_prefix_beats_a_stored_name_that_reads_as_an_id(svc: SessionService) -> None:
    """Such names are refused now, but older versions stored some: the id always wins, and the
    name still reaches its session when it is no session's id prefix."""
    by_prefix = seed(svc.repo, "by prefix", session_id="beef0000-0000-4000-8000-000000000001")
    by_name = seed(svc.repo, "by name", name="beef", session_id="00000000-0000-4000-8000-000000000002")
    old_name = seed(svc.repo, "old name", name="cafe", session_id="00000000-0000-4000-8000-000000000003")
    assert svc.resolve("beef").id == by_prefix.id
    assert svc.resolve("BEEF0").id == by_prefix.id
    assert svc.resolve("cafe").id == old_name.id
    assert svc.resolve(by_name.id).name == "beef"


def test_resolve_nothing_matches(svc: SessionService) -> None:
    seed(svc.repo, "hello", name="present")
    for ref in ("absent", "", "   ", "ffff", "ffffffff-0000-4000-8000-000000000000", "../etc"):
        with pytest.raises(SessionNotFound):
            svc.resolve(ref)


# --------------------------------------------------------------------------- rename


def test_rename_sets_and_clears(svc: SessionService) -> None:
    meta = seed(svc.repo, "hello")
    assert svc.rename(meta.id[:6], "fix-login_2").name == "fix-login_2"
    assert svc.repo.get(meta.id).name == "fix-login_2"
    assert svc.rename("fix-login_2", None).name is None
    assert svc.repo.get(meta.id).name is None


def test_rename_to_a_taken_name_ignoring_case(svc: SessionService) -> None:
    taken = seed(svc.repo, "first", name="deploy")
    other = seed(svc.repo, "second")
    with pytest.raises(SessionAlreadyExists) as info:
        svc.rename(other.id, "DEPLOY")
    assert taken.id[:8] in info.value.user_message()
    assert svc.repo.get(other.id).name is None
    # Renaming a session to its own name (in another case) is allowed.
    assert svc.rename(taken.id, "Deploy").name == "Deploy"


class NoFullListing:
    """A repository that fails when asked for a full listing; everything else is delegated."""

    def __init__(self, inner: SessionRepository) -> None:
        self.inner = inner

    def list(self, flt: SessionFilter | None = None) -> SessionList:
        raise AssertionError("a name check must look that one name up, not list every session")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_name_checks_look_the_name_up_instead_of_listing(any_repo: SessionRepository) -> None:
    taken = seed(any_repo, "first", name="deploy")
    other = seed(any_repo, "second")
    svc = SessionService(cast(SessionRepository, NoFullListing(any_repo)))
    with pytest.raises(SessionAlreadyExists):
        svc.rename(other.id, "Deploy")
    assert svc.rename(other.id, "release").name == "release"
    assert svc.rename(taken.id, "DEPLOY").name == "DEPLOY"
    with pytest.raises(SessionAlreadyExists):
        svc.fork(taken.id, "RELEASE")
    assert svc.fork(taken.id, "deploy-2").name == "deploy-2"


@pytest.mark.parametrize(
    "bad",
    ["", "has space", "-starts-with-dash", "x" * 101, "[bold red]x[/]", "evil\x1b[2J", "rtl\u202eexe", "é"],
)
def test_rename_rejects_invalid_names_and_keeps_the_old_one(svc: SessionService, bad: str) -> None:
    meta = seed(svc.repo, "hello", name="keep-me")
    with pytest.raises(InvalidName) as info:
        svc.rename(meta.id, bad)
    assert "\x1b" not in info.value.user_message()
    assert svc.repo.get(meta.id).name == "keep-me"


# --------------------------------------------------------------------------- archive / delete


def test_archive_and_unarchive(svc: SessionService) -> None:
    meta = seed(svc.repo, "hello", name="arch")
    assert svc.archive("arch").status is SessionStatus.ARCHIVED
    assert svc.list_sessions().sessions == []
    assert ids(svc.list_sessions(status="archived").sessions) == [meta.id]
    assert svc.unarchive(meta.id[:5]).status is SessionStatus.ACTIVE
    assert ids(svc.list_sessions().sessions) == [meta.id]


def test_delete_removes_only_the_named_session(svc: SessionService) -> None:
    doomed = seed(svc.repo, "doomed", name="doomed")
    kept = seed(svc.repo, "kept")
    result = svc.delete("doomed")
    assert result.metadata.id == doomed.id
    assert not svc.repo.exists(doomed.id)
    assert ids(svc.list_sessions(status="all").sessions) == [kept.id]
    with pytest.raises(SessionNotFound):
        svc.delete(doomed.id)
