"""The goose reader against a ``sessions.db`` built with goose's own schema, and legacy JSONL files."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chatcli.importers import goose, sqlite_source
from chatcli.importers.base import ImportedSession, SourceProblem
from tests.helpers import assert_imports_through_the_binary

# The CREATE TABLE statements of goose's SessionStorage::create_schema
# (block/goose crates/goose/src/session/session_manager.rs, schema version 9).
GOOSE_SCHEMA = """
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    user_set_name BOOLEAN DEFAULT FALSE,
    session_type TEXT NOT NULL DEFAULT 'user',
    working_dir TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    extension_data TEXT DEFAULT '{}',
    total_tokens INTEGER,
    input_tokens INTEGER,
    output_tokens INTEGER,
    accumulated_total_tokens INTEGER,
    accumulated_input_tokens INTEGER,
    accumulated_output_tokens INTEGER,
    schedule_id TEXT,
    recipe_json TEXT,
    user_recipe_values_json TEXT,
    provider_name TEXT,
    model_config_json TEXT,
    tenant_id TEXT,
    user_id TEXT
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL,
    content_json TEXT NOT NULL,
    created_timestamp INTEGER NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    tokens INTEGER,
    metadata_json TEXT
);
CREATE INDEX idx_messages_session ON messages(session_id);
"""

T0 = 1_700_000_000
VISIBLE = {"userVisible": True, "agentVisible": True}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_request(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A MessageContent::ToolRequest as goose serialises it (conversation/message.rs)."""
    call = {"status": "success", "value": {"name": name, "arguments": arguments}}
    return {"type": "toolRequest", "id": call_id, "toolCall": call}


def tool_response(call_id: str, output: str) -> dict[str, Any]:
    """A MessageContent::ToolResponse: the same text for the assistant and for the user."""
    content = [
        {"type": "text", "text": "for the model", "annotations": {"audience": ["assistant"]}},
        {"type": "text", "text": output, "annotations": {"audience": ["user"]}},
    ]
    result = {"status": "success", "value": {"content": content, "isError": False}}
    return {"type": "toolResponse", "id": call_id, "toolResult": result}


def build_db(path: Path) -> None:
    """Sessions in two projects, a hidden sub-agent session, tool calls, thinking, an agent-only
    message, an unknown content type, an unknown role and a malformed row."""
    db = sqlite3.connect(path)
    db.executescript(GOOSE_SCHEMA)
    db.execute("PRAGMA journal_mode = WAL")
    sessions = [
        ("s-a", "Fix the build", "user", "/proj/a", "2023-11-14 22:13:20"),
        ("s-b", "", "user", "/proj/b", "2023-11-15 10:00:00"),
        ("s-hidden", "subagent", "hidden", "/proj/a", "2023-11-14 22:14:00"),
    ]
    for sid, name, kind, cwd, created in sessions:
        db.execute(
            "INSERT INTO sessions (id, name, session_type, working_dir, created_at) VALUES (?, ?, ?, ?, ?)",
            (sid, name, kind, cwd, created),
        )
    rows: list[tuple[str, str, object, int, object]] = [
        ("s-a", "user", [text("Why does the build fail?")], T0, VISIBLE),
        (
            "s-a",
            "assistant",
            [
                {"type": "thinking", "thinking": "secret plan", "signature": "sig"},
                {"type": "redactedThinking", "data": "opaque"},
                text("Let me look."),
                tool_request("call-1", "developer__shell", {"command": "make all"}),
            ],
            T0 + 5,
            VISIBLE,
        ),
        ("s-a", "user", [tool_response("call-1", "error: missing ;\nsecond line")], T0 + 9, VISIBLE),
        ("s-a", "assistant", [{"type": "futureThing", "x": 1}, text("Add the semicolon.")], T0 + 12, VISIBLE),
        ("s-a", "user", [text("injected summary")], T0 + 13, {"userVisible": False, "agentVisible": True}),
        ("s-a", "system", [text("unknown role")], T0 + 14, VISIBLE),
        ("s-a", "user", "{not json", T0 + 15, VISIBLE),
        ("s-a", "user", [text("Thanks")], T0 + 20, None),
        ("s-b", "user", [text("Other project")], T0 + 100, VISIBLE),
        ("s-b", "assistant", [text("Hello from b")], T0 + 101, VISIBLE),
        ("s-hidden", "user", [text("sub-agent work")], T0 + 6, VISIBLE),
    ]
    for number, (sid, role, content, created, metadata) in enumerate(rows):
        db.execute(
            "INSERT INTO messages (message_id, session_id, role, content_json, created_timestamp,"
            " timestamp, metadata_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                f"msg-{number}",
                sid,
                role,
                content if isinstance(content, str) else json.dumps(content),
                created,
                f"2023-11-14 22:{number:02d}:00",
                None if metadata is None else json.dumps(metadata),
            ),
        )
    db.commit()
    db.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_all(path: Path) -> tuple[list[ImportedSession], list[SourceProblem]]:
    problems: list[SourceProblem] = []
    return list(goose.SOURCE.read(path, problems)), problems


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder standing for goose's ``sessions`` folder."""
    path = tmp_path / "goose-sessions"
    path.mkdir()
    return path


def test_sessions_db_maps_prompts_replies_and_tool_notes(folder: Path) -> None:
    db = folder / "sessions.db"
    build_db(db)
    before = digest(db)
    sessions, problems = read_all(db)
    assert digest(db) == before
    assert sorted(folder.iterdir()) == [db]  # no -wal/-shm left beside it
    by_id = {session.source_id: session for session in sessions}
    assert set(by_id) == {"s-a", "s-b"}  # the hidden sub-agent session is not imported
    first = by_id["s-a"]
    assert (first.title, first.project, first.path) == ("Fix the build", "/proj/a", str(db))
    assert first.created == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert [(m.role, m.content, m.timestamp) for m in first.messages] == [
        ("user", "Why does the build fail?", at(T0)),
        (
            "assistant",
            "Let me look.\n\n"
            "[tool developer__shell: command: make all]\n\n"
            "[developer__shell result: error: missing ; second line]\n\n"
            "Add the semicolon.",
            at(T0 + 5),
        ),
        ("user", "Thanks", at(T0 + 20)),
    ]
    assert by_id["s-b"].title is None
    assert by_id["s-b"].project == "/proj/b"
    assert [p.where for p in problems] == [f"{db} (session s-a, message 7)"]
    assert "not a JSON list" in problems[0].reason


def test_a_database_with_a_live_wal_is_read_with_its_newest_rows(folder: Path) -> None:
    db = folder / "sessions.db"
    build_db(db)
    writer = sqlite3.connect(db)  # goose still running: its last rows are in the -wal file
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute(
        "INSERT INTO messages (session_id, role, content_json, created_timestamp, timestamp)"
        " VALUES ('s-b', 'user', ?, ?, '2023-11-16 00:00:00')",
        (json.dumps([text("newest prompt")]), T0 + 200),
    )
    writer.commit()
    wal = folder / "sessions.db-wal"
    before = (digest(db), digest(wal))
    sessions, _ = read_all(db)
    assert (digest(db), digest(wal)) == before
    writer.close()
    other = next(s for s in sessions if s.source_id == "s-b")
    assert other.messages[-1].content == "newest prompt"


def test_oversized_message_is_skipped_with_a_problem(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = folder / "sessions.db"
    build_db(db)
    monkeypatch.setattr(sqlite_source, "MAX_RECORD_BYTES", 40)
    monkeypatch.setattr(goose, "MAX_RECORD_BYTES", 40)
    sessions, problems = read_all(db)
    assert any("over 64 MiB" in p.reason for p in problems)
    assert sessions  # the small messages are still read


def test_not_a_database_is_one_problem(folder: Path) -> None:
    bogus = folder / "sessions.db"
    bogus.write_text("hello")
    sessions, problems = read_all(bogus)
    assert sessions == []
    assert problems == [SourceProblem(str(bogus), "is not a SQLite database")]


def legacy_file(path: Path, lines: list[object]) -> None:
    """A pre-database goose session file (block/goose crates/goose/src/session/legacy.rs)."""
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))


def test_folder_reads_the_database_and_only_new_legacy_files(folder: Path) -> None:
    build_db(folder / "sessions.db")
    legacy_file(folder / "s-a.jsonl", [{"working_dir": "/proj/a", "description": "dup"}])
    old = folder / "20240101_1.jsonl"
    legacy_file(
        old,
        [
            {"working_dir": "/proj/a", "description": "Old session", "created_at": "2024-01-01 09:00:00"},
            {"role": "user", "created": T0, "content": [text("old prompt")], "metadata": VISIBLE},
            "{broken",
            {"role": "assistant", "created": T0 + 1, "content": [text("old reply")]},
        ],
    )
    sessions, problems = read_all(folder)
    assert sorted(s.source_id for s in sessions) == ["20240101_1", "s-a", "s-b"]
    legacy = next(s for s in sessions if s.source_id == "20240101_1")
    assert (legacy.title, legacy.project, legacy.path) == ("Old session", "/proj/a", str(old))
    assert legacy.created == datetime(2024, 1, 1, 9, tzinfo=UTC)
    assert [(m.role, m.content) for m in legacy.messages] == [
        ("user", "old prompt"),
        ("assistant", "old reply"),
    ]
    assert SourceProblem(f"{old}:3", "line skipped: not a JSON object") in problems


def test_default_folder_follows_goose_paths(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert goose.default_folder(home) == tmp_path / ".local/share/goose/sessions"
    xdg = {**home, "XDG_DATA_HOME": "/data"}
    assert goose.default_folder(xdg) == Path("/data/goose/sessions")
    root = {**xdg, "GOOSE_PATH_ROOT": "/opt/goose"}
    assert goose.default_folder(root) == Path("/opt/goose/data/sessions")
    relative = {**home, "GOOSE_PATH_ROOT": "rel", "XDG_DATA_HOME": "rel"}
    assert goose.default_folder(relative) == tmp_path / ".local/share/goose/sessions"


def test_locate_finds_the_sessions_folder_only_when_it_exists(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "share")}
    assert goose.SOURCE.locate(tmp_path, False, env) == []
    folder = tmp_path / "share" / "goose" / "sessions"
    folder.mkdir(parents=True)
    assert goose.SOURCE.locate(tmp_path, True, env) == [folder]


HOSTILE_ITEMS: list[object] = [
    {"type": "toolRequest", "id": "x", "toolCall": "not an object"},
    {"type": "toolRequest", "id": "y", "toolCall": {"status": "error", "error": "bad call"}},
    {"type": "toolResponse", "id": "x", "toolResult": [1, 2]},
    {"type": "toolResponse", "id": "z", "toolResult": {"status": "success", "value": [{"type": "image"}, 7]}},
    {"type": "text", "text": {"nested": True}},
    {"type": None},
    "a bare string",
    42,
]


@pytest.mark.parametrize("item", HOSTILE_ITEMS, ids=repr)
def test_content_items_of_any_shape_never_raise(folder: Path, item: object) -> None:
    path = folder / "hostile.jsonl"
    lines: list[object] = [{"working_dir": "/p"}]
    for role in ("user", "assistant"):
        lines.append({"role": role, "created": "soon", "content": [item, text("still read")], "metadata": []})
    lines.append({"role": "user", "created": T0, "content": {"not": "a list"}})
    legacy_file(path, lines)
    sessions, problems = read_all(path)
    messages = sessions[0].messages
    assert [m.content for m in messages if m.role == "user"] == ["still read"]
    assert messages[-1].role == "assistant"
    assert messages[-1].content.endswith("still read")
    assert [p.where for p in problems] == [f"{path}:4"]


def test_a_wal_that_cannot_be_opened_falls_back_to_the_checkpointed_rows(folder: Path) -> None:
    db = folder / "sessions.db"
    build_db(db)
    (folder / "sessions.db-wal").mkdir()  # SQLite cannot open this -wal: mode=ro fails
    sessions, problems = read_all(db)
    assert {s.source_id for s in sessions} == {"s-a", "s-b"}
    assert len(problems) == 1  # only the malformed row


@pytest.mark.parametrize("name", ["sessions.db", "old.jsonl"])
def test_a_pipe_is_a_problem_and_never_blocks(folder: Path, name: str) -> None:
    fifo = folder / name
    os.mkfifo(fifo)
    sessions, problems = read_all(fifo)
    assert sessions == []
    assert [p.where for p in problems] == [str(fifo)]
    assert "not a regular file" in problems[0].reason


def test_goose_data_folder_is_read_through_its_sessions_folder(tmp_path: Path) -> None:
    sessions_folder = tmp_path / "goose" / "sessions"
    sessions_folder.mkdir(parents=True)
    build_db(sessions_folder / "sessions.db")
    sessions, _ = read_all(tmp_path / "goose")
    assert {s.source_id for s in sessions} == {"s-a", "s-b"}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_all(empty) == ([], [SourceProblem(str(empty), "has no goose sessions.db or session files")])


def test_a_database_from_before_message_metadata_is_read(folder: Path) -> None:
    """goose's schema before version 3 (session_manager.rs migration 3 adds metadata_json)."""
    db = folder / "sessions.db"
    build_db(db)
    old = sqlite3.connect(db)
    old.execute("ALTER TABLE messages DROP COLUMN metadata_json")
    old.commit()
    old.close()
    sessions, _ = read_all(db)
    first = next(s for s in sessions if s.source_id == "s-a")
    assert "injected summary" in [m.content for m in first.messages]  # no metadata: all visible


def test_the_binary_imports_goose_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "src" / "goose.db"
    db.parent.mkdir()
    build_db(db)
    work = tmp_path / "work"
    work.mkdir()
    assert_imports_through_the_binary("goose", db, work)
