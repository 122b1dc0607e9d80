"""SessionService: damaged sessions it repairs or reports, and operations stopped when asked,
against the file store and the in-memory one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.session.models import utc_now
from chatcli.session.search import SearchOptions, SearchQuery, scan_all
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import at, ids, seed, write_corpus

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
