"""The opencode reader against an ``opencode.db`` built with opencode's schema, and its JSON storage."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chatcli.importers import opencode
from chatcli.importers.base import ImportedSession, SourceProblem
from tests.helpers import assert_imports_through_the_binary

# The SQLite tables of opencode's first database migration
# (anomalyco/opencode packages/opencode/migration/20260127222353_familiar_lady_ursula/migration.sql,
# generated from packages/opencode/src/session/session.sql.ts and src/project/project.sql.ts).
OPENCODE_SCHEMA = """
CREATE TABLE `project` (
    `id` text PRIMARY KEY,
    `worktree` text NOT NULL,
    `vcs` text,
    `name` text,
    `icon_url` text,
    `icon_color` text,
    `time_created` integer NOT NULL,
    `time_updated` integer NOT NULL,
    `time_initialized` integer,
    `sandboxes` text NOT NULL
);
CREATE TABLE `session` (
    `id` text PRIMARY KEY,
    `project_id` text NOT NULL,
    `parent_id` text,
    `slug` text NOT NULL,
    `directory` text NOT NULL,
    `title` text NOT NULL,
    `version` text NOT NULL,
    `share_url` text,
    `summary_additions` integer,
    `summary_deletions` integer,
    `summary_files` integer,
    `summary_diffs` text,
    `revert` text,
    `permission` text,
    `time_created` integer NOT NULL,
    `time_updated` integer NOT NULL,
    `time_compacting` integer,
    `time_archived` integer,
    CONSTRAINT `fk_session_project_id_project_id_fk`
      FOREIGN KEY (`project_id`) REFERENCES `project`(`id`) ON DELETE CASCADE
);
CREATE TABLE `message` (
    `id` text PRIMARY KEY,
    `session_id` text NOT NULL,
    `time_created` integer NOT NULL,
    `time_updated` integer NOT NULL,
    `data` text NOT NULL,
    CONSTRAINT `fk_message_session_id_session_id_fk`
      FOREIGN KEY (`session_id`) REFERENCES `session`(`id`) ON DELETE CASCADE
);
CREATE TABLE `part` (
    `id` text PRIMARY KEY,
    `message_id` text NOT NULL,
    `session_id` text NOT NULL,
    `time_created` integer NOT NULL,
    `time_updated` integer NOT NULL,
    `data` text NOT NULL,
    CONSTRAINT `fk_part_message_id_message_id_fk`
      FOREIGN KEY (`message_id`) REFERENCES `message`(`id`) ON DELETE CASCADE
);
CREATE INDEX `session_project_idx` ON `session` (`project_id`);
CREATE INDEX `message_session_idx` ON `message` (`session_id`);
CREATE INDEX `part_message_idx` ON `part` (`message_id`);
"""

MS = 1_750_000_000_000


def user(at: int) -> dict[str, Any]:
    """MessageV2.User (packages/opencode/src/session/message-v2.ts) without id and sessionID."""
    return {
        "role": "user",
        "time": {"created": at},
        "agent": "build",
        "model": {"providerID": "p", "modelID": "m"},
    }


def assistant(at: int, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "time": {"created": at, "completed": at + 500}, "parentID": "x", **extra}


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def tool(name: str, state: dict[str, Any]) -> dict[str, Any]:
    """MessageV2.ToolPart: the call's input and, once it ran, its output or error."""
    return {"type": "tool", "callID": f"call-{name}", "tool": name, "state": state}


EDIT = {
    "status": "completed",
    "input": {"filePath": "src/a.py", "oldString": "foo", "newString": "bar"},
    "output": "Edit applied\nok",
    "title": "src/a.py",
    "metadata": {},
    "time": {"start": MS + 1100, "end": MS + 1200},
}
FAILED = {
    "status": "error",
    "input": {"command": "pytest"},
    "error": "exit 1",
    "time": {"start": 1, "end": 2},
}

#: session id -> (directory, title, parent, revert, [(message id, data, [parts])])
SESSIONS: dict[str, tuple[str, str, str | None, object, list[tuple[str, object, list[object]]]]] = {
    "ses_a": (
        "/proj/a",
        "Refactor parser",
        None,
        {"messageID": "msg_a6"},
        [
            (
                "msg_a1",
                user(MS),
                [
                    text("Rename foo to bar"),
                    text("Called the Read tool with the following input", synthetic=True),
                    {"type": "file", "mime": "text/plain", "filename": "a.py", "url": "file:///a.py"},
                ],
            ),
            (
                "msg_a2",
                assistant(MS + 1000),
                [
                    {"type": "step-start"},
                    {"type": "reasoning", "text": "private chain of thought", "time": {"start": 1}},
                    text("Renaming now."),
                    tool("edit", EDIT),
                    tool("bash", FAILED),
                    {"type": "hologram", "payload": 1},
                    "[1, 2]",
                    {"type": "step-finish", "reason": "stop", "cost": 0, "tokens": {}},
                ],
            ),
            ("msg_a3", "{oops", []),
            ("msg_a3b", {"role": "user", "time": 5}, [text("Undated")]),  # time of the row instead
            ("msg_a4", assistant(MS + 3000, summary=True), [text("compaction summary")]),
            ("msg_a5", user(MS + 5000), [text("Thanks")]),
            ("msg_a6", user(MS + 6000), [text("reverted prompt")]),
            ("msg_a7", assistant(MS + 7000), [text("reverted reply")]),
        ],
    ),
    "ses_b": (
        "/proj/b",
        "New session - 2025-06-15T14:40:00.000Z",
        None,
        None,
        [
            ("msg_b1", user(MS + 9000), [text("Other project")]),
            ("msg_b2", assistant(MS + 9500), [text("Hi")]),
        ],
    ),
    "ses_child": ("/proj/a", "Sub-agent", "ses_a", None, [("msg_c1", user(MS + 2000), [text("sub")])]),
}


def build_db(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(OPENCODE_SCHEMA)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("INSERT INTO project VALUES ('p1', '/proj', 'git', NULL, NULL, NULL, 0, 0, NULL, '[]')")
    for number, (sid, (directory, title, parent, revert, messages)) in enumerate(SESSIONS.items()):
        db.execute(
            "INSERT INTO session (id, project_id, parent_id, slug, directory, title, version, revert,"
            " time_created, time_updated) VALUES (?, 'p1', ?, 'slug', ?, ?, '1.0', ?, ?, ?)",
            (sid, parent, directory, title, json.dumps(revert) if revert else None, MS + number, MS),
        )
        for mid, data, parts in messages:
            time = data.get("time") if isinstance(data, dict) else None
            created = time["created"] if isinstance(time, dict) else MS + 2500
            encoded = data if isinstance(data, str) else json.dumps(data)
            db.execute("INSERT INTO message VALUES (?, ?, ?, ?, ?)", (mid, sid, created, created, encoded))
            for index, part in enumerate(parts):
                body = part if isinstance(part, str) else json.dumps(part)
                db.execute(
                    "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                    (f"prt_{mid}_{index:02d}", mid, sid, created, created, body),
                )
    db.commit()
    db.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """An empty folder standing for opencode's data folder."""
    path = tmp_path / "opencode-data"
    path.mkdir()
    return path


def read_all(path: Path) -> tuple[list[ImportedSession], list[SourceProblem]]:
    problems: list[SourceProblem] = []
    return list(opencode.SOURCE.read(path, problems)), problems


def at(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


def test_database_sessions_map_text_tools_and_stop_at_the_revert(data: Path) -> None:
    db = data / "opencode.db"
    build_db(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    sessions, problems = read_all(db)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(data.iterdir()) == [db]
    by_id = {session.source_id: session for session in sessions}
    assert set(by_id) == {"ses_a", "ses_b"}  # the sub-agent's child session is not imported
    first = by_id["ses_a"]
    assert (first.title, first.project, first.created) == ("Refactor parser", "/proj/a", at(MS))
    assert [(m.role, m.content, m.timestamp) for m in first.messages] == [
        ("user", "Rename foo to bar", at(MS)),
        (
            "assistant",
            "Renaming now.\n\n"
            "[tool edit: filePath: src/a.py]\n\n"
            "[edit result: Edit applied ok]\n\n"
            "[tool bash: command: pytest]\n\n"
            "[bash failed: exit 1]",
            at(MS + 1000),
        ),
        ("user", "Undated", at(MS + 2500)),
        ("user", "Thanks", at(MS + 5000)),
    ]
    assert by_id["ses_b"].title is None  # opencode's placeholder title is not a name
    assert by_id["ses_b"].project == "/proj/b"
    assert [p.where for p in problems] == [
        f"{db} (session ses_a, message msg_a2, part prt_msg_a2_06)",
        f"{db} (session ses_a, message msg_a3)",
    ]
    assert all("not a JSON object" in p.reason for p in problems)


def test_a_data_folder_reads_its_database(data: Path) -> None:
    build_db(data / "opencode.db")
    sessions, problems = read_all(data)
    assert sorted(s.source_id for s in sessions) == ["ses_a", "ses_b"]
    assert len(problems) == 2


def write(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value if isinstance(value, str) else json.dumps(value))


def test_json_storage_of_older_versions(data: Path) -> None:
    """The pre-database layout (packages/opencode/src/storage/json-migration.ts reads the same)."""
    storage = data / "storage"
    session = {
        "id": "ses_x",
        "projectID": "p1",
        "directory": "/proj/x",
        "title": "Old one",
        "time": {"created": MS},
    }
    write(storage / "session" / "p1" / "ses_x.json", session)
    write(storage / "session" / "p1" / "ses_y.json", {**session, "id": "ses_y", "parentID": "ses_x"})
    write(storage / "message" / "ses_x" / "msg_1.json", {"id": "msg_1", "sessionID": "ses_x", **user(MS)})
    write(
        storage / "part" / "msg_1" / "prt_1.json", {"id": "prt_1", "messageID": "msg_1", **text("old prompt")}
    )
    write(storage / "message" / "ses_x" / "msg_2.json", {"id": "msg_2", **assistant(MS + 10)})
    write(
        storage / "part" / "msg_2" / "prt_1.json", {"type": "reasoning", "text": "hmm", "time": {"start": 1}}
    )
    write(storage / "part" / "msg_2" / "prt_2.json", text("old reply"))
    broken = storage / "message" / "ses_x" / "msg_3.json"
    write(broken, "{not json")
    sessions, problems = read_all(data)
    assert [(s.source_id, s.title, s.project, s.path) for s in sessions] == [
        ("ses_x", "Old one", "/proj/x", str(storage / "session" / "p1" / "ses_x.json"))
    ]
    assert [(m.role, m.content, m.timestamp) for m in sessions[0].messages] == [
        ("user", "old prompt", at(MS)),
        ("assistant", "old reply", at(MS + 10)),
    ]
    assert problems == [SourceProblem(str(broken), "skipped: not a JSON object")]


def test_locate_prefers_the_database_and_honours_opencode_db(tmp_path: Path, data: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(data.parent)}
    assert opencode.data_folder({"HOME": "/h"}) == Path("/h/.local/share/opencode")
    assert opencode.SOURCE.locate(tmp_path, False, env) == []
    (data.parent / "opencode" / "storage").mkdir(parents=True)
    assert opencode.SOURCE.locate(tmp_path, False, env) == [data.parent / "opencode" / "storage"]
    build_db(data.parent / "opencode" / "opencode.db")
    assert opencode.SOURCE.locate(tmp_path, True, env) == [data.parent / "opencode" / "opencode.db"]
    custom = tmp_path / "custom.db"
    build_db(custom)
    assert opencode.SOURCE.locate(tmp_path, False, {**env, "OPENCODE_DB": str(custom)}) == [custom]


def test_not_a_database_is_one_problem(data: Path) -> None:
    bogus = data / "opencode.db"
    bogus.write_bytes(b"\x00" * 100)
    assert read_all(bogus) == ([], [SourceProblem(str(bogus), "is not a SQLite database")])


HOSTILE_PARTS: list[object] = [
    {"type": "tool", "tool": ["not", "a", "name"], "state": "not an object"},
    {"type": "tool", "tool": "bash", "state": {"status": "completed", "input": "ls -la", "output": None}},
    {"type": "text", "text": ["a", "list"]},
    {"type": None, "text": "no type"},
]


@pytest.mark.parametrize("part", HOSTILE_PARTS, ids=repr)
def test_parts_of_any_shape_never_raise(data: Path, part: object) -> None:
    storage = data / "storage"
    write(
        storage / "session" / "p" / "ses_h.json",
        {"directory": 5, "title": None, "time": "never", "revert": []},
    )
    write(storage / "message" / "ses_h" / "msg_1.json", {"role": "user", "time": "yesterday"})
    write(storage / "part" / "msg_1" / "prt_1.json", text("question"))
    write(storage / "message" / "ses_h" / "msg_2.json", {"role": "assistant", "time": {"created": "x"}})
    write(storage / "part" / "msg_2" / "prt_1.json", part)
    write(storage / "part" / "msg_2" / "prt_2.json", text("answer"))
    sessions, problems = read_all(storage)
    assert problems == []
    (session,) = sessions
    assert (session.title, session.project, session.created) == (None, None, None)
    assert [m.role for m in session.messages] == ["user", "assistant"]
    assert session.messages[1].content.endswith("answer")


def test_a_pipe_in_the_storage_folder_is_a_problem_and_never_blocks(data: Path) -> None:
    storage = data / "storage"
    write(storage / "session" / "p" / "ses_f.json", {"directory": "/p", "title": "t"})
    (storage / "message" / "ses_f").mkdir(parents=True)
    fifo = storage / "message" / "ses_f" / "msg_1.json"
    os.mkfifo(fifo)
    sessions, problems = read_all(storage)
    assert sessions == []
    assert [p.where for p in problems] == [str(fifo)]
    assert "not a regular file" in problems[0].reason


def test_the_binary_imports_opencode_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "src" / "opencode.db"
    db.parent.mkdir()
    build_db(db)
    work = tmp_path / "work"
    work.mkdir()
    assert_imports_through_the_binary("opencode", db, work)
