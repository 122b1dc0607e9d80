"""--json output: documented field names for every result type, errors, and safe encoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest

from chatcli.commands.registry import UnknownCommand
from chatcli.commands.results import Cancelled, CommandHelp, ExportResult, HelpResult, SessionChanged
from chatcli.commands.spec import UsageError
from chatcli.render.jsonout import dump_json, dumps_json, error_to_json, session_to_json, to_json
from chatcli.session.errors import CorruptedSession, SessionNotFound, StorageError
from chatcli.session.models import Message, SessionMetadata, new_session_id
from chatcli.session.outcomes import (
    DeleteResult,
    ListResult,
    PruneResult,
    SearchHit,
    SearchResult,
    SessionDetail,
    SessionMatches,
)
from chatcli.session.transfer import ImportResult

CREATED = datetime(2025, 1, 4, 12, 30, 0, tzinfo=UTC)
SESSION_KEYS = {
    "id",
    "name",
    "status",
    "created",
    "last_active",
    "first_message",
    "message_count",
    "file_count",
    "custom_fields",
    "usage",
    "pinned",
    "tags",
}
MESSAGE_KEYS = {"role", "content", "timestamp", "id", "interrupted", "model", "usage"}


def make_meta(name: str | None = "fix-login") -> SessionMetadata:
    meta = SessionMetadata.new(new_session_id(), "hello")
    meta.created = CREATED
    meta.last_active = CREATED + timedelta(hours=1)
    meta.message_count = 2
    meta.name = name
    meta.custom_fields = {"forked_from": "abc"}
    return meta


def make_message(content: str = "hi") -> Message:
    return Message(role="user", content=content, timestamp=CREATED)


def roundtrip(result: object) -> object:
    """to_json, then through dumps/loads: what a consumer of --json reads."""
    return json.loads(dumps_json(to_json(result)))


def test_session_fields() -> None:
    meta = make_meta()
    doc = json.loads(dumps_json(session_to_json(meta)))
    assert isinstance(doc, dict)
    assert set(doc) == SESSION_KEYS
    assert doc["id"] == meta.id
    assert doc["name"] == "fix-login"
    assert doc["status"] == "active"
    assert doc["created"] == "2025-01-04T12:30:00Z"
    assert doc["last_active"] == "2025-01-04T13:30:00Z"
    assert doc["first_message"] == "hello"
    assert doc["message_count"] == 2
    assert doc["custom_fields"] == {"forked_from": "abc"}


def test_list_shape() -> None:
    problem = CorruptedSession("deadbeef", "truncated")
    doc = roundtrip(ListResult([make_meta(), make_meta(None)], [problem, SessionNotFound("x")], "all", "fix"))
    assert isinstance(doc, dict)
    assert set(doc) == {"sessions", "problems", "status", "search", "total"}
    assert doc["total"] == 2, "without a known total, the sessions listed are all there is"
    cut = roundtrip(ListResult([make_meta()], [], "active", None, 12_345))
    assert isinstance(cut, dict) and cut["total"] == 12_345 and len(cut["sessions"]) == 1
    assert [set(s) for s in doc["sessions"]] == [SESSION_KEYS, SESSION_KEYS]
    assert doc["sessions"][1]["name"] is None
    assert doc["problems"][0] == {
        "kind": "corrupted",
        "message": problem.user_message(),
        "session_id": "deadbeef",
    }
    assert doc["problems"][1]["session_id"] is None
    assert doc["status"] == "all"
    assert doc["search"] == "fix"


def test_show_shape() -> None:
    interrupted = Message(role="assistant", content="cut", timestamp=CREATED, interrupted=True)
    doc = roundtrip(SessionDetail(make_meta(), [make_message(), interrupted], 9, ["w"]))
    assert isinstance(doc, dict)
    assert set(doc) == {"session", "system_prompt", "messages", "total_messages", "warnings", "trashed"}
    assert doc["trashed"] is None
    assert set(doc["messages"][0]) == MESSAGE_KEYS
    assert doc["messages"][0]["timestamp"] == "2025-01-04T12:30:00Z"
    assert doc["messages"][0]["interrupted"] is False
    assert doc["messages"][1]["interrupted"] is True
    assert doc["total_messages"] == 9
    assert doc["warnings"] == ["w"]


def test_search_shape() -> None:
    hit = SearchHit("sid", None, "assistant", CREATED, "…snip…", 3)
    found = SessionMatches("sid", None, CREATED, 2, hit, [hit], -2.0)
    result = SearchResult("snip", [found], 5, 3, 4, warnings=["session x was not searched: it is a FIFO"])
    doc = roundtrip(result)
    hit_doc = {
        "session_id": "sid",
        "session_name": None,
        "role": "assistant",
        "timestamp": "2025-01-04T12:30:00Z",
        "snippet": "…snip…",
        "message_index": 3,
    }
    assert isinstance(doc, dict)
    assert doc["sessions"] == [
        {
            "session_id": "sid",
            "session_name": None,
            "last_active": "2025-01-04T12:30:00Z",
            "hit_count": 2,
            "best": hit_doc,
            "hits": [hit_doc],
        }
    ]
    assert doc["hits"] == [hit_doc]
    assert (doc["query"], doc["sort"], doc["total_hits"], doc["sessions_matched"]) == ("snip", "recent", 5, 3)
    assert (doc["sessions_searched"], doc["truncated"]) == (4, True)
    assert doc["warnings"] == ["session x was not searched: it is a FIFO"]
    assert doc["counted"] is True
    broad = roundtrip(SearchResult("snip", [found], 10_001, 1, 4, counted=False))
    assert isinstance(broad, dict) and (broad["counted"], broad["truncated"]) == (False, True)


def test_delete_import_prune_shapes() -> None:
    meta = make_meta()
    assert roundtrip(DeleteResult(meta)) == {"deleted": session_to_json(meta), "trash_id": None}
    trashed = roundtrip(DeleteResult(meta, f"{meta.id}.20250101T000000000000Z"))
    assert trashed == {"deleted": session_to_json(meta), "trash_id": f"{meta.id}.20250101T000000000000Z"}
    imported = roundtrip(ImportResult([meta], [("record 2", "bad")], ["note"]))
    assert imported == {
        "imported": [session_to_json(meta)],
        "skipped": [{"source": "record 2", "reason": "bad"}],
        "notes": ["note"],
    }
    pruned = roundtrip(PruneResult([meta], False, CREATED, [("sid", "locked")]))
    assert pruned == {
        "dry_run": False,
        "cutoff": "2025-01-04T12:30:00Z",
        "sessions": [session_to_json(meta)],
        "failures": [{"session_id": "sid", "reason": "locked"}],
        "not_reached": 0,
        "pinned_kept": 0,
    }
    cut = roundtrip(PruneResult([], False, CREATED, [], 7))
    assert isinstance(cut, dict) and cut["not_reached"] == 7


def test_changed_export_and_small_results() -> None:
    meta = make_meta()
    assert roundtrip(SessionChanged("forked", meta, "src")) == {
        "action": "forked",
        "session": session_to_json(meta),
        "source_id": "src",
    }
    assert roundtrip(ExportResult("sid", "markdown", path=Path("/tmp/x.md"))) == {
        "session_id": "sid",
        "format": "markdown",
        "path": "/tmp/x.md",
        "text": None,
    }
    assert roundtrip(ExportResult("sid", "json", text="{}"))["text"] == "{}"  # type: ignore[index]
    assert roundtrip(Cancelled("Nothing deleted.")) == {"cancelled": True, "message": "Nothing deleted."}


def test_help_shape() -> None:
    entry = CommandHelp(
        "sessions list",
        "/sessions list [--limit N]",
        "List",
        ("ls",),
        (("ID", "a session"),),
        (("-n, --limit N", "max"),),
        "more",
    )
    doc = roundtrip(HelpResult("Help", "intro", (entry,), True))
    assert doc == {
        "title": "Help",
        "intro": "intro",
        "detailed": True,
        "commands": [
            {
                "name": "sessions list",
                "usage": "/sessions list [--limit N]",
                "summary": "List",
                "aliases": ["ls"],
                "arguments": [{"name": "ID", "help": "a session"}],
                "options": [{"flags": "-n, --limit N", "help": "max"}],
                "details": "more",
            }
        ],
    }


def test_unknown_type_raises() -> None:
    with pytest.raises(TypeError, match="no JSON form for object"):
        to_json(object())


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (SessionNotFound("abcd"), "not_found"),
        (StorageError("disk full"), "storage"),
        (UsageError("missing ID", "/sessions show ID"), "usage"),
        (UnknownCommand("x", [], "/"), "unknown_command"),
    ],
)
def test_error_to_json_keeps_kind_and_user_message(exc: Exception, kind: str) -> None:
    doc = error_to_json(exc)
    assert doc == {"error": {"kind": kind, "message": exc.user_message()}}  # type: ignore[attr-defined]


def test_unexpected_error_to_json() -> None:
    assert error_to_json(ValueError("boom")) == {
        "error": {"kind": "internal", "message": "Unexpected error: ValueError: boom"}
    }
    assert error_to_json(KeyboardInterrupt()) == {
        "error": {"kind": "interrupted", "message": "Interrupted (Ctrl-C)."}
    }


def test_json_is_data_but_controls_are_escaped() -> None:
    hostile = "[bold]x[/] \x1b[2J \x1b]52;c;aGk=\x07 \x9b2J \x7f \u202e \u2028 é 世界 👍"
    meta = make_meta()
    meta.first_message = hostile
    buf = StringIO()
    dump_json(session_to_json(meta), buf)
    text = buf.getvalue()
    assert text.endswith("}\n")
    assert "\\u001b[2J" in text
    assert "\\u0007" in text
    assert "\\u009b" in text
    assert "\\u007f" in text
    assert "\\u202e" in text
    assert "\\u2028" in text
    assert "é 世界 👍" in text
    assert "[bold]x[/]" in text
    assert all(ch in "\n" or ord(ch) >= 0x20 for ch in text)
    assert json.loads(text)["first_message"] == hostile


def test_lone_surrogates_survive_as_escapes() -> None:
    text = dumps_json({"content": "a\ud800b"})
    text.encode("utf-8")
    assert json.loads(text) == {"content": "a\ud800b"}


def test_dumps_handles_datetimes_paths_and_compact_form() -> None:
    text = dumps_json({"when": CREATED, "where": Path("/tmp/a"), "tags": ("x",)}, indent=None)
    assert text == '{"when": "2025-01-04T12:30:00Z", "where": "/tmp/a", "tags": ["x"]}'
    with pytest.raises(TypeError):
        dumps_json({"bad": object()})
