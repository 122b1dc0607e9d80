"""``sessions import --from TOOL``: each reader (Claude Code, Codex, Gemini CLI, Amazon Q) and
hostile input, a problem per item.

The tools' files are written from their public formats (:mod:`tests.helpers.tool_histories`)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from chatcli.importers import amazon_q, claude_code, codex, gemini
from tests.helpers.tool_histories import (
    PROJECT,
    _jsonl,
    amazon_q_database,
    amazon_q_state,
    claude_fixture,
    codex_fixture,
    gemini_fixture,
    read_source,
)

# ---------------------------------------------------------------------------- readers


def test_claude_code_main_line_tool_notes_and_title(tmp_path: Path) -> None:
    file = claude_fixture(tmp_path / "c")
    messages, problems, sessions = read_source(claude_code.SOURCE, file)
    assert messages == [
        [
            ("user", "Why does login fail?"),
            ("assistant", "[tool Bash: command: pytest -q]"),
            ("assistant", "[Bash result: 1 failed]"),
            ("assistant", "The token expired."),
        ]
    ]
    assert sessions[0].title == "fix-login" and sessions[0].project == PROJECT  # type: ignore[attr-defined]
    assert [p.where for p in problems] == [f"{file}:4"]


def test_claude_code_locate_honours_claude_config_dir(tmp_path: Path) -> None:
    folder = tmp_path / "cfg/projects" / "-home-dev-demo-app"
    claude_fixture(folder)
    assert claude_code.locate(Path(PROJECT), False, {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}) == [folder]
    assert claude_code.locate(Path("/other"), False, {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}) == []


def test_codex_maps_items_and_drops_reasoning_instructions_and_events(tmp_path: Path) -> None:
    file = codex_fixture(tmp_path / "codex")
    messages, problems, _ = read_source(codex.SOURCE, file)
    assert messages == [
        [
            ("user", "list the files"),
            ("assistant", "[tool shell: command: ls -la]"),
            ("assistant", "[shell result: a.txt b.txt]"),
            ("assistant", "Two files."),
        ]
    ]
    assert [p.where for p in problems] == [f"{file}:4"]


def test_codex_older_rollout_without_payload_wrappers(tmp_path: Path) -> None:
    # Older codex-rs/core/src/rollout.rs wrote the SessionMeta object and the ResponseItems bare.
    file = _jsonl(
        tmp_path / "rollout-2025-04-01T00-00-00-old.jsonl",
        [
            {"id": "old-1", "timestamp": "2025-04-01T00:00:00Z", "instructions": None},
            {"record_type": "state"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]},
        ],
    )
    messages, problems, sessions = read_source(codex.SOURCE, file)
    assert messages == [[("user", "hello"), ("assistant", "hi")]] and problems == []
    assert sessions[0].source_id == "old-1"  # type: ignore[attr-defined]


def test_codex_locate_keeps_this_directory_only(tmp_path: Path) -> None:
    here = codex_fixture(tmp_path / "codex")
    codex_fixture(tmp_path / "codex", cwd="/somewhere/else", name="zzz")
    env = {"CODEX_HOME": str(tmp_path / "codex")}
    assert codex.locate(Path(PROJECT), False, env) == [here]
    assert len(codex.locate(Path(PROJECT), True, env)) == 2


def test_codex_zst_without_a_zstd_module_is_a_problem_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codex, "_zstd", lambda: None)
    file = tmp_path / "rollout-2025-01-01T00-00-00-x.jsonl.zst"
    file.write_bytes(b"\x28\xb5\x2f\xfd")
    _, problems, _ = read_source(codex.SOURCE, file)
    assert len(problems) == 1 and "zstandard" in problems[0].reason


def test_gemini_rewind_set_thoughts_and_notices(tmp_path: Path) -> None:
    file = gemini_fixture(tmp_path)
    messages, problems, sessions = read_source(gemini.SOURCE, file)
    assert messages == [
        [
            ("user", "read the README"),
            ("assistant", "[tool read_file: absolute_path: /p/README.md]"),
            ("assistant", "[read_file result: output: # Title]"),
            ("assistant", "It has a title."),
        ]
    ]
    assert sessions[0].title == "readme-tour"  # type: ignore[attr-defined]
    assert [p.where for p in problems] == [f"{file}:4"]
    assert gemini.locate(Path(PROJECT), False, {"HOME": str(tmp_path)}) == [file.parent]


def test_gemini_whole_json_session(tmp_path: Path) -> None:
    file = tmp_path / "session-1.json"
    file.write_text(
        json.dumps(
            {
                "sessionId": "g2",
                "startTime": "2025-01-01T00:00:00Z",
                "messages": [
                    {"id": "1", "timestamp": "2025-01-01T00:00:01Z", "type": "user", "content": "hi"},
                    {"id": "2", "timestamp": "2025-01-01T00:00:02Z", "type": "gemini", "content": "hello"},
                ],
            }
        )
    )
    messages, problems, _ = read_source(gemini.SOURCE, file)
    assert messages == [[("user", "hi"), ("assistant", "hello")]] and problems == []


EXPECTED_Q = [
    ("user", "what is in /tmp?"),
    ("assistant", "Let me look."),
    ("assistant", "[tool execute_bash: command: ls /tmp]"),
    ("assistant", "[execute_bash result: stdout: a b]"),
    ("assistant", "Two files: a and b."),
    ("user", "thanks"),
    ("assistant", "Welcome."),
]


def test_amazon_q_save_file_both_history_shapes(tmp_path: Path) -> None:
    file = tmp_path / "saved.json"
    file.write_text(json.dumps(amazon_q_state()))
    messages, problems, _ = read_source(amazon_q.SOURCE, file)
    assert messages == [EXPECTED_Q]
    assert [p.where for p in problems] == [f"{file}: history entry 4"]


def test_amazon_q_database_read_only_and_unchanged(tmp_path: Path) -> None:
    db = amazon_q_database(tmp_path / "q" / "data.sqlite3")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    os.chmod(db, 0o444)
    messages, problems, sessions = read_source(amazon_q.SOURCE, db)
    assert messages == [EXPECTED_Q] and sessions[0].project == PROJECT  # type: ignore[attr-defined]
    assert any("/elsewhere" in p.where and "not valid JSON" in p.reason for p in problems)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["data.sqlite3"]


def test_amazon_q_conversations_v2_holds_several_per_directory(tmp_path: Path) -> None:
    # Later releases: conversations_v2(key, conversation_id, value, created_at, updated_at).
    db = tmp_path / "data.sqlite3"
    connection = sqlite3.connect(db)
    connection.execute(
        "CREATE TABLE conversations_v2 (key TEXT NOT NULL, conversation_id TEXT NOT NULL, "
        "value TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, "
        "PRIMARY KEY (key, conversation_id))"
    )
    for cid in ("q-a", "q-b"):
        state = {**amazon_q_state(), "conversation_id": cid}
        connection.execute(
            "INSERT INTO conversations_v2 VALUES (?, ?, ?, 0, 0)", (PROJECT, cid, json.dumps(state))
        )
    connection.commit()
    connection.close()
    _, _, sessions = read_source(amazon_q.SOURCE, db)
    assert [s.source_id for s in sessions] == ["q-a", "q-b"]  # type: ignore[attr-defined]


def test_a_database_without_conversations_is_one_problem(tmp_path: Path) -> None:
    db = tmp_path / "data.sqlite3"
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE other (x)")
    connection.commit()
    connection.close()
    _, problems, sessions = read_source(amazon_q.SOURCE, db)
    assert sessions == [] and len(problems) == 1


# ---------------------------------------------------------------------------- hostile input


def test_hostile_input_is_a_problem_per_item(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "\n" + json.dumps({"type": "user"}) + "\n")
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"type": "caf\xe9"}\n')
    for source in (claude_code.SOURCE, codex.SOURCE, gemini.SOURCE, amazon_q.SOURCE):
        for path in (fifo, deep, latin):
            _, problems, _ = read_source(source, path)
            assert problems, (source.tool, path)


def test_a_huge_line_is_skipped_and_the_rest_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatcli.importers import common

    monkeypatch.setattr(common, "MAX_RECORD_BYTES", 1000)
    file = claude_fixture(tmp_path)
    with file.open("a") as out:
        out.write(json.dumps({"type": "user", "text": "x" * 5000}) + "\n")
    messages, problems, _ = read_source(claude_code.SOURCE, file)
    assert len(messages[0]) == 4 and any("longer than the limit" in p.reason for p in problems)
