"""The llm reader against a ``logs.db`` built with llm's own schema: threads and legacy responses."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatcli.importers import llm
from chatcli.importers.base import ImportedSession, SourceProblem
from tests.helpers import assert_imports_through_the_binary

# The tables of an llm 0.32 logs.db that the reader uses, copied from the schema llm documents
# (simonw/llm docs/logging.md, generated from llm/migrations.py m001-m027).
LLM_SCHEMA = """
CREATE TABLE "conversations" (
  "id" TEXT PRIMARY KEY,
  "name" TEXT,
  "model" TEXT
);
CREATE TABLE "schemas" (
  "id" TEXT PRIMARY KEY,
  "content" TEXT
);
CREATE TABLE "responses" (
  "id" TEXT PRIMARY KEY,
  "model" TEXT,
  "prompt" TEXT,
  "system" TEXT,
  "prompt_json" TEXT,
  "options_json" TEXT,
  "response" TEXT,
  "response_json" TEXT,
  "conversation_id" TEXT REFERENCES "conversations"("id"),
  "duration_ms" INTEGER,
  "datetime_utc" TEXT,
  "input_tokens" INTEGER,
  "output_tokens" INTEGER,
  "token_details" TEXT,
  "schema_id" TEXT REFERENCES "schemas"("id"),
  "resolved_model" TEXT,
  "reasoning" TEXT
);
CREATE TABLE "fragments" (
  "id" INTEGER PRIMARY KEY,
  "hash" TEXT,
  "content" TEXT,
  "datetime_utc" TEXT,
  "source" TEXT
);
CREATE TABLE "tools" (
  "id" INTEGER PRIMARY KEY,
  "hash" TEXT,
  "name" TEXT,
  "description" TEXT,
  "input_schema" TEXT,
  "plugin" TEXT
);
CREATE TABLE "tool_calls" (
  "id" INTEGER PRIMARY KEY,
  "response_id" TEXT REFERENCES "responses"("id"),
  "tool_id" INTEGER REFERENCES "tools"("id"),
  "name" TEXT,
  "arguments" TEXT,
  "tool_call_id" TEXT
);
CREATE TABLE "tool_results" (
  "id" INTEGER PRIMARY KEY,
  "response_id" TEXT REFERENCES "responses"("id"),
  "tool_id" INTEGER REFERENCES "tools"("id"),
  "name" TEXT,
  "output" TEXT,
  "tool_call_id" TEXT,
  "instance_id" INTEGER,
  "exception" TEXT
);
CREATE TABLE "messages" (
  "hash" TEXT PRIMARY KEY,
  "parent_hash" TEXT REFERENCES "messages"("hash"),
  "role" TEXT,
  "provider_metadata" TEXT
);
CREATE TABLE "parts" (
  "id" INTEGER PRIMARY KEY,
  "message_hash" TEXT REFERENCES "messages"("hash"),
  "position" INTEGER,
  "type" TEXT,
  "tool_name" TEXT,
  "text" TEXT,
  "payload" TEXT
);
CREATE TABLE "threads" (
  "id" TEXT PRIMARY KEY,
  "name" TEXT,
  "tip_message_hash" TEXT REFERENCES "messages"("hash"),
  "forked_from" TEXT REFERENCES "threads"("id"),
  "datetime_utc" TEXT
);
CREATE TABLE "turns" (
  "id" TEXT PRIMARY KEY,
  "thread_id" TEXT REFERENCES "threads"("id"),
  "parent_message_hash" TEXT REFERENCES "messages"("hash"),
  "tip_message_hash" TEXT REFERENCES "messages"("hash"),
  "model" TEXT,
  "resolved_model" TEXT,
  "options_json" TEXT,
  "schema_id" TEXT REFERENCES "schemas"("id"),
  "input_tokens" INTEGER,
  "output_tokens" INTEGER,
  "token_details" TEXT,
  "duration_ms" INTEGER,
  "datetime_utc" TEXT,
  "response_json" TEXT
);
"""

T1, T2, T3 = "2026-01-01 10:00:00.000001+00:00", "2026-01-01 10:00:05+00:00", "2026-01-01 10:02:00+00:00"

#: The message chain of thread t1, oldest first: (hash, role, [(type, tool_name, text, payload)]).
#: Part payloads are Part.to_dict() minus type and text (llm/parts.py, llm/logs.py _write_part).
CHAIN: list[tuple[str, str, list[tuple[str, str | None, str | None, object]]]] = [
    ("h-sys", "system", [("text", None, "You are a helpful assistant.", None)]),
    ("h-u1", "user", [("text", None, "Weather in Paris?", None)]),
    (
        "h-a1",
        "assistant",
        [
            ("reasoning", None, "the user wants weather", None),
            ("text", None, "Checking.", None),
            ("tool_call", "get_weather", None, {"name": "get_weather", "arguments": {"city": "Paris"}}),
        ],
    ),
    ("h-u2", "user", [("tool_result", "get_weather", None, {"name": "get_weather", "output": "18C sunny"})]),
    ("h-a2", "assistant", [("text", None, "It is 18C and sunny.", None)]),
    (
        "h-u3",
        "user",
        [("text", None, None, {"text_ref": [{"fragment": 1}, {"literal": "\nsummarize this"}]})],
    ),
    (
        "h-a3",
        "assistant",
        [
            ("text", None, "Summary.", None),
            ("attachment", None, None, {"attachment": {"id": "att-1"}}),
            ("hologram", None, None, {"x": 1}),
            ("tool_call", "broken", None, "{not json"),
        ],
    ),
]


def build_db(path: Path) -> None:
    """One thread (with a system prompt, tool use, reasoning, a fragment, an unknown part type and
    a malformed payload) and legacy conversations, one of them also written as that thread."""
    db = sqlite3.connect(path)
    db.executescript(LLM_SCHEMA)
    db.execute("INSERT INTO fragments (id, hash, content) VALUES (1, 'f', 'PASTED FILE CONTENT')")
    parent = None
    for message_hash, role, parts in CHAIN:
        db.execute("INSERT INTO messages VALUES (?, ?, ?, NULL)", (message_hash, parent, role))
        for position, (kind, tool_name, text, payload) in enumerate(parts):
            body = payload if isinstance(payload, str) or payload is None else json.dumps(payload)
            db.execute(
                "INSERT INTO parts (message_hash, position, type, tool_name, text, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (message_hash, position, kind, tool_name, text, body),
            )
        parent = message_hash
    db.execute("INSERT INTO threads VALUES ('t1', 'Weather chat', 'h-a3', NULL, ?)", (T1,))
    db.execute("INSERT INTO threads VALUES ('t-empty', 'nothing yet', NULL, NULL, ?)", (T1,))
    for turn, parent_hash, tip, when in (
        ("turn-1", "h-u1", "h-a1", T1),
        ("turn-2", "h-u2", "h-a2", T2),
        ("turn-3", "h-u3", "h-a3", T3),
    ):
        db.execute(
            "INSERT INTO turns (id, thread_id, parent_message_hash, tip_message_hash, datetime_utc)"
            " VALUES (?, 't1', ?, ?, ?)",
            (turn, parent_hash, tip, when),
        )
    _legacy_rows(db)
    db.commit()
    db.close()


def _legacy_rows(db: sqlite3.Connection) -> None:
    """Conversations and responses as llm before 0.32 logged them (llm/migrations.py m010-m021)."""
    db.executemany(
        "INSERT INTO conversations VALUES (?, ?, 'gpt-4o')",
        [("c1", "Python help"), ("t1", "Weather chat"), ("c3", "")],
    )
    responses = [
        ("r1", "c1", "How do I read a file?", "Use open().", "2024-05-01T10:00:00.000001"),
        ("r2", "c1", "", "It says hello.", "2024-05-01T10:00:05"),
        ("r3", "c1", "Thanks", "You're welcome.", "2024-05-01T10:01:00"),
        ("r-dual", "t1", "Weather in Paris?", "Checking.", "2026-01-01T10:00:00"),
        ("turn-2", "c3", "written twice", "also a turn", "2026-01-01T10:00:05"),
        ("r4", "c3", "Only in legacy", "Yes.", "2024-06-01T08:00:00"),
        ("r-solo", None, "solo prompt", "solo answer", "2024-07-01T09:00:00"),
    ]
    db.executemany(
        "INSERT INTO responses (id, conversation_id, prompt, response, datetime_utc, system, reasoning)"
        " VALUES (?, ?, ?, ?, ?, 'system prompt', 'hidden reasoning')",
        responses,
    )
    db.execute(
        "INSERT INTO tool_calls (response_id, name, arguments) VALUES ('r1', 'read_file', ?)",
        ('{"path": "a.txt"}',),
    )
    db.execute(
        "INSERT INTO tool_results (response_id, name, output) VALUES ('r2', 'read_file', ?)",
        ("hello\nworld",),
    )
    db.execute(
        "INSERT INTO tool_results (response_id, name, output, exception)"
        " VALUES ('r3', 'lookup', '', 'ValueError: bad')"
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder standing for llm's user folder."""
    path = tmp_path / "io.datasette.llm"
    path.mkdir()
    return path


def read_all(path: Path) -> tuple[list[ImportedSession], list[SourceProblem]]:
    problems: list[SourceProblem] = []
    return list(llm.SOURCE.read(path, problems)), problems


def test_threads_and_legacy_conversations_are_read_once(folder: Path) -> None:
    db = folder / "logs.db"
    build_db(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    sessions, problems = read_all(db)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(folder.iterdir()) == [db]
    assert [s.source_id for s in sessions] == ["t1", "r-solo", "c1", "c3"]
    assert all(s.project is None and s.path == str(db) for s in sessions)
    thread = sessions[0]
    assert (thread.title, thread.created) == ("Weather chat", datetime(2026, 1, 1, 10, 0, 0, 1, tzinfo=UTC))
    t1, t3 = datetime(2026, 1, 1, 10, 0, 0, 1, tzinfo=UTC), datetime(2026, 1, 1, 10, 2, tzinfo=UTC)
    assert [(m.role, m.content, m.timestamp) for m in thread.messages] == [
        ("user", "Weather in Paris?", t1),
        (
            "assistant",
            "Checking.\n\n[tool get_weather: with city]\n\n"
            "[get_weather result: 18C sunny]\n\nIt is 18C and sunny.",
            t1,
        ),
        ("user", "summarize this", t3),  # the pasted fragment is left out
        ("assistant", "Summary.", t3),
    ]
    assert problems == [
        SourceProblem(
            f"{db} (thread t1, message h-a3, part 3)", "part skipped: its payload is not a JSON object"
        )
    ]


def test_legacy_responses_fold_tool_calls_and_results(folder: Path) -> None:
    build_db(folder / "logs.db")
    sessions, _ = read_all(folder)  # the user folder works as well as the file
    by_id = {s.source_id: s for s in sessions}
    legacy = by_id["c1"]
    assert (legacy.title, legacy.created) == ("Python help", datetime(2024, 5, 1, 10, 0, 0, 1, tzinfo=UTC))
    assert [(m.role, m.content, m.timestamp) for m in legacy.messages] == [
        ("user", "How do I read a file?", datetime(2024, 5, 1, 10, 0, 0, 1, tzinfo=UTC)),
        (
            "assistant",
            "Use open().\n\n[tool read_file: path: a.txt]\n\n"
            "[read_file result: hello world]\n\nIt says hello.\n\n"
            "[lookup failed: ValueError: bad]",
            datetime(2024, 5, 1, 10, 0, 0, 1, tzinfo=UTC),
        ),
        ("user", "Thanks", datetime(2024, 5, 1, 10, 1, tzinfo=UTC)),
        ("assistant", "You're welcome.", datetime(2024, 5, 1, 10, 1, tzinfo=UTC)),
    ]
    assert [(m.role, m.content) for m in by_id["c3"].messages] == [
        ("user", "Only in legacy"),
        ("assistant", "Yes."),
    ]
    assert by_id["c3"].title is None
    assert [m.content for m in by_id["r-solo"].messages] == ["solo prompt", "solo answer"]


def test_not_an_llm_database(folder: Path) -> None:
    other = folder / "logs.db"
    sqlite3.connect(other).execute("CREATE TABLE unrelated (x)").connection.close()
    assert read_all(other) == ([], [SourceProblem(str(other), "is not an llm log database")])
    missing = folder / "missing.db"
    sessions, problems = read_all(missing)
    assert sessions == [] and [p.where for p in problems] == [str(missing)]


def test_default_path_follows_llm_user_dir(tmp_path: Path) -> None:
    assert llm.default_path({"LLM_USER_PATH": "/u"}) == Path("/u/logs.db")
    assert llm.default_path({"HOME": "/h", "XDG_CONFIG_HOME": "/c"}) == Path("/c/io.datasette.llm/logs.db")
    assert llm.default_path({"HOME": "/h"}) == Path("/h/.config/io.datasette.llm/logs.db")
    env = {"LLM_USER_PATH": str(tmp_path / "llm")}
    assert llm.SOURCE.locate(tmp_path, False, env) == []
    (tmp_path / "llm").mkdir()
    build_db(tmp_path / "llm" / "logs.db")
    assert llm.SOURCE.locate(tmp_path, False, env) == [tmp_path / "llm" / "logs.db"]


HOSTILE_PAYLOADS: list[tuple[str, object]] = [
    ("tool_call", {"name": ["x"], "arguments": "not json {"}),
    ("tool_result", {"output": {"nested": 1}, "exception": None}),
    ("text", {"text_ref": [{"fragment": {"id": 1}}, "piece", {"literal": 3}]}),
    ("text", {"text_ref": "not a list"}),
]


@pytest.mark.parametrize(("kind", "payload"), HOSTILE_PAYLOADS, ids=repr)
def test_payloads_of_any_shape_never_raise(folder: Path, kind: str, payload: object) -> None:
    db_path = folder / "logs.db"
    db = sqlite3.connect(db_path)
    db.executescript(LLM_SCHEMA)
    db.execute("INSERT INTO messages VALUES ('u', NULL, 'user', NULL), ('a', 'u', 'assistant', NULL)")
    db.execute("INSERT INTO parts (message_hash, position, type, text) VALUES ('u', 0, 'text', 'question')")
    db.execute(
        "INSERT INTO parts (message_hash, position, type, payload) VALUES ('a', 0, ?, ?)",
        (kind, json.dumps(payload)),
    )
    db.execute("INSERT INTO parts (message_hash, position, type, text) VALUES ('a', 1, 'text', 'answer')")
    db.execute("INSERT INTO threads VALUES ('t', NULL, 'a', NULL, 'not a date')")
    db.commit()
    db.close()
    sessions, problems = read_all(db_path)
    assert problems == []
    (session,) = sessions
    assert [m.role for m in session.messages] == ["user", "assistant"]
    assert session.messages[1].content.endswith("answer")
    assert session.created is None


def test_the_binary_imports_llm_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "src" / "llm.db"
    db.parent.mkdir()
    build_db(db)
    work = tmp_path / "work"
    work.mkdir()
    assert_imports_through_the_binary("llm", db, work)
