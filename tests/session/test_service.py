"""SessionService: every session-management rule, against the file store and the in-memory one."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from chatcli.session.errors import (
    AmbiguousId,
    InvalidName,
    SessionAlreadyExists,
    SessionError,
    SessionNotFound,
)
from chatcli.session.models import Message, SessionMetadata, SessionStatus, utc_now
from chatcli.session.repository import SessionFilter, SessionList, SessionRepository
from chatcli.session.search import InvalidQuery, SearchOptions, SearchQuery, scan_all
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import TEST_LOCK_TIMEOUT, at, seed, write_corpus


@pytest.fixture
def svc(any_repo: SessionRepository) -> SessionService:
    """A service on either repository."""
    return SessionService(any_repo)


@pytest.fixture
def file_svc(repo: FileRepository) -> SessionService:
    """A service on the file store (for import/export, snapshots and repairs)."""
    return SessionService(repo)


def ids(sessions: list[SessionMetadata]) -> list[str]:
    """The ids of ``sessions`` in order."""
    return [m.id for m in sessions]


def messages_of(service: SessionService, session_id: str) -> list[tuple[str, str, str, str]]:
    """(role, content, timestamp, id) of every message: what an import must reproduce exactly."""
    transcript = service.repo.load_messages(session_id)
    return [(m.role, m.content, m.timestamp.isoformat(), m.id) for m in transcript.messages]


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


# --------------------------------------------------------------------------- export


def test_export_json_document(svc: SessionService) -> None:
    meta = seed(svc.repo, "question", replies=["answer"], name="js")
    doc = json.loads(svc.export(meta.id))
    assert doc["format"] == "chatcli-session"
    assert doc["version"] == 1
    assert doc["session"]["id"] == meta.id
    assert doc["session"]["name"] == "js"
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant"]
    assert [m["content"] for m in doc["messages"]] == ["question", "answer"]


# --------------------------------------------------------------------------- import


def test_json_export_round_trips_into_an_empty_folder(file_svc: SessionService, tmp_path: Path) -> None:
    meta = seed(
        file_svc.repo,
        'Unicode ✓ and "quotes"\nand lines',
        when=at(0),
        replies=["first reply", "second\treply"],
        name="round-trip",
    )
    file_svc.append(meta.id, Message(role="assistant", content="cut", interrupted=True))
    file_svc.archive(meta.id)
    export = tmp_path / "export.json"
    export.write_text(file_svc.export(meta.id), encoding="utf-8")

    target = SessionService(FileRepository(tmp_path / "elsewhere", lock_timeout=TEST_LOCK_TIMEOUT))
    result = target.import_file(export)
    assert result.skipped == []
    assert result.notes == []
    assert ids(result.imported) == [meta.id]
    assert messages_of(target, meta.id) == messages_of(file_svc, meta.id)
    assert [m.interrupted for m in target.repo.load_messages(meta.id).messages] == [
        False,
        False,
        False,
        True,
    ]
    copied = target.repo.get(meta.id)
    original = file_svc.repo.get(meta.id)
    assert copied.name == "round-trip"
    assert copied.status is SessionStatus.ARCHIVED
    assert copied.created == original.created
    assert copied.last_active == original.last_active
    assert copied.first_message == original.first_message
    assert copied.message_count == 4


def test_import_a_json_array_of_exports(file_svc: SessionService, tmp_path: Path) -> None:
    one = seed(file_svc.repo, "one", when=at(0))
    two = seed(file_svc.repo, "two", when=at(1), name="two")
    docs = [json.loads(file_svc.export(m.id)) for m in (one, two)]
    path = tmp_path / "array.json"
    path.write_text(json.dumps(docs), encoding="utf-8")

    target = SessionService(FileRepository(tmp_path / "elsewhere", lock_timeout=TEST_LOCK_TIMEOUT))
    result = target.import_file(path)
    assert sorted(ids(result.imported)) == sorted([one.id, two.id])
    assert result.skipped == []
    assert ids(target.list_sessions().sessions) == [two.id, one.id]
    assert target.resolve("two").id == two.id


def test_import_the_json_lines_corpus(file_svc: SessionService, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 30, 3)
    assert len(records) == 30

    result = file_svc.import_file(corpus)
    assert result.skipped == []
    assert result.notes == []
    assert len(result.imported) == 30
    listing = {m.id: m for m in file_svc.list_sessions(status="all").sessions}
    assert set(listing) == {r["id"] for r in records}
    for record in records:
        meta = listing[str(record["id"])]
        assert meta.name == record["name"]
        assert meta.status.value == record["status"]
        raw_messages = record["messages"]
        assert isinstance(raw_messages, list)
        assert meta.message_count == len(raw_messages) == 6
        assert meta.first_message == raw_messages[0]["content"]
        loaded = file_svc.repo.load_messages(meta.id).messages
        assert [(m.role, m.content) for m in loaded] == [(m["role"], m["content"]) for m in raw_messages]
    # Importing the same corpus again changes nothing and reports every session as already there.
    before = {sid: messages_of(file_svc, sid) for sid in listing}
    again = file_svc.import_file(corpus)
    assert again.imported == [] and again.skipped == []
    assert sorted(again.existing) == sorted(listing)
    assert {sid: messages_of(file_svc, sid) for sid in listing} == before


def test_import_never_overwrites_an_existing_id(file_svc: SessionService, tmp_path: Path) -> None:
    existing = seed(file_svc.repo, "the original", replies=["original reply"], name="orig")
    doc = json.loads(file_svc.export(existing.id))
    doc["messages"] = [{"role": "user", "content": "an impostor"}]
    doc["session"]["name"] = "impostor"
    newcomer = {
        "id": "0c0c0c0c-0000-4000-8000-000000000000",
        "messages": [{"role": "user", "content": "new"}],
    }
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([doc, newcomer]), encoding="utf-8")
    before = messages_of(file_svc, existing.id)

    result = file_svc.import_file(path)
    assert result.existing == [existing.id] and result.skipped == []
    assert ids(result.imported) == [newcomer["id"]]
    assert messages_of(file_svc, existing.id) == before
    assert file_svc.repo.get(existing.id).name == "orig"


def test_reimporting_a_named_session_says_nothing_about_its_name(
    file_svc: SessionService, tmp_path: Path
) -> None:
    existing = seed(file_svc.repo, "hello", name="named")
    path = tmp_path / "same.json"
    path.write_text(file_svc.export(existing.id), encoding="utf-8")
    result = file_svc.import_file(path)
    assert result.imported == []
    assert result.existing == [existing.id]
    # It was not imported, so no note may claim it was "imported without a name".
    assert result.notes == []


def test_import_skips_bad_records_and_imports_the_rest(file_svc: SessionService, tmp_path: Path) -> None:
    good = {
        "id": "11111111-0000-4000-8000-000000000001",
        "name": "good",
        "status": "active",
        "messages": [{"role": "user", "content": "fine", "timestamp": "2025-01-01T00:00:00Z"}],
    }
    lines = [
        json.dumps(good),
        "{this is not json",
        json.dumps({"id": "22222222-0000-4000-8000-000000000002", "messages": "not a list"}),
        json.dumps(
            {"id": "33333333-0000-4000-8000-000000000003", "messages": [{"role": "robot", "content": "x"}]}
        ),
        json.dumps({"id": "44444444-0000-4000-8000-000000000004", "status": "bogus", "messages": []}),
        json.dumps(["not", "an", "object"]),
        "",
        json.dumps(
            {"id": "55555555-0000-4000-8000-000000000005", "messages": [{"role": "user", "content": "ok"}]}
        ),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = file_svc.import_file(path)
    assert ids(result.imported) == [good["id"], "55555555-0000-4000-8000-000000000005"]
    skipped = dict(result.skipped)
    assert set(skipped) == {"record 2", "record 3", "record 4", "record 5", "record 6"}
    assert "not valid JSON" in skipped["record 2"]
    assert "messages" in skipped["record 3"]
    assert "message is invalid" in skipped["record 4"]
    assert "status" in skipped["record 5"]
    assert "not a JSON object" in skipped["record 6"]
    assert file_svc.resolve("good").id == good["id"]


def test_import_gives_a_new_id_to_a_non_uuid_and_drops_a_taken_name(
    file_svc: SessionService, tmp_path: Path
) -> None:
    holder = seed(file_svc.repo, "holder", name="taken")
    records = [
        {"id": "not-a-uuid", "name": "fresh", "messages": [{"role": "user", "content": "first"}]},
        {
            "id": "66666666-0000-4000-8000-000000000006",
            "name": "TAKEN",
            "messages": [{"role": "user", "content": "x"}],
        },
    ]
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    result = file_svc.import_file(path)
    assert result.skipped == []
    assert len(result.imported) == 2
    renamed, unnamed = result.imported
    assert renamed.id != "not-a-uuid"
    assert file_svc.resolve("fresh").id == renamed.id
    assert unnamed.id == "66666666-0000-4000-8000-000000000006"
    assert file_svc.repo.get(unnamed.id).name is None
    assert file_svc.resolve("taken").id == holder.id
    assert len(result.notes) == 2
    assert "not-a-uuid" in result.notes[0] and renamed.id in result.notes[0]
    assert "TAKEN" in result.notes[1] and "without a name" in result.notes[1]


@pytest.mark.parametrize("content", ["", "\n\n", "[1, 2", "42"])
def test_import_of_a_file_with_no_sessions(file_svc: SessionService, tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = file_svc.import_file(path)
    assert result.imported == []
    if content == "[1, 2":  # streamed: each item is skipped as it comes, then the cut is reported
        assert [reason for _, reason in result.skipped][:2] == ["not a JSON object"] * 2
        assert "not valid JSON" in result.skipped[-1][1]
    else:
        assert len(result.skipped) == 1
    assert file_svc.list_sessions(status="all").sessions == []


def test_import_of_a_missing_file(file_svc: SessionService, tmp_path: Path) -> None:
    with pytest.raises(SessionError) as info:
        file_svc.import_file(tmp_path / "missing.json")
    assert info.value.kind == "input_file"
    assert info.value.exit_code == 1
    assert "missing.json" in info.value.user_message()
    with pytest.raises(SessionError) as folder:
        file_svc.import_file(tmp_path)
    assert "folder" in folder.value.user_message()


# --------------------------------------------------------------------------- load and repair


@pytest.mark.parametrize("how", ["id", "prefix"])
def test_load_repairs_corrupted_metadata(repo: FileRepository, how: str) -> None:
    service = SessionService(repo)
    meta = seed(repo, "question", replies=["answer"], name="fixme", archived=False)
    (repo.root / meta.id / "metadata.json").write_text('{"id": "truncated', encoding="utf-8")

    loaded = service.load(meta.id if how == "id" else meta.id[:8])
    assert loaded.metadata.id == meta.id
    assert [m.content for m in loaded.messages] == ["question", "answer"]
    assert loaded.warnings
    assert any("rebuilt" in w for w in loaded.warnings)
    # The repaired session is usable again and listed; the bad file was kept aside.
    assert service.show(meta.id).total_messages == 2
    assert ids(service.list_sessions().sessions) == [meta.id]
    assert list((repo.root / ".quarantine").iterdir())


def test_corrupted_session_is_reported_not_hidden_by_list(repo: FileRepository) -> None:
    service = SessionService(repo)
    good = seed(repo, "good")
    bad = seed(repo, "bad")
    (repo.root / bad.id / "metadata.json").write_text("not json", encoding="utf-8")
    result = service.list_sessions()
    assert ids(result.sessions) == [good.id]
    assert len(result.problems) == 1
    assert bad.id in str(result.problems[0])


def test_search_stops_when_asked_and_says_it_was_cut(svc: SessionService) -> None:
    """The scan (what a search is without the content index) asks before each session."""
    for i in range(5):
        seed(svc.repo, f"needle {i}", when=at(i))
    asked: list[int] = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    query = SearchQuery.parse("needle")
    briefs = svc.repo.iter_briefs(None)
    cut = scan_all(query, briefs, svc.repo.iter_transcript, SearchOptions(should_stop=stop_after_two))
    assert [h.snippet for h in cut.hits] == ["needle 4", "needle 3"]
    assert cut.truncated and cut.sessions_searched == 2
    whole = svc.search("needle", should_stop=lambda: False)
    assert len(whole.hits) == 5 and not whole.truncated


def test_prune_stops_when_asked_and_keeps_the_rest(svc: SessionService) -> None:
    now = utc_now()
    old = [seed(svc.repo, f"old {i}", when=now - timedelta(days=40 + i)) for i in range(5)]
    candidates = svc.prune_candidates(timedelta(days=30))
    asked: list[int] = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    done = svc.prune(candidates, should_stop=stop_after_two)
    assert len(done.sessions) == 2 and done.not_reached == 3 and done.failures == []
    left = set(ids(svc.list_sessions(status="all").sessions))
    assert left == {m.id for m in old} - set(ids(done.sessions)) and len(left) == 3


def test_import_stops_when_asked_and_says_where(file_svc: SessionService, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = write_corpus(corpus, 10, 2)
    asked: list[int] = []

    def stop_after_three() -> bool:
        asked.append(1)
        return len(asked) > 3

    result = file_svc.import_file(corpus, should_stop=stop_after_three)
    assert [m.id for m in result.imported] == [r["id"] for r in records[:3]]
    assert result.notes == ["cancelled: record 4 and the rest were not imported"]
    assert len(file_svc.list_sessions(status="all").sessions) == 3
