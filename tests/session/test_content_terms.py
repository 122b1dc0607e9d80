"""The content index's words (``content_terms``): a ``prefix*`` is searched as the indexed words
it starts, so every write path must keep them, they must be the words FTS5 and the reference
matcher see, and an index that lost some falls back to reading the files."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatcli.session import transfer
from chatcli.session.models import Message
from chatcli.session.search import SearchQuery, fold
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository, content_query, content_terms
from tests.helpers import BASE, chatcli, seed

TEXTS = (
    "kubectl apply -f pod.yaml",
    "Kubernetes: the kubelet restarted (kube-proxy too)",
    "Café naïve KUBE_CONFIG x²",
    "東京タワー kubernetes",
    "йогурт и Йогурт, straße",
)


def _reference_words(texts: list[str]) -> set[str]:
    return {word for text in texts for word in re.findall(r"[^\W_]+", fold(text))}


def _words(repo: FileRepository) -> set[str]:
    return {str(row[0]) for row in repo._sync.index._query("SELECT term FROM content_terms")}


def _body(text: str) -> str:
    return text if text.isascii() else fold(text)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(), max_size=4))
def test_the_words_kept_are_the_reference_matchers_words(texts: list[str]) -> None:
    assert content_terms.words_of([_body(t) for t in texts]) == _reference_words(texts)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_words_of_ascii_text_are_fts5s_tokens(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, row)")
    conn.execute("INSERT INTO t (body) VALUES (?)", (text,))
    assert {str(row[0]) for row in conn.execute("SELECT term FROM v")} == content_terms.words_of([text])


def test_every_write_path_keeps_the_words_of_what_it_indexes(tmp_path: Path) -> None:
    appended = FileRepository(tmp_path / "appended")
    meta = seed(appended, TEXTS[0])
    for text in TEXTS[1:]:
        appended.append_message(meta.id, Message(role="assistant", content=text))
    SessionService(appended).search("pod")
    assert _words(appended) == _reference_words(list(TEXTS))
    corpus = tmp_path / "c.jsonl"
    at = "2025-03-01T10:00:00Z"
    record = {"messages": [{"role": "user", "content": text, "timestamp": at} for text in TEXTS]}
    corpus.write_text(json.dumps(record) + "\n", encoding="utf-8")
    imported = FileRepository(tmp_path / "imported")
    assert len(transfer.import_sessions(imported, corpus).imported) == 1
    assert _words(imported) == _reference_words(list(TEXTS))
    assert imported.rebuild_index() == 1  # read back from the files
    SessionService(imported).search("pod")
    assert _words(imported) == _reference_words(list(TEXTS))


def test_a_prefix_becomes_the_words_it_starts_or_is_left_to_fts5_when_they_are_many(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(repo, TEXTS[0], replies=TEXTS[1:])
    svc = SessionService(repo)
    assert svc.search("kub*").total_hits == 4
    index = repo._sync.index
    with index.reading() as conn:
        match = content_query._match(conn, SearchQuery.parse('kube* "the kub"* yaml'))
        assert match.words == (
            '("kube" OR "kubectl" OR "kubelet" OR "kubernetes") AND '
            '("the kube" OR "the kubectl" OR "the kubelet" OR "the kubernetes") AND "yaml"'
        )
        assert not match.merged
        assert content_query._match(conn, SearchQuery.parse("zebra* kub*")).words == ""
        monkeypatch.setattr(content_terms, "MAX_WORDS", 3)
        assert content_query._match(conn, SearchQuery.parse("kub*")) == ('"kub" *', [], True)
    assert svc.search("kub*").total_hits == 4  # the same hits, left to FTS5


def test_an_index_that_lost_words_its_messages_hold_falls_back_to_the_files(tmp_path: Path) -> None:
    root = tmp_path / "s"
    repo = FileRepository(root)
    ids = [seed(repo, TEXTS[n], when=BASE + timedelta(hours=n)).id for n in range(2)]
    assert len(SessionService(repo).search("kub*").sessions) == 2
    repo.close()
    conn = sqlite3.connect(root / ".index" / "sessions.sqlite3")
    conn.execute("DELETE FROM content_terms")
    conn.commit()
    conn.close()
    found = chatcli(["sessions", "--sessions-dir", str(root), "search", "kub*", "--json"], cwd=tmp_path)
    assert found.code == 0 and "Unexpected" not in found.err, found
    assert sorted(s["session_id"] for s in json.loads(found.out)["sessions"]) == sorted(ids)
    again = FileRepository(root)
    assert len(SessionService(again).search("kub*").sessions) == 2
    assert "kubectl" in _words(again)  # the index was replaced and rebuilt from the files


def test_doctor_reports_words_the_index_lost_and_repair_brings_them_back(tmp_path: Path) -> None:
    """Some words lost (not all: a prefix that starts none is checked at search time) make a
    ``prefix*`` miss the messages holding them; ``doctor`` says so and ``--repair`` rebuilds."""
    root = tmp_path / "s"
    repo = FileRepository(root)
    seed(repo, TEXTS[0], replies=TEXTS[1:])
    assert SessionService(repo).search("kub*").total_hits == 4
    long_word = seed(repo, "a word longer than FTS5 keeps: " + "x" * 40_000, when=BASE + timedelta(hours=1))
    assert [s.session_id for s in SessionService(repo).search("xxxx*").sessions] == [long_word.id]
    assert repo.index_problems() == []  # FTS5 keeps its first 32,768 bytes: no word lost
    conn = sqlite3.connect(root / ".index" / "sessions.sqlite3")
    conn.execute("DELETE FROM content_terms WHERE term IN ('kubectl', 'straße')")
    conn.commit()
    conn.close()
    doctor = chatcli(["sessions", "--sessions-dir", str(root), "doctor", "--json"], cwd=tmp_path)
    findings = json.loads(doctor.out)["findings"]
    assert "lacks 1 word(s)" in json.dumps(findings), doctor
    repo.check(repair=True)
    assert repo.index_problems() == []
    assert SessionService(repo).search("kub*").total_hits == 4
    assert "kubectl" in _words(repo)
