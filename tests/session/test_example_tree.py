"""The sample tree in ``.amazonq.example/sessions/`` is real, current on-disk data."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from chatcli.session.models import METADATA_VERSION, SessionStatus, is_session_id
from chatcli.session.repository import SessionFilter
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers import REPO_ROOT, snapshot, user

EXAMPLE = REPO_ROOT / ".amazonq.example" / "sessions"
LEGACY_ID = "5d0e7f3a-2b1c-4a9d-b8e7-6f5a4c3b2d10"


@pytest.fixture
def example(tmp_path: Path) -> FileRepository:
    """A copy of the sample tree, so tests may write to it."""
    target = tmp_path / ".amazonq" / "sessions"
    shutil.copytree(EXAMPLE, target)
    return FileRepository(target)


def test_tree_shape() -> None:
    assert (EXAMPLE / ".gitignore").read_text() == "*\n"
    folders = [p for p in EXAMPLE.iterdir() if p.is_dir()]
    assert 3 <= len(folders) <= 4
    for folder in folders:
        assert is_session_id(folder.name) and uuid.UUID(folder.name).version == 4
        assert sorted(p.name for p in folder.iterdir()) == [CONVERSATION_FILE, METADATA_FILE]


def test_every_session_lists(example: FileRepository) -> None:
    listed = example.list(SessionFilter())
    assert listed.problems == []
    assert {m.id for m in listed} == {p.name for p in EXAMPLE.iterdir() if p.is_dir()}
    assert any(m.name for m in listed), "one session is named"
    assert any(m.status is SessionStatus.ARCHIVED for m in listed), "one session is archived"
    assert [m.id for m in example.list(SessionFilter(status=SessionStatus.ACTIVE))] != []


def test_legacy_v0_metadata_migrates_in_memory_only(example: FileRepository) -> None:
    path = example.root / LEGACY_ID / METADATA_FILE
    raw = json.loads(path.read_text())
    assert raw["version"] == 0 and "custom_fields" not in raw
    before = snapshot(example.root)

    meta = example.get(LEGACY_ID)

    assert meta.version == METADATA_VERSION and meta.custom_fields == {}
    assert snapshot(example.root) == before, "reading never rewrites the file"

    example.append_message(LEGACY_ID, user("Does that apply to workspaces too?"))
    upgraded = json.loads(path.read_text())
    assert upgraded["version"] == METADATA_VERSION and upgraded["custom_fields"] == {}


def test_every_transcript_loads_cleanly(example: FileRepository) -> None:
    for meta in example.list():
        transcript = example.load_messages(meta.id)
        assert transcript.warnings == [], meta.id
        assert len(transcript.messages) == meta.message_count >= 2
        first_user = next(m.content for m in transcript.messages if m.role == "user")
        assert meta.first_message == first_user
        assert meta.created == transcript.messages[0].timestamp
        assert meta.last_active == transcript.messages[-1].timestamp
        ids = [m.id for m in transcript.messages]
        assert len(ids) == len(set(ids))
        assert [m.timestamp for m in transcript.messages] == sorted(m.timestamp for m in transcript.messages)


def test_repair_finds_nothing_to_do(example: FileRepository) -> None:
    for meta in example.list():
        assert not example.repair(meta.id).changed, meta.id
