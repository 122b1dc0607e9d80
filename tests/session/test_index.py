"""The metadata index: never stale after another writer, rebuilt from the files, readers never create it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chatcli.repl.completion.snapshot import SnapshotCache
from chatcli.session.errors import CorruptedSession
from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.repository import BriefList, SessionFilter, SessionList
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from chatcli.session.store.layout import INDEX_DIR, INDEX_FILE, METADATA_FILE


def _session(repo: FileRepository, text: str = "hello", name: str | None = None) -> SessionMetadata:
    meta = SessionMetadata.new(new_session_id(), text)
    meta.name = name
    meta.message_count = 1
    repo.create(meta, [Message(role="user", content=text)])
    return meta


#: Every consistency test runs against both listings: full metadata and the briefs ``sessions list`` shows.
LISTINGS = pytest.mark.parametrize("listing", ["list", "list_briefs"])


def _ls(repo: FileRepository, listing: str) -> Callable[..., SessionList | BriefList]:
    """``repo.list`` or ``repo.list_briefs``."""
    method: Callable[..., SessionList | BriefList] = getattr(repo, listing)
    return method


def _index_path(repo: FileRepository) -> Path:
    return repo.root / INDEX_DIR / INDEX_FILE


@LISTINGS
def test_the_first_write_builds_the_index_and_listings_use_it(tmp_path: Path, listing: str) -> None:
    repo = FileRepository(tmp_path / "s")
    metas = [_session(repo, f"message {i}") for i in range(5)]
    assert _index_path(repo).is_file()
    listed = _ls(repo, listing)(SessionFilter(limit=3))
    assert [m.id for m in listed] == [m.id for m in reversed(metas)][:3]
    assert repo._sync.usable() is not None and not repo._sync.broken


@LISTINGS
def test_writes_of_another_instance_are_seen_at_once(tmp_path: Path, listing: str) -> None:
    first = FileRepository(tmp_path / "s")
    second = FileRepository(tmp_path / "s")
    meta = _session(first)
    assert [m.id for m in _ls(first, listing)()] == [meta.id]
    second.update(meta.id, lambda m: m.set_name("renamed-elsewhere"))
    other = _session(second, "from the other one")
    listed = {m.id: m for m in _ls(first, listing)()}
    assert listed[meta.id].name == "renamed-elsewhere"
    assert other.id in listed
    assert [m.id for m in first.find_by_name("RENAMED-elsewhere")] == [meta.id]
    second.delete(other.id)
    assert other.id not in {m.id for m in _ls(first, listing)()}


@LISTINGS
def test_writes_of_another_process_are_seen(tmp_path: Path, listing: str) -> None:
    repo = FileRepository(tmp_path / "s")
    meta = _session(repo)
    assert _ls(repo, listing)()[0].name is None
    code = (
        "import sys; from chatcli.session.store import FileRepository as R; "
        "r = R(sys.argv[1]); r.update(sys.argv[2], lambda m: m.archive()); "
        "r.update(sys.argv[2], lambda m: m.set_name('from-a-child'))"
    )
    subprocess.run([sys.executable, "-c", code, str(repo.root), meta.id], check=True, timeout=60)
    (seen,) = _ls(repo, listing)()
    assert seen.name == "from-a-child" and seen.status is SessionStatus.ARCHIVED
    assert _ls(repo, listing)(SessionFilter(status=SessionStatus.ACTIVE)) == []


@LISTINGS
def test_a_writer_killed_between_its_file_write_and_the_index_update(tmp_path: Path, listing: str) -> None:
    """The dirty mark left behind makes readers read that session's files again."""
    repo = FileRepository(tmp_path / "s")
    meta = _session(repo)
    _ls(repo, listing)()
    repo._sync.index.mark_dirty(meta.id)  # step 1 of the protocol, then "the process dies" after step 2:
    changed = meta.model_copy(update={"name": "written-then-killed", "message_count": 1})
    (repo.root / meta.id / METADATA_FILE).write_text(changed.to_json())
    fresh = FileRepository(tmp_path / "s")
    assert _ls(fresh, listing)()[0].name == "written-then-killed"
    assert fresh._sync.index.dirty_ids() == []  # the reader could take the lock, so it fixed the row


@LISTINGS
def test_folders_copied_in_or_removed_by_hand(tmp_path: Path, listing: str) -> None:
    source = FileRepository(tmp_path / "other")
    copied = _session(source, "copied in by hand")
    source.close()
    repo = FileRepository(tmp_path / "s")
    mine = _session(repo)
    os.rename(source.root / copied.id, repo.root / copied.id)
    assert {m.id for m in _ls(repo, listing)()} == {mine.id, copied.id}
    os.rename(repo.root / mine.id, tmp_path / "removed")
    assert [m.id for m in _ls(repo, listing)()] == [copied.id]


@LISTINGS
def test_metadata_damaged_in_place_is_reported_not_shown_stale(tmp_path: Path, listing: str) -> None:
    repo = FileRepository(tmp_path / "s")
    good = _session(repo, "good")
    bad = _session(repo, "bad")
    (repo.root / bad.id / METADATA_FILE).write_text('{"version": 1, "id": "trunc')
    listed = _ls(repo, listing)(SessionFilter(limit=20))
    assert [m.id for m in listed] == [good.id]
    assert [type(p) for p in listed.problems] == [CorruptedSession]


@LISTINGS
def test_reads_never_create_the_index(tmp_path: Path, listing: str) -> None:
    writer = FileRepository(tmp_path / "s")
    meta = _session(writer)
    writer.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(_index_path(writer)) + suffix).unlink(missing_ok=True)
    reader = FileRepository(tmp_path / "s")
    assert [m.id for m in _ls(reader, listing)()] == [meta.id]  # served by scanning the files
    assert reader.find_by_prefix(meta.id[:6])[0].id == meta.id
    assert not _index_path(reader).exists()
    reader.update(meta.id, lambda m: m.set_name("now-indexed"))  # the first write rebuilds it
    assert _index_path(reader).exists()
    assert FileRepository(tmp_path / "s").list()[0].name == "now-indexed"


@LISTINGS
def test_a_garbage_index_is_rebuilt(tmp_path: Path, listing: str) -> None:
    repo = FileRepository(tmp_path / "s")
    metas = [_session(repo, f"m{i}") for i in range(3)]
    repo.close()
    for suffix in ("-wal", "-shm"):
        Path(str(_index_path(repo)) + suffix).unlink(missing_ok=True)
    _index_path(repo).write_bytes(b"this is not a database" * 100)
    fresh = FileRepository(tmp_path / "s")
    assert {m.id for m in _ls(fresh, listing)()} == {m.id for m in metas}
    assert fresh.rebuild_index() == 3
    assert fresh.index_problems() == []


def test_doctor_reports_a_stale_index_and_repair_rebuilds_it(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    meta = _session(repo)
    raw = json.loads((repo.root / meta.id / METADATA_FILE).read_text())
    raw["name"] = "edited-by-hand"
    (repo.root / meta.id / METADATA_FILE).write_text(json.dumps(raw))
    report = run_doctor(repo)
    index_findings = [f for f in report.findings if f.target == INDEX_DIR]
    assert index_findings and "stale" in index_findings[0].problems[0]
    repaired = run_doctor(repo, repair=True)
    for finding in repaired.findings:
        if finding.target == INDEX_DIR:
            assert any("rebuilt the index" in a for a in finding.actions)
    assert repo.index_problems() == []
    assert not [f for f in run_doctor(repo).findings if f.target == INDEX_DIR]


def test_service_resolution_and_search_through_the_index(tmp_path: Path) -> None:
    service = SessionService(FileRepository(tmp_path / "s"))
    older = service.start_session([Message(role="user", content="kubernetes retry backoff")])
    newer = service.start_session([Message(role="user", content="terraform bucket policy")])
    service.rename(older.id, "k8s-work")
    assert service.resolve("K8S-WORK").id == older.id
    assert service.resolve(newer.id[:6]).id == newer.id
    found = service.search("KUBERNETES")
    assert [h.session_id for h in found.hits] == [older.id]
    snap = SnapshotCache(service).refresh(force=True)
    assert [e.id for e in snap.entries] == [newer.id, older.id]
