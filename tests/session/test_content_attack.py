"""The content index under attack: odd queries and scripts, an index damaged or left by an older
chatcli, other processes changing sessions between searches; it must keep agreeing with the
reference scan (:func:`chatcli.session.search.scan_all`), below and above the exact threshold."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatcli.session.models import Message
from chatcli.session.repository import InMemoryRepository
from chatcli.session.search import InvalidQuery, SearchQuery
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository, content_index, content_query, content_terms
from chatcli.session.store.index import SCHEMA_VERSION
from chatcli.session.store.index_sync import IndexSync
from tests.helpers import BASE, REPO_ROOT, seed

#: Words of many scripts: accents folded by Python but not by SQLite's unicode61 (Cyrillic й,
#: Greek tonos), marks, CJK, compatibility forms, an underscore.
WORDS = (
    "retry",
    "Café",
    "cafe",
    "naïve",
    "йогурт",
    "Йогурт",
    "иогурт",
    "άλφα",
    "Ἄλφα",
    "αλφα",
    "हिंदी",
    "東京",
    "東京タワー",
    "タワー",
    "大",
    "서울",
    "ǅemal",
    "straße",
    "x²",
    "a",
    "a_b",
    "İstanbul",
    "Ⅻ",
    "token",
    "tokens",
)


def _db(repo: FileRepository) -> sqlite3.Connection:
    return sqlite3.connect(repo.root / ".index" / "sessions.sqlite3")


def _ids(service: SessionService, query: str, **kw: object) -> list[str]:
    return [s.session_id for s in service.search(query, limit=100, **kw).sessions]  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "query"), [("йогурт вкусный", "йогурт"), ("Ελληνικά άλφα", "αλφα")])
def test_accents_of_every_script_are_folded_as_the_reference_folds_them(
    repo: FileRepository, text: str, query: str
) -> None:
    meta = seed(repo, text)
    assert _ids(SessionService(repo), query) == [meta.id]
    hit = SessionService(repo).search(query).hits[0]
    assert hit.snippet == text  # shown as written, not folded


def test_a_hit_whose_message_row_is_gone_falls_back_to_reading_the_files(repo: FileRepository) -> None:
    meta = seed(repo, "quokka words")
    svc = SessionService(repo)
    svc.search("quokka")
    conn = _db(repo)
    conn.execute("DELETE FROM content")  # the words are left, their messages gone
    conn.commit()
    conn.close()
    result = svc.search("quokka", every_hit=True)  # no KeyError
    assert [s.session_id for s in result.sessions] == [meta.id]


def test_rows_left_in_a_new_sessions_range_do_not_cost_the_index(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(repo, "numbat one")
    last = seed(repo, "numbat two", when=BASE + timedelta(hours=1))
    svc = SessionService(repo)
    svc.search("numbat")
    conn = _db(repo)
    conn.execute("DELETE FROM content_state WHERE session = ?", (last.id,))  # its rows stay
    conn.commit()
    conn.close()
    dropped: list[bool] = []
    monkeypatch.setattr(IndexSync, "replace_damaged", lambda self: dropped.append(True))
    assert svc.search("numbat").sessions_matched == 2
    assert dropped == []  # the index was kept, not thrown away and rebuilt
    repo.append_message(last.id, Message(role="user", content="numbat three"))
    assert svc.search("numbat", every_hit=True).total_hits == 3


_TS = "2024-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("INSERT INTO content_state VALUES ('gone', 99, 1, 0, 0, 0, 'x')", "not listed"),
        ("INSERT INTO content_pending VALUES ('unknown')", "not listed"),
        (f"INSERT INTO content (id, role, ts) VALUES ((500 << 32) | 1, 'user', '{_TS}')", "unknown session"),
        ("INSERT INTO content_words (rowid, body) VALUES ((1 << 32) | 9, 'ghost')", "does not list"),
        (f"INSERT INTO content (id, role, ts) VALUES ((1 << 32) | 77, 'user', '{_TS}')", "missing"),
    ],
)
def test_doctor_reports_stray_content_rows_and_repair_clears_them(
    repo: FileRepository, damage: str, said: str
) -> None:
    seed(repo, "wallaby words")
    svc = SessionService(repo)
    svc.search("wallaby")
    conn = _db(repo)
    conn.executescript(damage)
    conn.commit()
    conn.close()
    problems = repo.index_problems()
    assert any(said in problem for problem in problems), problems
    assert not any("stale" in problem for problem in problems), problems  # no transcript changed
    result = svc.search("wallaby")
    assert result.sessions_matched == 1 and result.warnings == []
    repo.check(repair=True)
    assert repo.index_problems() == []


def test_an_index_of_an_older_schema_is_rebuilt_without_a_word(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    meta = seed(repo, "bilby старый")
    SessionService(repo).search("bilby")
    repo.close()
    conn = sqlite3.connect(tmp_path / "s" / ".index" / "sessions.sqlite3")
    conn.executescript("DELETE FROM content; PRAGMA user_version = 6;")
    conn.close()
    again = FileRepository(tmp_path / "s")
    result = SessionService(again).search("старыи")  # й folded: found only in the new schema
    assert [s.session_id for s in result.sessions] == [meta.id] and result.warnings == []
    conn = sqlite3.connect(tmp_path / "s" / ".index" / "sessions.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()
    assert again.index_problems() == []


# ---------------------------------------------------------------------------- against the scan


def _stores() -> Iterator[tuple[FileRepository, InMemoryRepository]]:
    with tempfile.TemporaryDirectory(prefix="chatcli-attack-") as tmp:
        yield FileRepository(Path(tmp) / "s", lock_timeout=2.0), InMemoryRepository()


#: With words that share a prefix (a prefix* is searched as the words it starts).
_WORDS = (*WORDS, "kube", "kubectl", "kubernetes", "kubelet", "ku", "Kubernetes-kubelet")
_text = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5).map(" ".join)
_corpus = st.lists(st.lists(_text, min_size=1, max_size=3), min_size=1, max_size=5)
_term = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(_WORDS).map(lambda w: w[: max(len(w) - 2, 1)] + "*"),
    st.sampled_from(["k*", "KU*", "kube*", "kubern*", "to*", "caf*", "zz*", '"ku kube"*', '"retry k"*']),
    st.lists(st.sampled_from(_WORDS), min_size=2, max_size=2).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(_WORDS).map(lambda w: f'"{w}"*'),
)
_query = st.lists(_term, min_size=1, max_size=3).map(" ".join)


def _fill(repos: tuple[FileRepository, InMemoryRepository], corpus: list[list[str]]) -> None:
    for number, texts in enumerate(corpus):
        messages = [
            Message(
                role="user" if turn % 2 == 0 else "assistant",
                content=text,
                timestamp=BASE + timedelta(minutes=number, seconds=turn),
            )
            for turn, text in enumerate(texts)
        ]
        for repo in repos:
            seed(repo, messages=messages, session_id=f"00000000-0000-4000-8000-{number:012d}")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    corpus=_corpus,
    queries=st.lists(_query, min_size=1, max_size=4),
    exact=st.sampled_from([10_000, 1]),
    most_words=st.sampled_from([64, 2]),
)
def test_the_index_agrees_with_the_scan_on_any_corpus_and_query(
    corpus: list[list[str]], queries: list[str], exact: int, most_words: int
) -> None:
    """Below and above the exact threshold; a prefix searched as the words it starts, or (more
    than ``most_words`` of them) left to FTS5."""
    for file_repo, memory in _stores():
        _fill((file_repo, memory), corpus)
        indexed, scanned = SessionService(file_repo), SessionService(memory)
        saved = content_query.EXACT_HITS, content_terms.MAX_WORDS
        content_query.EXACT_HITS, content_terms.MAX_WORDS = exact, most_words
        try:
            for query in queries:
                try:
                    SearchQuery.parse(query)
                except InvalidQuery:
                    continue
                _agree(indexed, scanned, query)
        finally:
            content_query.EXACT_HITS, content_terms.MAX_WORDS = saved
            file_repo.close()


def _agree(indexed: SessionService, scanned: SessionService, query: str) -> None:
    limit = 2
    want = scanned.search(query, limit=100, every_hit=True)
    got = indexed.search(query, limit=limit, every_hit=True)
    shape = [(s.session_id, s.hit_count, [h.message_index for h in s.hits]) for s in want.sessions]
    assert [(s.session_id, s.hit_count, [h.message_index for h in s.hits]) for s in got.sessions] == shape[
        :limit
    ], query
    if got.counted:
        assert (got.total_hits, got.sessions_matched) == (want.total_hits, want.sessions_matched), query
    else:
        assert got.sessions_matched <= want.sessions_matched and got.total_hits >= 1, query


# ---------------------------------------------------------------------------- another process

_WRITER = """
import sys
from chatcli.session.models import Message
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
repo = FileRepository(sys.argv[1], lock_timeout=5.0)
svc = SessionService(repo)
ids = sys.argv[2:]
for n in range(30):
    sid = ids[n % len(ids)]
    if n % 10 == 9:
        svc.delete(sid)
        ids.remove(sid)
    elif n % 3 == 2:
        svc.rename(sid, f"dingo-{n}")
    else:
        repo.append_message(sid, Message(role="assistant", content=f"dingo reply {n}"))
"""


def _scanned(root: Path, monkeypatch: pytest.MonkeyPatch, query: str) -> list[tuple[str, int]]:
    """What reading every transcript finds (a store whose SQLite has no FTS5)."""
    with monkeypatch.context() as patch:
        patch.setattr(content_index, "fts5_available", lambda conn: False)
        plain = FileRepository(root, lock_timeout=5.0)
        try:
            result = SessionService(plain).search(query, limit=100)
        finally:
            plain.close()
    return [(s.session_id, s.hit_count) for s in result.sessions]


def test_searches_while_another_process_appends_renames_and_deletes(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [seed(repo, f"dingo {n}", when=BASE + timedelta(hours=n)).id for n in range(4)]
    svc = SessionService(repo)
    svc.search("dingo")
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(repo.root), *ids], cwd=REPO_ROOT)
    try:
        while writer.poll() is None:
            result = svc.search("dingo", every_hit=True)
            for session in result.sessions:  # every hit shown is a real match
                assert all("dingo" in hit.snippet.lower() for hit in session.hits)
            assert all("not found" not in warning for warning in result.warnings), result.warnings
    finally:
        assert writer.wait(timeout=60) == 0
    final = svc.search("dingo", limit=100)
    assert [(s.session_id, s.hit_count) for s in final.sessions] == _scanned(repo.root, monkeypatch, "dingo")
    assert repo.index_problems() == []


def test_a_session_deleted_after_a_writer_was_seen_holding_it_is_no_warning(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = seed(repo, "dingo gone")
    kept = seed(repo, "dingo kept", when=BASE + timedelta(hours=1))
    svc = SessionService(repo)
    svc.search("dingo")
    synced = IndexSync.synced

    def held_then_deleted(self: IndexSync) -> object:
        """As when the sync saw ``gone``'s writer at work and it then deleted the session."""
        found = synced(self)
        if found is not None:
            found.overrides.append(gone)
            found.untrusted.add(gone.id)
        return found

    svc.delete(gone.id, permanent=True)
    monkeypatch.setattr(IndexSync, "synced", held_then_deleted)
    result = svc.search("dingo")
    assert [s.session_id for s in result.sessions] == [kept.id] and result.warnings == []


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE sessions SET last_active = '9999-99-99'",
        "UPDATE content SET ts = 'not a time'",
        "UPDATE content_state SET seq = seq * 1000000000000",
    ],
    ids=["row-time", "message-time", "session-number"],
)
def test_a_value_in_the_index_that_cannot_be_read_is_a_damaged_index_not_an_error(
    tmp_path: Path, damage: str
) -> None:
    repo = FileRepository(tmp_path / "s")
    meta = seed(repo, "an ocelot here", replies=["ocelot again"])
    svc = SessionService(repo)
    assert svc.search("ocelot").sessions_matched == 1
    conn = sqlite3.connect(repo.root / ".index" / "sessions.sqlite3")
    conn.execute(damage)
    conn.commit()
    conn.close()
    for sort in ("recent", "relevance"):
        result = SessionService(FileRepository(tmp_path / "s")).search("ocelot", sort=sort, every_hit=True)
        assert [s.session_id for s in result.sessions] == [meta.id]
        assert result.total_hits == 2
