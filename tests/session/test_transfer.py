"""Export and import formats (``chatcli.session.transfer``), on the in-memory repository."""

from __future__ import annotations

import json
import os
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatcli.session import import_file
from chatcli.session.errors import InputFileError
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


# --------------------------------------------------------------------------- hostile import files

HOSTILE_TEXT = "a\x9bb\u202ec\x7fd\x1b[2J\u2028e\x00f"


def test_export_json_escapes_controls_and_bidi_and_imports_back(tmp_path: Path) -> None:
    messages = [Message(role="user", content=HOSTILE_TEXT, timestamp=T0)]
    meta = SessionMetadata.from_messages(new_session_id(), messages, when_empty=T0)
    meta.custom_fields = {"note": HOSTILE_TEXT}
    text = export_json(meta, messages)
    for ch in "\x9b\u202e\x7f\x1b\u2028\x00":
        assert ch not in text, repr(ch)
    assert "\\u009b" in text and "\\u202e" in text and "\\u007f" in text
    path = tmp_path / "export.json"
    path.write_text(text, encoding="utf-8")
    repo = InMemoryRepository()
    assert import_sessions(repo, path).skipped == []
    assert repo.load_messages(meta.id).messages == messages
    assert repo.get(meta.id).custom_fields == {"note": HOSTILE_TEXT}


def _record(content: str, timestamp: str = "2025-03-01T09:00:00Z") -> dict[str, object]:
    return {
        "id": new_session_id(),
        "messages": [{"role": "user", "content": content, "timestamp": timestamp}],
    }


def test_any_failure_of_one_record_skips_only_that_record(tmp_path: Path) -> None:
    first, last = _record("first"), _record("last")
    path = tmp_path / "in.jsonl"
    lines = [
        json.dumps(first),
        json.dumps(_record("overflows", "9999-12-31T23:59:59-14:00")),
        "[" * 100_000,
        '{"messages": ' + "[" * 100_000,
        json.dumps(last),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    repo = InMemoryRepository()
    result = import_sessions(repo, path)
    assert [m.id for m in result.imported] == [first["id"], last["id"]]
    assert [source for source, _ in result.skipped] == ["record 2", "record 3", "record 4"]
    assert all(reason for _, reason in result.skipped)


@pytest.mark.parametrize("body", ["[" * 100_000, "{" * 100_000, '[{"a": ' * 50_000])
def test_a_too_deep_json_document_is_skipped_with_a_reason(tmp_path: Path, body: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(body, encoding="utf-8")
    result = import_sessions(InMemoryRepository(), path)
    assert result.imported == []
    assert len(result.skipped) == 1
    assert "deep" in result.skipped[0][1] or "valid JSON" in result.skipped[0][1]


def test_a_json_array_is_streamed_record_by_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_file, "MAX_RECORD_BYTES", 4096)
    records = [_record(f"number {i}") for i in range(50)]
    records[10] = _record("x" * 10_000)
    path = tmp_path / "array.json"
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    result = import_sessions(InMemoryRepository(), path)
    assert len(result.imported) == 49
    assert [source for source, _ in result.skipped] == ["record 11"]
    assert "larger than" in result.skipped[0][1]


def test_a_json_lines_record_over_the_limit_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_file, "MAX_RECORD_BYTES", 4096)
    path = tmp_path / "in.jsonl"
    records = [_record("small"), _record("y" * 100_000), _record("after")]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = import_sessions(InMemoryRepository(), path)
    assert [m.id for m in result.imported] == [records[0]["id"], records[2]["id"]]
    assert [source for source, _ in result.skipped] == ["record 2"]
    assert "larger than" in result.skipped[0][1]


def test_cancelling_stops_the_import_at_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(_record(f"n{i}")) + "\n" for i in range(10)), encoding="utf-8")
    asked: list[int] = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) > 3

    result = import_sessions(InMemoryRepository(), path, should_stop=should_stop)
    assert len(result.imported) == 3
    assert any("cancelled" in note for note in result.notes)


def test_special_input_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), Path("/proc/self/mem"), Path("/proc/self/status"), fifo):
        with pytest.raises(InputFileError) as caught:
            import_sessions(InMemoryRepository(), path)
        assert "regular file" in caught.value.user_message(), path


def test_reading_a_large_json_array_takes_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    item = json.dumps(_record("z" * 2000))
    count = 10_000  # about 20 MB
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[" + ",\n".join([item] * count) + "]")
    tracemalloc.start()
    try:
        with import_file.open_input(path) as handle:
            seen = sum(1 for _ in import_file.read_records(handle, path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert peak < path.stat().st_size // 10, peak
