"""A store copied with ``cp -a`` (every file a new inode, so every index row's stamp differs):
its first listing reads the metadata files and re-stamps the rows, later ones use the index."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chatcli.session.store import FileRepository
from chatcli.session.store.files import SessionFiles
from tests.helpers import at, seed


def test_a_copied_store_takes_the_fast_path_from_its_second_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = FileRepository(tmp_path / "s")
    seeded = [seed(original, f"session {i}", when=at(i)) for i in range(6)]
    expected = [b.id for b in original.list_briefs()]
    original.close()
    subprocess.run(["cp", "-a", str(tmp_path / "s"), str(tmp_path / "copy")], check=True)
    reads: list[str] = []
    real = SessionFiles.read_metadata

    def counted(self: SessionFiles, session_id: str) -> object:
        reads.append(session_id)
        return real(self, session_id)

    monkeypatch.setattr(SessionFiles, "read_metadata", counted)
    first = FileRepository(tmp_path / "copy").list_briefs()
    assert [b.id for b in first] == expected and len(reads) == len(seeded)  # every stamp changed
    reads.clear()
    second = FileRepository(tmp_path / "copy").list_briefs()
    assert [b.id for b in second] == expected and reads == []  # re-stamped: served from the index
    assert FileRepository(tmp_path / "copy").index_problems() == []
