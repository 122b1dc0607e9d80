"""Listings as briefs: the same sessions as full metadata, read from the index without pydantic."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatcli.render.jsonout import session_to_json
from chatcli.session.fields import SessionBrief, SessionStatus
from chatcli.session.models import Message, SessionMetadata, new_session_id
from chatcli.session.repository import InMemoryRepository, SessionFilter, SessionRepository
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.index import SCHEMA_VERSION, IndexUnavailable, SessionIndex
from chatcli.session.store.layout import INDEX_DIR, INDEX_FILE, METADATA_FILE
from tests.helpers import at, seed

FILTERS = [
    SessionFilter(),
    SessionFilter(limit=2),
    SessionFilter(status=SessionStatus.ACTIVE),
    SessionFilter(status=SessionStatus.ARCHIVED),
    SessionFilter(search="ÜNICODE"),
    SessionFilter(search="work", limit=1),
    SessionFilter(limit=0),
]


def _fill(repo: SessionRepository) -> list[SessionMetadata]:
    """Sessions exercising every listed field: names, archived, custom fields, unicode, counts."""
    service = SessionService(repo)
    plain = service.start_session([Message(role="user", content="plain question")])
    named = service.start_session(
        [Message(role="user", content="Ünicode — first 🌍"), Message(role="assistant", content="ok")]
    )
    service.rename(named.id, "work-item")
    archived = service.start_session([Message(role="user", content="old work")])
    service.archive(archived.id)
    forked = service.fork(named.id, "work-fork")
    repo.update(forked.id, lambda m: m.custom_fields.update({"nested": {"a": [1, "é", None]}}))
    return [repo.get(s.id) for s in (plain, named, archived, forked)]


def _repos(tmp_path: Path) -> list[SessionRepository]:
    return [InMemoryRepository(), FileRepository(tmp_path / "s")]


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_briefs_list_exactly_what_the_full_listing_lists(tmp_path: Path, kind: str) -> None:
    repo: SessionRepository = InMemoryRepository() if kind == "memory" else FileRepository(tmp_path / "s")
    _fill(repo)
    for flt in FILTERS:
        full = repo.list(flt)
        briefs = repo.list_briefs(flt)
        assert list(briefs) == [SessionBrief.of(m) for m in full], flt
        assert briefs.problems == full.problems == []


def test_briefs_from_a_scan_when_there_is_no_index(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    metas = _fill(repo)
    repo.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(repo.root / INDEX_DIR / INDEX_FILE) + suffix).unlink(missing_ok=True)
    reader = FileRepository(tmp_path / "s")
    briefs = reader.list_briefs(SessionFilter())
    assert {b.id for b in briefs} == {m.id for m in metas}
    assert list(briefs) == [SessionBrief.of(m) for m in reader.list()]
    assert not (repo.root / INDEX_DIR / INDEX_FILE).exists()  # a reader still never creates it


def test_a_brief_has_the_same_json_as_its_metadata(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    metas = {m.id: m for m in _fill(repo)}
    for brief in FileRepository(tmp_path / "s").list_briefs():
        meta = metas[brief.id]
        assert session_to_json(brief) == session_to_json(meta)
    forked = next(b for b in repo.list_briefs() if b.name == "work-fork")
    assert forked.custom_fields["nested"] == {"a": [1, "é", None]}


def test_hand_edited_metadata_is_read_again_not_listed_stale(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    metas = _fill(repo)
    target = metas[0]
    raw = json.loads((repo.root / target.id / METADATA_FILE).read_text())
    raw["name"] = "edited-by-hand"
    (repo.root / target.id / METADATA_FILE).write_text(json.dumps(raw))
    (listed,) = [b for b in FileRepository(tmp_path / "s").list_briefs() if b.id == target.id]
    assert listed.name == "edited-by-hand"


def _downgrade_to_v2(index: Path) -> None:
    """Rewrite the index in the previous schema (no created/file_count/custom columns)."""
    conn = sqlite3.connect(index, isolation_level=None)
    conn.executescript(
        """
        DROP TABLE sessions;
        CREATE TABLE sessions (id TEXT PRIMARY KEY, status TEXT NOT NULL, last_active TEXT NOT NULL,
            name TEXT, name_lower TEXT, first_message TEXT NOT NULL, first_lower TEXT NOT NULL,
            message_count INTEGER NOT NULL, meta TEXT NOT NULL, stamp TEXT NOT NULL);
        PRAGMA user_version = 2;
        """
    )
    conn.close()


def test_an_index_of_an_older_schema_is_rebuilt(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    metas = _fill(repo)
    repo.close()
    index = repo.root / INDEX_DIR / INDEX_FILE
    _downgrade_to_v2(index)
    reader = FileRepository(tmp_path / "s")
    assert list(reader.list_briefs()) == [SessionBrief.of(m) for m in reader.list()]
    assert {b.id for b in reader.list_briefs()} == {m.id for m in metas}
    reader.close()
    conn = sqlite3.connect(index)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == len(metas)
    conn.close()


def _run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


_LIST_WITHOUT_PYDANTIC = """
import sys
from chatcli.__main__ import main
code = main(["sessions", "--sessions-dir", sys.argv[1], "list", "--all", *sys.argv[2:]])
print("EXIT", code, "PYDANTIC", "pydantic" in sys.modules)
"""


@pytest.mark.parametrize("extra", [[], ["--json"], ["--search", "work", "--limit", "1"]])
def test_sessions_list_never_imports_pydantic(tmp_path: Path, extra: list[str]) -> None:
    """The start-up cost of pydantic is most of a listing's time; an indexed listing skips it."""
    repo = FileRepository(tmp_path / "s")
    _fill(repo)
    repo.close()
    out = _run(_LIST_WITHOUT_PYDANTIC, str(repo.root), *extra)
    assert out.splitlines()[-1] == "EXIT 0 PYDANTIC False"
    assert ("work-item" in out) or extra[:1] == ["--search"]


def test_a_session_created_by_hand_without_index_row_is_listed(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    _fill(repo)
    other = FileRepository(tmp_path / "elsewhere")
    meta = SessionMetadata.new(new_session_id(), "copied by hand")
    other.create(meta, [Message(role="user", content="copied by hand")])
    other.close()
    (other.root / meta.id).rename(repo.root / meta.id)
    assert meta.id in {b.id for b in FileRepository(tmp_path / "s").list_briefs()}


@pytest.mark.parametrize("where", ["memory", "index", "scan"])
def test_total_counts_every_match_whatever_the_limit(tmp_path: Path, where: str) -> None:
    repo: SessionRepository = InMemoryRepository() if where == "memory" else FileRepository(tmp_path / "s")
    metas = _fill(repo)
    if isinstance(repo, FileRepository) and where == "scan":
        repo.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(repo.root / INDEX_DIR / INDEX_FILE) + suffix).unlink(missing_ok=True)
        repo = FileRepository(tmp_path / "s")
    active = [m for m in metas if m.status is SessionStatus.ACTIVE]
    cases = [
        (SessionFilter(limit=1), len(metas)),
        (SessionFilter(limit=100), len(metas)),
        (SessionFilter(), len(metas)),
        (SessionFilter(status=SessionStatus.ACTIVE, limit=2), len(active)),
        (SessionFilter(search="WORK", limit=1), 3),
        (SessionFilter(search="no such text", limit=1), 0),
    ]
    for flt, total in cases:
        listing = repo.list_briefs(flt)
        assert listing.total == total, flt
        assert len(listing) == min(total, flt.limit if flt.limit is not None else total), flt


def test_a_cut_listing_says_how_many_there_are() -> None:
    """The table's title and footer say how many sessions the limit left out, and how to see them."""
    from io import StringIO

    from rich.console import Console

    from chatcli.render.terminal import render
    from chatcli.session.outcomes import ListResult

    repo = InMemoryRepository()
    _fill(repo)
    shown = repo.list_briefs(SessionFilter(limit=2))
    console = Console(file=StringIO(), width=120, color_system=None)
    render(ListResult(list(shown), [], "all", None, shown.total), console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "All sessions (2 of 4)" in out
    assert "Showing the 2 most recent of 4: --limit N shows more, --no-limit shows them all" in out
    console = Console(file=StringIO(), width=120, color_system=None)
    render(ListResult(list(repo.list_briefs()), [], "all", None, 4), console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "All sessions (4)" in out and "Showing" not in out


def _many(repo: FileRepository, count: int = 23) -> None:
    """Sessions with clashing ``last_active`` values (ties are broken by id) and both statuses."""
    for i in range(count):
        seed(repo, f"session {i}", when=at(i // 3), archived=i % 4 == 0)


@pytest.mark.parametrize("status", [None, SessionStatus.ACTIVE, SessionStatus.ARCHIVED])
def test_paged_briefs_are_the_whole_listing_in_order(tmp_path: Path, status: SessionStatus | None) -> None:
    repo = FileRepository(tmp_path / "s")
    _many(repo)
    expected = repo.briefs(status)
    assert len(expected) > 4
    for page in (1, 2, 5, 128):
        assert list(repo.iter_briefs(status, page=page)) == expected, page


def test_paged_briefs_read_only_what_is_consumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = FileRepository(tmp_path / "s")
    _many(repo)
    pages: list[int | None] = []
    original = SessionIndex.briefs

    def counting(self: SessionIndex, *args: Any, **kwargs: Any) -> list[SessionBrief]:
        pages.append(kwargs.get("limit"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SessionIndex, "briefs", counting)
    first_three = list(itertools.islice(repo.iter_briefs(page=4), 3))
    assert first_three == original(repo._sync.index)[:3]
    assert pages == [4], "only the first page was read"


def test_paged_briefs_merge_a_session_being_written_and_survive_a_failing_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = FileRepository(tmp_path / "s")
    _many(repo)
    everything = repo.briefs()
    # A writer (another process) is mid-way through one session: its row is not trusted, its
    # files are read instead, and it must come out at its new place in the order.
    moving = everything[-1]
    holder = FileRepository(tmp_path / "s")
    with holder.session_lock(moving.id):
        repo._sync.index.mark_dirty(moving.id)
        raw = json.loads((repo.root / moving.id / METADATA_FILE).read_text())
        raw["last_active"] = "2030-01-01T00:00:00Z"
        (repo.root / moving.id / METADATA_FILE).write_text(json.dumps(raw))
        listed = list(repo.iter_briefs(page=2))
    assert [b.id for b in listed] == [moving.id, *[b.id for b in everything[:-1]]]

    calls = {"n": 0}
    original = SessionIndex.briefs

    def failing_later(self: SessionIndex, *args: Any, **kwargs: Any) -> list[SessionBrief]:
        calls["n"] += 1
        if calls["n"] > 2:
            raise IndexUnavailable("disk I/O error")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SessionIndex, "briefs", failing_later)
    after_failure = [b.id for b in FileRepository(tmp_path / "s").iter_briefs(page=3)]
    assert calls["n"] == 3
    assert after_failure == [b.id for b in listed], "the files take over in order, nothing twice"
    assert len(after_failure) == len(set(after_failure)) == len(everything)


@pytest.mark.parametrize(
    ("column", "value"),
    [("status", "bogus"), ("custom", "{not json"), ("created", "yesterday"), ("meta", "[]")],
)
def test_a_damaged_index_row_is_never_shown_nor_a_crash(tmp_path: Path, column: str, value: str) -> None:
    """The index is a cache: a row damaged by hand (or by a bad disk) sends the reader to the
    files, and the index is built again from them."""
    repo = FileRepository(tmp_path / "s")
    metas = _fill(repo)
    repo.close()
    conn = sqlite3.connect(repo.root / INDEX_DIR / INDEX_FILE, isolation_level=None)
    conn.execute(f"UPDATE sessions SET {column} = ? WHERE id = ?", (value, metas[0].id))
    conn.close()
    reader = FileRepository(tmp_path / "s")
    expected = {m.id: SessionBrief.of(m) for m in metas}
    assert {b.id: b for b in reader.list_briefs()} == expected
    assert {m.id for m in reader.list()} == set(expected)
    assert reader.index_problems() == [], "the damaged index was rebuilt"
    assert {b.id for b in reader.briefs()} == set(expected)
    assert {b.id for b in reader.iter_briefs()} == set(expected)
    out = _run(_LIST_WITHOUT_PYDANTIC, str(repo.root))
    assert "EXIT 0" in out
    reader.update(metas[1].id, lambda m: m.set_name("after-the-damage"))
    assert reader.index_problems() == []
    assert {b.id for b in FileRepository(tmp_path / "s").list_briefs()} == set(expected)
