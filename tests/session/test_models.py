"""SessionMetadata, Message, names and ids (seed plan step 1.1, in Python)."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from chatcli.session.errors import InvalidMetadata, InvalidName, UnsupportedVersion
from chatcli.session.models import (
    FIRST_MESSAGE_LIMIT,
    METADATA_VERSION,
    Message,
    SessionMetadata,
    SessionStatus,
    is_session_id,
    new_session_id,
    validate_session_name,
)

#: The seed plan's v0 sample, verbatim: written before ``custom_fields`` existed.
V0_JSON = """{
    "version": 0,
    "id": "test",
    "status": "active",
    "created": "2025-01-01T00:00:00Z",
    "last_active": "2025-01-01T00:00:00Z",
    "first_message": "Test",
    "name": null,
    "file_count": 0,
    "message_count": 0
}"""


# --------------------------------------------------------------------------- metadata


def test_metadata_creation() -> None:
    meta = SessionMetadata.new("test-id", "First message")

    assert meta.id == "test-id"
    assert meta.version == METADATA_VERSION == 2
    assert meta.status is SessionStatus.ACTIVE
    assert meta.first_message == "First message"
    assert meta.message_count == 0
    assert meta.file_count == 0
    assert meta.name is None
    assert meta.custom_fields == {}
    assert meta.created == meta.last_active
    assert meta.created.tzinfo is not None and meta.created.utcoffset() == timedelta(0)


def test_new_keeps_only_a_summary_of_a_long_first_message() -> None:
    meta = SessionMetadata.new("x", "a" * (FIRST_MESSAGE_LIMIT + 50))
    assert meta.first_message == "a" * FIRST_MESSAGE_LIMIT


def test_metadata_json_round_trip() -> None:
    meta = SessionMetadata.new("test-id", "First message ✓")
    meta.set_name("round-trip")
    meta.archive()
    meta.message_count = 7
    meta.custom_fields = {"n": 3, "tags": ["a", "b"]}

    text = meta.to_json()
    back = SessionMetadata.from_json(text)

    assert text.endswith("\n")
    assert back == meta
    assert json.loads(text)["status"] == "archived"
    assert back.created.tzinfo is not None


def test_status_transitions() -> None:
    meta = SessionMetadata.new("test-id", "First")
    assert (meta.status, meta.is_archived) == (SessionStatus.ACTIVE, False)

    meta.archive()
    assert (meta.status, meta.is_archived) == (SessionStatus.ARCHIVED, True)

    meta.unarchive()
    assert (meta.status, meta.is_archived) == (SessionStatus.ACTIVE, False)


def test_update_activity_strictly_increases() -> None:
    """Back-to-back calls (same clock tick) and a time in the past still move ``last_active`` forward."""
    meta = SessionMetadata.new("test-id", "First")
    seen = [meta.last_active]
    for _ in range(50):
        meta.update_activity()
        seen.append(meta.last_active)
    assert all(a < b for a, b in itertools.pairwise(seen))

    before = meta.last_active
    meta.update_activity(datetime(2000, 1, 1, tzinfo=UTC))
    assert meta.last_active > before


def test_update_activity_reads_a_naive_time_as_utc() -> None:
    meta = SessionMetadata.new("test-id", "First")
    future = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    meta.update_activity(future)
    assert meta.last_active == future.replace(tzinfo=UTC)


def test_naive_timestamps_on_disk_are_taken_as_utc() -> None:
    meta = SessionMetadata.from_json(V0_JSON.replace("00:00:00Z", "00:00:00"))
    assert meta.created == datetime(2025, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["my-feature", "feature_123", "ABC-def_123", "a", "x" * 100, "a-", "_x"])
def test_validate_name_valid(name: str) -> None:
    assert validate_session_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 101,
        "my feature",
        "my/feature",
        "my.feature",
        "-rf",
        "..",
        "back\\slash",
        "tab\there",
        "new\nline",
        "nul\x00",
        "café",
        "名前",
        "rtl\u202eevil",
        "emoji🙂",
        "$(rm -rf /)",
    ],
)
def test_validate_name_invalid(name: str) -> None:
    with pytest.raises(InvalidName) as err:
        validate_session_name(name)
    message = err.value.user_message()
    assert "letters, digits" in message
    assert all(ch.isprintable() or ch == "\n" for ch in message), "hostile names must be escaped"


def test_validate_name_rejects_non_text() -> None:
    with pytest.raises(InvalidName):
        validate_session_name(123)  # type: ignore[arg-type]


def test_set_name_validation_keeps_the_old_name_on_failure() -> None:
    meta = SessionMetadata.new("test", "First")

    meta.set_name("valid-name")
    assert meta.name == "valid-name"

    with pytest.raises(InvalidName):
        meta.set_name("invalid name")
    assert meta.name == "valid-name"

    meta.clear_name()
    assert meta.name is None


# --------------------------------------------------------------------------- versions and migration


def test_schema_migration_v0_to_v1_to_v2() -> None:
    raw = SessionMetadata.model_validate_json(V0_JSON)
    assert raw.version == 0

    migrated = raw.migrate()

    assert migrated.version == 2
    assert migrated.custom_fields == {} and not migrated.pinned and migrated.tags == []
    assert migrated.id == "test" and migrated.first_message == "Test"
    assert raw.version == 0, "migrate() returns a new object"


def test_from_json_migrates_v0() -> None:
    meta = SessionMetadata.from_json(V0_JSON)
    assert meta.version == 2 and meta.custom_fields == {}


@pytest.mark.parametrize("version", [999, METADATA_VERSION + 1, -1])
def test_schema_migration_unknown_version(version: int) -> None:
    meta = SessionMetadata.new("test", "First")
    meta.version = version

    with pytest.raises(UnsupportedVersion) as err:
        meta.migrate()
    assert err.value.version == version
    assert "Upgrade chatcli" in err.value.user_message()


def test_from_json_refuses_a_newer_version() -> None:
    with pytest.raises(UnsupportedVersion):
        SessionMetadata.from_json(V0_JSON.replace('"version": 0', '"version": 999'))


@pytest.mark.parametrize(
    "data",
    [
        "",
        "{",
        "[]",
        "null",
        '{"id": "x"}',
        V0_JSON.replace('"message_count": 0', '"message_count": -1'),
        V0_JSON.replace('"status": "active"', '"status": "deleted"'),
        V0_JSON.replace('"created": "2025-01-01T00:00:00Z"', '"created": "yesterday"'),
        # usage counts are an object by name, never a list read by position
        V0_JSON.replace('"message_count": 0', '"message_count": 0, "usage": {"m": [1, 2, 3, 1]}'),
        V0_JSON.replace('"message_count": 0', '"message_count": 0, "usage": {"m": [5]}'),
    ],
)
def test_from_json_rejects_invalid_metadata(data: str) -> None:
    with pytest.raises(InvalidMetadata) as err:
        SessionMetadata.from_json(data, source="metadata.json")
    assert "metadata.json" in str(err.value)
    assert "doctor" in err.value.user_message()


def test_unknown_fields_are_ignored() -> None:
    meta = SessionMetadata.from_json(V0_JSON.replace('"name": null', '"name": null, "future": 1'))
    assert "future" not in meta.model_dump()


def test_assignment_is_validated() -> None:
    meta = SessionMetadata.new("x", "y")
    with pytest.raises(ValidationError):
        meta.message_count = -1
    assert meta.message_count == 0


# --------------------------------------------------------------------------- messages and ids


def test_message_line_round_trip() -> None:
    msg = Message(role="assistant", content='multi\nline "quoted" ✓')
    line = msg.to_line()

    assert "\n" not in line
    assert "interrupted" not in json.loads(line)
    assert Message.model_validate_json(line) == msg


def test_interrupted_is_written_only_when_set() -> None:
    line = Message(role="assistant", content="cut", interrupted=True).to_line()
    assert json.loads(line)["interrupted"] is True
    assert Message.model_validate_json(line).interrupted


def test_message_defaults() -> None:
    a, b = Message(role="user", content="x"), Message(role="user", content="x")
    assert a.id != b.id
    assert a.timestamp.tzinfo is not None
    with pytest.raises(ValidationError):
        a.content = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Message(role="robot", content="x")


def test_session_ids() -> None:
    sid = new_session_id()
    assert is_session_id(sid)
    assert uuid.UUID(sid).version == 4
    assert new_session_id() != sid


_FIXED_ID = "1a717050-3c2e-4f6b-9d8a-0b1c2d3e4f50"  # fixed, so every test worker collects the same ids


@pytest.mark.parametrize(
    "value",
    [
        "",
        "..",
        "test-1",
        _FIXED_ID.upper(),
        "{" + _FIXED_ID + "}",
        _FIXED_ID + "\n",
        _FIXED_ID.replace("-", ""),
        "../" + _FIXED_ID,
        _FIXED_ID + "/x",
    ],
)
def test_non_canonical_ids_are_not_session_ids(value: str) -> None:
    assert not is_session_id(value)


def test_lines_are_the_to_line_of_each_message_each_ended() -> None:
    """A transcript written in one go (``Message.lines``, what an import writes) holds exactly the
    lines appending each message would (every optional field set or not, any text)."""
    from chatcli.session.models import ReplyUsage

    usage = ReplyUsage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    messages = [
        Message(role="assistant", content=text, interrupted=cut, model=model, usage=used)
        for text in ("plain", 'Café "東京"\n\x00\u2028\\')
        for cut in (False, True)
        for model in (None, "m-1")
        for used in (None, usage)
    ]
    expected = "".join(m.to_line() + "\n" for m in messages).encode("utf-8")
    assert Message.lines(messages) == expected
    assert b'"interrupted"' not in Message.lines(messages[:1]) and Message.lines([]) == b""
