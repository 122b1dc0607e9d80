"""A reader that stores rows without the session's lock (a listing re-reading a changed file, a
reconciliation indexing a session copied in) never puts back an older row over a writer's newer
one: the log of changes would hand that older row to the completion snapshot, which would then
miss the write until the next one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from chatcli.repl.completion.snapshot import SnapshotCache
from chatcli.session.models import SessionMetadata
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.layout import METADATA_FILE
from tests.helpers import seed


def _writer_finishes_during_the_next_read(monkeypatch: pytest.MonkeyPatch, write: Callable[[], None]) -> None:
    """The next metadata read (the reader's) returns what it read, but only after ``write`` (a
    whole write, under the session's lock) has run: the reader's row is then the older one."""
    real = SessionFiles.read_metadata

    def racing(files: SessionFiles, session_id: str) -> SessionMetadata:
        read = real(files, session_id)
        monkeypatch.setattr(SessionFiles, "read_metadata", real)
        write()
        return read

    monkeypatch.setattr(SessionFiles, "read_metadata", racing)


def _assert_everyone_sees_the_tag(repo: FileRepository, cache: SnapshotCache, session_id: str) -> None:
    entry = cache.refresh().entry(session_id)
    assert entry is not None and entry.tags == ("urgent",)
    assert [b.tags for b in repo.briefs() if b.id == session_id] == [("urgent",)]
    fresh = SnapshotCache(SessionService(FileRepository(repo.root))).refresh()
    assert cache.current().entries == fresh.entries and cache.current().tags == fresh.tags


def test_a_listing_rereading_a_changed_file_never_undoes_a_write_that_landed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = FileRepository(tmp_path / "sessions")
    meta = seed(repo, "hello")
    service = SessionService(repo)
    cache = SnapshotCache(service)
    cache.refresh()
    # The file is replaced by an identical copy (as `cp -a` does): its row's stamp no longer
    # matches, so the next listing reads the file again and stores what it read.
    path = repo.root / meta.id / METADATA_FILE
    shutil.copy2(path, path.with_suffix(".copy"))
    os.replace(path.with_suffix(".copy"), path)
    _writer_finishes_during_the_next_read(monkeypatch, lambda: service.tag(meta.id, ["urgent"]))

    repo.list()

    _assert_everyone_sees_the_tag(repo, cache, meta.id)


def test_a_reconciliation_never_undoes_a_write_that_landed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = FileRepository(tmp_path / "sessions")
    seed(repo, "already here")
    service = SessionService(repo)
    cache = SnapshotCache(service)
    cache.refresh()
    # A session copied in by hand: the next reader indexes it from its file.
    elsewhere = FileRepository(tmp_path / "elsewhere")
    copied = seed(elsewhere, "copied in")
    shutil.copytree(elsewhere.root / copied.id, repo.root / copied.id)
    _writer_finishes_during_the_next_read(monkeypatch, lambda: service.tag(copied.id, ["urgent"]))

    repo.list()

    _assert_everyone_sees_the_tag(repo, cache, copied.id)
