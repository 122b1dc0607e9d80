"""The content index (SQLite FTS5) behind ``sessions search``: it agrees with the reference scan,
is kept in step by every write, is checked and rebuilt by the doctor, and is optional (without
FTS5 a search reads every transcript and says so once)."""

from __future__ import annotations

import os
import random
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.session.models import Message
from chatcli.session.repository import InMemoryRepository
from chatcli.session.search import InvalidQuery, SearchQuery
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository, content_index, content_query
from chatcli.session.store.content_search import BROAD_RELEVANCE, NO_FTS5
from chatcli.session.store.layout import CONVERSATION_FILE
from tests.helpers import BASE, seed

WORDS = [
    "retry",
    "backoff",
    "token",
    "tokens",
    "tokenizer",
    "café",
    "Café",
    "naïve",
    "resume",
    "docker",
    "Docker-compose",
    "東京タワー",
    "東京",
    "大阪",
    "서울에서",
    "ภาษาไทย",
    "the",
    "a",
    "of",
    "deploy",
    "queue",
    "worker",
]
QUERIES = (
    "retry",
    "cafe",
    "CAFÉ",
    "naive",
    "token",
    "token*",
    "tok*",
    '"retry backoff"',
    '"backoff retry"',
    "docker compose",
    '"docker compose"',
    "東京",
    "タワー",
    "大",
    "서울",
    "ไทย",
    "retry token*",
    "zzz",
)


def _corpus(repos: list[FileRepository | InMemoryRepository], sessions: int = 30) -> None:
    rng = random.Random(5)
    for number in range(sessions):
        messages = [
            Message(
                role="user" if turn % 2 == 0 else "assistant",
                content=" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))),
                timestamp=BASE + timedelta(minutes=number, seconds=turn),
            )
            for turn in range(rng.randint(1, 6))
        ]
        sid = f"00000000-0000-4000-8000-{number:012d}"
        for repo in repos:
            seed(repo, messages=messages, session_id=sid)


def _shape(service: SessionService, query: str) -> tuple[int, int, list[tuple[str, int, list[int]]]]:
    result = service.search(query, limit=1000, every_hit=True)
    rows = [(s.session_id, s.hit_count, [h.message_index for h in s.hits]) for s in result.sessions]
    return result.total_hits, result.sessions_matched, rows


def test_the_index_agrees_with_the_reference_scan(repo: FileRepository) -> None:
    memory = InMemoryRepository()
    _corpus([repo, memory])
    indexed, scanned = SessionService(repo), SessionService(memory)
    found_any = False
    for query in QUERIES:
        got = _shape(indexed, query)
        assert got == _shape(scanned, query), query
        found_any = found_any or got[0] > 0
        assert indexed.search(query).notice is None  # served by the index, not a scan
    assert found_any


def test_words_phrases_prefixes_accents_and_unspaced_scripts(repo: FileRepository) -> None:
    a = seed(repo, "Ça marche: the café is naïve", replies=["東京タワーに行きました"])
    seed(repo, "tokens everywhere, retry later", when=BASE + timedelta(hours=1))
    svc = SessionService(repo)

    def ids(query: str) -> list[str]:
        return [s.session_id for s in svc.search(query).sessions]

    assert ids("CAFE naive") == [a.id]
    assert ids('"cafe is naive"') == [a.id]
    assert ids('"naive cafe"') == []
    assert ids("token") == []
    assert len(ids("token*")) == 1
    assert ids("タワー") == [a.id] and ids("東京") == [a.id]


@pytest.mark.parametrize(
    "text",
    ['"unclosed', "*", '""', "!!!", "   "],
)
def test_a_malformed_query_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidQuery):
        SearchQuery.parse(text)


@pytest.mark.parametrize("text", ["a OR b", "NEAR(a b)", "body:a", "^a", "a AND", "(a", "a-b", "a+b", "'a'"])
def test_fts5_syntax_in_a_query_is_only_text(repo: FileRepository, text: str) -> None:
    seed(repo, "a b c")
    SessionService(repo).search(text)  # never an sqlite3 error


def test_an_append_is_indexed_in_the_same_step(repo: FileRepository) -> None:
    meta = seed(repo, "first words")
    svc = SessionService(repo)
    assert svc.search("first").sessions_matched == 1  # the session is indexed
    repo.append_message(meta.id, Message(role="assistant", content="an appended zebra"))
    conn = sqlite3.connect(repo.root / ".index" / "sessions.sqlite3")
    rows = conn.execute("SELECT body FROM content_words WHERE content_words MATCH 'zebra'").fetchall()
    conn.close()
    assert rows == [("an appended zebra",)]
    result = svc.search("zebra", every_hit=True)
    assert [h.message_index for h in result.hits] == [1]


def test_a_deleted_session_leaves_at_once_and_a_hand_edit_after_doctor_repair(repo: FileRepository) -> None:
    keep = seed(repo, "the old words", replies=["more old words"])
    gone = seed(repo, "old words too", when=BASE + timedelta(hours=1))
    svc = SessionService(repo)
    assert svc.search("old").sessions_matched == 2
    path = repo.root / keep.id / CONVERSATION_FILE
    line = Message(role="user", content="brand new text", timestamp=BASE).to_line()
    path.write_text(line + "\n", encoding="utf-8")  # rewritten by hand
    repo.delete(gone.id)  # chatcli's own change: the next search knows at once
    assert svc.search("old").sessions_matched == 1
    # A hand edit is the doctor's: reported as stale, and repaired.
    assert any("stale" in problem for problem in repo.index_problems())
    repo.check(repair=True)
    assert repo.index_problems() == []
    assert svc.search("old").sessions_matched == 0
    assert [s.session_id for s in svc.search("brand").sessions] == [keep.id]


def test_sessions_copied_in_are_indexed_by_the_next_search(repo: FileRepository, tmp_path: Path) -> None:
    seed(repo, "already here")
    other = FileRepository(tmp_path / "elsewhere")
    copied = seed(other, "a copied giraffe")
    os.rename(other.root / copied.id, repo.root / copied.id)
    assert [s.session_id for s in SessionService(repo).search("giraffe").sessions] == [copied.id]


def test_doctor_reports_a_damaged_content_index_and_repair_rebuilds_it(repo: FileRepository) -> None:
    meta = seed(repo, "a doctor checks the content")
    svc = SessionService(repo)
    svc.search("doctor")
    conn = sqlite3.connect(repo.root / ".index" / "sessions.sqlite3")
    (seq,) = conn.execute("SELECT seq FROM content_state WHERE session = ?", (meta.id,)).fetchone()
    conn.execute("DELETE FROM content WHERE id >> 32 = ?", (seq,))
    conn.commit()
    conn.close()
    report = repo.check()
    assert not report.healthy
    assert any("content index of session" in " ".join(f.problems) for f in report.findings), report.findings
    repaired = repo.check(repair=True)
    assert any("rebuilt the index" in " ".join(f.actions) for f in repaired.findings), repaired.findings
    assert repo.check().healthy
    assert svc.search("doctor").sessions_matched == 1


def test_without_fts5_a_search_reads_the_transcripts_and_says_so_once(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(content_index, "fts5_available", lambda conn: False)
    seed(repo, "no index here", replies=["index again"])
    seed(repo, "index elsewhere", when=BASE + timedelta(hours=1))
    result = SessionService(repo).search("index", every_hit=True)
    assert result.notice == NO_FTS5
    assert (result.total_hits, result.sessions_matched, result.sessions_searched) == (3, 2, 2)
    assert not (repo.root / ".index" / "sessions.sqlite3").exists() or not _has_content(repo)


def _has_content(repo: FileRepository) -> bool:
    conn = sqlite3.connect(repo.root / ".index" / "sessions.sqlite3")
    try:
        return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'content_words'").fetchall())
    finally:
        conn.close()


def test_results_are_one_entry_per_session_with_correct_counts(repo: FileRepository) -> None:
    busy = seed(repo, "token one", replies=["token two", "token three", "token four"])
    seed(repo, "nothing to see", when=BASE + timedelta(hours=1))
    result = SessionService(repo).search("token")
    assert (result.total_hits, result.sessions_matched, result.sessions_searched) == (4, 1, 2)
    assert [(s.session_id, s.hit_count) for s in result.sessions] == [(busy.id, 4)]
    assert len(result.hits) == 1  # the best hit only, unless every hit is asked for
    assert len(SessionService(repo).search("token", every_hit=True).hits) == 4


def test_sort_by_relevance_puts_the_best_match_first(repo: FileRepository) -> None:
    weak = seed(repo, "kiwi " + "filler " * 60, when=BASE + timedelta(hours=2))
    strong = seed(repo, "kiwi kiwi kiwi", when=BASE)
    svc = SessionService(repo)
    assert [s.session_id for s in svc.search("kiwi").sessions] == [weak.id, strong.id]
    assert [s.session_id for s in svc.search("kiwi", sort="relevance").sessions] == [strong.id, weak.id]


def test_the_limit_counts_sessions_and_says_more_match(repo: FileRepository) -> None:
    for hour in range(5):
        seed(repo, "limit me", when=BASE + timedelta(hours=hour))
    result = SessionService(repo).search("limit", limit=2)
    assert len(result.sessions) == 2 and result.sessions_matched == 5 and result.truncated


def test_a_search_with_too_many_hits_to_count_shows_the_newest_sessions(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(content_query, "EXACT_HITS", 4)
    ids = [
        seed(repo, f"wombat {n}", replies=["wombat again"], when=BASE + timedelta(hours=n)).id
        for n in range(6)
    ]
    seed(repo, "nothing here", when=BASE + timedelta(hours=9))
    svc = SessionService(repo)
    result = svc.search("wombat", limit=3)
    assert not result.counted and result.truncated
    assert [s.session_id for s in result.sessions] == ids[::-1][:3]
    assert [s.hit_count for s in result.sessions] == [2, 2, 2]
    assert result.total_hits > 4 and result.sessions_matched >= 3 and result.sessions_searched == 7
    assert result.notice is None
    ranked = svc.search("wombat", limit=3, sort="relevance")
    assert ranked.notice == BROAD_RELEVANCE and ranked.sort == "recent"
    assert [s.session_id for s in ranked.sessions] == ids[::-1][:3]
    every = svc.search("wombat", limit=2, every_hit=True)
    assert [[h.message_index for h in s.hits] for s in every.sessions] == [[0, 1], [0, 1]]
    # A narrower query is counted exactly again.
    assert svc.search("wombat 5").counted


def test_many_hits_in_few_old_sessions_are_still_found_and_counted(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(content_query, "EXACT_HITS", 4)
    monkeypatch.setattr(content_query, "WALK_LIMIT", 3)
    old = seed(repo, "gecko", replies=["gecko"] * 7, when=BASE)
    for n in range(5):
        seed(repo, f"recent {n}", when=BASE + timedelta(days=1, hours=n))
    result = SessionService(repo).search("gecko")
    assert result.counted
    assert (result.total_hits, result.sessions_matched) == (8, 1)
    assert [s.session_id for s in result.sessions] == [old.id]


def test_status_tags_and_sessions_being_written_are_kept_out_of_indexed_hits(repo: FileRepository) -> None:
    active = seed(repo, "otter active")
    archived = seed(repo, "otter archived", archived=True, when=BASE + timedelta(hours=1))
    svc = SessionService(repo)
    assert [s.session_id for s in svc.search("otter", status="archived").sessions] == [archived.id]
    assert [s.session_id for s in svc.search("otter", status="active").sessions] == [active.id]
    svc.tag(active.id, ["zoo"])
    tagged = svc.search("otter", tags=("zoo",))
    assert [s.session_id for s in tagged.sessions] == [active.id] and tagged.sessions_searched == 1


def test_a_session_forgotten_leaves_no_messages_or_number_behind(repo: FileRepository) -> None:
    gone = seed(repo, "lynx one")
    svc = SessionService(repo)
    svc.search("lynx")
    repo.delete(gone.id)
    conn = sqlite3.connect(repo.root / ".index" / "sessions.sqlite3")
    try:
        assert conn.execute("SELECT count(*) FROM content").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM content_state").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM content_pending").fetchone() == (0,)
    finally:
        conn.close()
    again = seed(repo, "lynx two")
    assert [s.session_id for s in svc.search("lynx").sessions] == [again.id]


def test_a_broad_prefix_search_finds_the_newest_sessions_in_one_pass(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(content_query, "EXACT_HITS", 3)
    ids = [seed(repo, f"tapir{n} tapirs", when=BASE + timedelta(hours=n)).id for n in range(5)]
    seed(repo, "no match", when=BASE + timedelta(hours=8))
    result = SessionService(repo).search("tapir*", limit=2)
    assert not result.counted
    assert [(s.session_id, s.hit_count) for s in result.sessions] == [(ids[4], 1), (ids[3], 1)]
