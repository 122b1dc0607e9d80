"""Export and import formats (``chatcli.session.transfer``), on the in-memory repository."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.repository import InMemoryRepository
from chatcli.session.transfer import EXPORT_FORMAT, EXPORT_VERSION, export_json, import_sessions

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2025, 3, 1, 9, 5, tzinfo=UTC)


def _messages() -> list[dict[str, object]]:
    return [
        {"role": "assistant", "content": "welcome", "timestamp": T0.isoformat()},
        {"role": "user", "content": "the question", "timestamp": T0.isoformat()},
        {"role": "assistant", "content": "the answer", "timestamp": T1.isoformat()},
    ]


def _import(tmp_path: Path, *records: object) -> tuple[InMemoryRepository, list[SessionMetadata], list[str]]:
    """Import ``records`` as JSON Lines into a fresh repository: (repo, imported, skip reasons)."""
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    repo = InMemoryRepository()
    result = import_sessions(repo, path)
    return repo, result.imported, [reason for _, reason in result.skipped]


def test_what_a_record_leaves_out_is_derived_from_its_messages(tmp_path: Path) -> None:
    sid = new_session_id()
    repo, imported, skipped = _import(tmp_path, {"id": sid, "messages": _messages()})
    assert skipped == []
    meta = repo.get(sid)
    assert imported == [meta]
    assert (meta.created, meta.last_active) == (T0, T1)
    assert meta.first_message == "the question"
    assert meta.message_count == 3
    assert meta.status is SessionStatus.ACTIVE
    assert meta.name is None
    assert meta.custom_fields == {}


def test_record_fields_are_kept_but_last_active_never_precedes_the_last_message(tmp_path: Path) -> None:
    sid = new_session_id()
    session = {
        "id": sid,
        "name": "kept",
        "status": "archived",
        "created": "2024-12-31T00:00:00Z",
        "last_active": "2025-01-01T00:00:00Z",
        "custom_fields": {"origin": "elsewhere"},
    }
    doc = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "session": session, "messages": _messages()}
    repo, _, skipped = _import(tmp_path, doc)
    assert skipped == []
    meta = repo.get(sid)
    assert meta.name == "kept"
    assert meta.status is SessionStatus.ARCHIVED
    assert meta.created == datetime(2024, 12, 31, tzinfo=UTC)
    assert meta.last_active == T1
    assert meta.custom_fields == {"origin": "elsewhere"}


def test_an_invalid_name_is_dropped_and_an_invalid_field_is_named(tmp_path: Path) -> None:
    named = new_session_id()
    repo, imported, skipped = _import(
        tmp_path,
        {"id": named, "name": "has space", "messages": _messages()},
        {"id": new_session_id(), "created": "yesterday", "messages": _messages()},
        {"id": "x" * 300, "messages": []},
        {"format": EXPORT_FORMAT, "version": EXPORT_VERSION + 1, "session": {}, "messages": []},
    )
    assert [m.id for m in imported] == [named]
    assert repo.get(named).name is None
    assert skipped[0].startswith("session field created: ")
    assert skipped[1].startswith("session field id: ")
    assert "upgrade chatcli" in skipped[2]


def test_an_export_imports_back_unchanged(tmp_path: Path) -> None:
    messages = [Message.model_validate(m) for m in _messages()]
    meta = SessionMetadata.from_messages(new_session_id(), messages, when_empty=T0)
    meta.name = "round"
    path = tmp_path / "export.json"
    path.write_text(export_json(meta, messages), encoding="utf-8")
    repo = InMemoryRepository()
    result = import_sessions(repo, path)
    assert result.skipped == [] and result.notes == []
    assert repo.get(meta.id) == meta
    assert repo.load_messages(meta.id).messages == messages
