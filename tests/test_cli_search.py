"""``chatcli sessions search`` through the real command line: one row per session with correct
counts, every hit with ``--messages``, ``--sort``, TSV and JSON shaped by the grouping, and a
query that cannot be read refused as a usage error (never an SQLite error)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.session.store import FileRepository
from tests.helpers import BASE, chatcli, seed


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, str, str]:
    repo = FileRepository(tmp_path / "s")
    busy = seed(repo, "token one", replies=["token two", "token three", "token four"], when=BASE)
    other = seed(repo, "a lone token here " + "filler " * 30, when=BASE + timedelta(hours=1))
    seed(repo, "nothing to see", when=BASE + timedelta(hours=2))
    return repo.root, busy.id, other.id


def _search(root: Path, *args: str) -> list[str]:
    run = chatcli(["sessions", "--sessions-dir", str(root), "search", *args], cwd=root.parent)
    assert run.code == 0, run
    return run.out.splitlines()


def test_one_row_per_session_and_correct_counts(store: tuple[Path, str, str]) -> None:
    root, busy, other = store
    lines = _search(root, "token")
    assert lines[0] == "5 matches for 'token' in 2 sessions; 3 searched"
    rows = [line for line in lines if line.startswith((busy[:8], other[:8]))]
    assert [row[:8] for row in rows] == [other[:8], busy[:8]]  # newest first
    assert rows[1].split()[1] == "4"  # the hit count


def test_every_hit_with_messages_and_relevance_order(store: tuple[Path, str, str]) -> None:
    root, busy, other = store
    assert sum(1 for line in _search(root, "token", "--messages") if "token" in line and "user" in line) == 2
    assert len(list(_search(root, "token", "--messages", "--tsv"))) == 5
    rows = [
        line
        for line in _search(root, "token", "--sort", "relevance")
        if line.startswith((busy[:8], other[:8]))
    ]
    assert rows[0].startswith(busy[:8])


def test_tsv_and_json_follow_the_grouping(store: tuple[Path, str, str]) -> None:
    root, busy, _ = store
    records = [line.split("\t") for line in _search(root, "token", "--tsv")]
    assert [(r[0], r[2]) for r in records][1] == (busy, "4") and all(len(r) == 6 for r in records)
    data = json.loads("\n".join(_search(root, "token", "--json", "--limit", "1")))
    assert (data["total_hits"], data["sessions_matched"], data["sessions_searched"]) == (5, 2, 3)
    assert data["truncated"] is True and len(data["sessions"]) == 1 and data["notice"] is None
    assert data["sessions"][0]["hit_count"] == 1 and data["hits"] == [data["sessions"][0]["best"]]


@pytest.mark.parametrize(("text", "why"), [('"unclosed', "quote is not closed"), ("***", "must follow")])
def test_a_query_that_cannot_be_read_is_a_usage_error(
    store: tuple[Path, str, str], text: str, why: str
) -> None:
    root, _, _ = store
    run = chatcli(["sessions", "--sessions-dir", str(root), "search", text], cwd=root.parent)
    assert run.code == 2 and why in run.err, run


@pytest.mark.parametrize("text", ["token OR nothing", "NEAR(token one)", "body:token", "^token", "token)"])
def test_fts5_operators_are_searched_as_text(store: tuple[Path, str, str], text: str) -> None:
    root, _, _ = store
    run = chatcli(["sessions", "--sessions-dir", str(root), "search", text], cwd=root.parent)
    assert run.code == 0 and "sqlite" not in (run.out + run.err).lower(), run
