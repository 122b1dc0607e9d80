"""``sessions import --from TOOL``: each reader on fixtures written from the tool's public format,
the writer (provenance, re-runs, dry runs), hostile input, and the round trip through the binary.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from chatcli.importers import amazon_q, claude_code, codex, gemini
from chatcli.importers.base import SourceProblem
from chatcli.importers.run import MAX_MESSAGE_CHARS, import_from
from chatcli.session.store import FileRepository
from tests.helpers import chatcli

PROJECT = "/home/dev/demo-app"


def _jsonl(path: Path, records: list[object], *, raw: tuple[str, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in records]
    path.write_text("\n".join([*lines[:3], *raw, *lines[3:]]) + "\n", encoding="utf-8")
    return path


# Format: anthropics/claude-code transcripts, one JSON object a line (type user/assistant/summary,
# uuid/parentUuid, message.content blocks text/tool_use/tool_result/thinking), as documented in
# the Claude Code SDK message types (sdk-tools / `SDKMessage`) and seen in ~/.claude/projects.
def claude_fixture(folder: Path, cwd: str = PROJECT) -> Path:
    t = "2025-06-01T10:00:{:02d}Z".format
    return _jsonl(
        folder / "s-claude-1.jsonl",
        [
            {"type": "summary", "summary": "fix-login", "leafUuid": "a3"},
            {
                "type": "user",
                "uuid": "u1",
                "parentUuid": None,
                "sessionId": "claude-1",
                "cwd": cwd,
                "timestamp": t(0),
                "message": {"role": "user", "content": "Why does login fail?"},
            },
            {
                "type": "user",
                "uuid": "m1",
                "parentUuid": "u1",
                "isMeta": True,
                "timestamp": t(1),
                "message": {"role": "user", "content": "<system-reminder>injected</system-reminder>"},
            },
            {
                "type": "assistant",
                "uuid": "a1",
                "parentUuid": "m1",
                "timestamp": t(2),
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "SECRET-THOUGHT", "signature": "x"},
                        {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "pytest -q"}},
                    ],
                },
            },
            {
                "type": "user",
                "uuid": "u2",
                "parentUuid": "a1",
                "timestamp": t(3),
                "message": {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "1 failed"}],
                },
            },
            {"type": "file-history-snapshot", "messageId": "x", "snapshot": {}},
            {
                "type": "assistant",
                "uuid": "a2",
                "parentUuid": "u2",
                "timestamp": t(4),
                "message": {"role": "assistant", "content": [{"type": "text", "text": "ABANDONED branch"}]},
            },
            {
                "type": "assistant",
                "uuid": "a3",
                "parentUuid": "u2",
                "timestamp": t(5),
                "message": {"role": "assistant", "content": [{"type": "text", "text": "The token expired."}]},
            },
        ],
        raw=("{not json",),
    )


# Format: openai/codex codex-rs/protocol/src/protocol.rs (RolloutLine {timestamp, type, payload},
# SessionMeta) and codex-rs/protocol/src/models.rs (ResponseItem: message, reasoning,
# function_call, function_call_output), written by codex-rs/core/src/rollout/recorder.rs.
def codex_fixture(home: Path, cwd: str = PROJECT, name: str = "abc") -> Path:
    def item(ts: int, payload: dict[str, object]) -> dict[str, object]:
        return {"timestamp": f"2025-06-02T09:00:{ts:02d}Z", "type": "response_item", "payload": payload}

    return _jsonl(
        home / "sessions/2025/06/02" / f"rollout-2025-06-02T09-00-00-{name}.jsonl",
        [
            {
                "timestamp": "2025-06-02T09:00:00Z",
                "type": "session_meta",
                "payload": {"id": f"codex-{name}", "timestamp": "2025-06-02T09:00:00Z", "cwd": cwd},
            },
            item(
                1,
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": "DEV-INSTRUCTIONS"}],
                },
            ),
            item(
                1,
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {
                            "type": "input_text",
                            "text": "<environment_context>\n<cwd>/x</cwd>\n</environment_context>",
                        }
                    ],
                },
            ),
            item(
                2,
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "list the files"}],
                },
            ),
            item(3, {"type": "reasoning", "summary": [], "encrypted_content": "ENCRYPTED-BLOB"}),
            item(
                4,
                {
                    "type": "function_call",
                    "name": "shell",
                    "arguments": '{"command": ["ls", "-la"]}',
                    "call_id": "c1",
                },
            ),
            item(5, {"type": "function_call_output", "call_id": "c1", "output": "a.txt b.txt"}),
            {
                "timestamp": "2025-06-02T09:00:05Z",
                "type": "event_msg",
                "payload": {"type": "agent_message", "message": "DUPLICATE"},
            },
            {"timestamp": "2025-06-02T09:00:05Z", "type": "brand_new_type", "payload": {}},
            item(
                6,
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Two files."}],
                },
            ),
        ],
        raw=("[1, 2",),
    )


# Format: google-gemini/gemini-cli packages/core/src/services/chatRecordingTypes.ts
# (ConversationRecord, MessageRecord user/gemini/info, ToolCallRecord, thoughts, RewindRecord
# {$rewindTo}, MetadataUpdateRecord {$set}) as written by chatRecordingService.ts.
def gemini_fixture(home: Path, cwd: str = PROJECT) -> Path:
    chats = home / ".gemini/tmp" / hashlib.sha256(cwd.encode()).hexdigest() / "chats"
    return _jsonl(
        chats / "session-2025-06-03T08-00-gem1.jsonl",
        [
            {
                "sessionId": "gem-1",
                "projectHash": "h",
                "startTime": "2025-06-03T08:00:00Z",
                "lastUpdated": "x",
            },
            {
                "id": "m1",
                "timestamp": "2025-06-03T08:00:01Z",
                "type": "user",
                "content": [{"text": "read the README"}],
            },
            {
                "id": "m2",
                "timestamp": "2025-06-03T08:00:02Z",
                "type": "gemini",
                "content": "",
                "thoughts": [{"subject": "SECRET-THOUGHT", "description": "d"}],
                "toolCalls": [
                    {
                        "id": "t",
                        "name": "read_file",
                        "args": {"absolute_path": "/p/README.md"},
                        "status": "success",
                        "result": [
                            {
                                "functionResponse": {
                                    "id": "t",
                                    "name": "read_file",
                                    "response": {"output": "# Title"},
                                }
                            }
                        ],
                    }
                ],
            },
            {"id": "m3", "timestamp": "2025-06-03T08:00:03Z", "type": "gemini", "content": "It has a title."},
            {"id": "m4", "timestamp": "2025-06-03T08:00:04Z", "type": "user", "content": "REWOUND prompt"},
            {"$rewindTo": "m4"},
            {"$set": {"summary": "readme-tour"}},
            {"id": "m5", "timestamp": "2025-06-03T08:00:05Z", "type": "info", "content": "NOTICE"},
            {"id": "m6", "timestamp": "2025-06-03T08:00:06Z", "type": "from_the_future", "content": "?"},
        ],
        raw=('"just a string"',),
    )


# Format: aws/amazon-q-developer-cli crates/chat-cli/src/cli/chat/conversation.rs (ConversationState:
# conversation_id, history as [user, assistant] pairs or {user, assistant, request_metadata}) and
# crates/chat-cli/src/cli/chat/message.rs (UserMessageContent Prompt/ToolUseResults,
# AssistantMessage Response/ToolUse); the database table is `conversations(key, value)`.
def amazon_q_state() -> dict[str, object]:
    return {
        "conversation_id": "q-1",
        "history": [
            [
                {
                    "additional_context": "--- CONTEXT ENTRY BEGIN ---\nINJECTED-CONTEXT\n",
                    "env_context": {},
                    "content": {"Prompt": {"prompt": "what is in /tmp?"}},
                    "timestamp": "2025-06-04T10:00:00+02:00",
                },
                {
                    "ToolUse": {
                        "message_id": "m1",
                        "content": "Let me look.",
                        "tool_uses": [{"id": "t1", "name": "execute_bash", "args": {"command": "ls /tmp"}}],
                    }
                },
            ],
            {
                "user": {
                    "content": {
                        "ToolUseResults": {
                            "tool_use_results": [
                                {
                                    "tool_use_id": "t1",
                                    "content": [{"Json": {"stdout": "a b"}}],
                                    "status": "Success",
                                }
                            ]
                        }
                    }
                },
                "assistant": {"Response": {"message_id": "m2", "content": "Two files: a and b."}},
                "request_metadata": {"request_start_timestamp_ms": 1749024005000},
            },
            {"user": {"content": {"Prompt": "thanks"}}, "assistant": {"Response": {"content": "Welcome."}}},
            "not an exchange",
        ],
    }


def amazon_q_database(path: Path, key: str = PROJECT, *, other: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE conversations (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO conversations VALUES (?, ?)", (key, json.dumps(amazon_q_state())))
    db.execute("INSERT INTO conversations VALUES (?, ?)", ("/elsewhere", "{broken"))
    if other is not None:
        state = {**amazon_q_state(), "conversation_id": "q-other"}
        db.execute("INSERT INTO conversations VALUES (?, ?)", (other, json.dumps(state)))
    db.commit()
    db.close()
    return path


def _read(
    source: object, path: Path
) -> tuple[list[list[tuple[str, str]]], list[SourceProblem], list[object]]:
    problems: list[SourceProblem] = []
    sessions = list(source.read(path, problems))  # type: ignore[attr-defined]
    return [[(m.role, m.content) for m in s.messages] for s in sessions], problems, sessions


# ---------------------------------------------------------------------------- readers


def test_claude_code_main_line_tool_notes_and_title(tmp_path: Path) -> None:
    file = claude_fixture(tmp_path / "c")
    messages, problems, sessions = _read(claude_code.SOURCE, file)
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
    messages, problems, _ = _read(codex.SOURCE, file)
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
    messages, problems, sessions = _read(codex.SOURCE, file)
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
    _, problems, _ = _read(codex.SOURCE, file)
    assert len(problems) == 1 and "zstandard" in problems[0].reason


def test_gemini_rewind_set_thoughts_and_notices(tmp_path: Path) -> None:
    file = gemini_fixture(tmp_path)
    messages, problems, sessions = _read(gemini.SOURCE, file)
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
    messages, problems, _ = _read(gemini.SOURCE, file)
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
    messages, problems, _ = _read(amazon_q.SOURCE, file)
    assert messages == [EXPECTED_Q]
    assert [p.where for p in problems] == [f"{file}: history entry 4"]


def test_amazon_q_database_read_only_and_unchanged(tmp_path: Path) -> None:
    db = amazon_q_database(tmp_path / "q" / "data.sqlite3")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    os.chmod(db, 0o444)
    messages, problems, sessions = _read(amazon_q.SOURCE, db)
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
    _, _, sessions = _read(amazon_q.SOURCE, db)
    assert [s.source_id for s in sessions] == ["q-a", "q-b"]  # type: ignore[attr-defined]


def test_a_database_without_conversations_is_one_problem(tmp_path: Path) -> None:
    db = tmp_path / "data.sqlite3"
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE other (x)")
    connection.commit()
    connection.close()
    _, problems, sessions = _read(amazon_q.SOURCE, db)
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
            _, problems, _ = _read(source, path)
            assert problems, (source.tool, path)


def test_a_huge_line_is_skipped_and_the_rest_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatcli.importers import common

    monkeypatch.setattr(common, "MAX_RECORD_BYTES", 1000)
    file = claude_fixture(tmp_path)
    with file.open("a") as out:
        out.write(json.dumps({"type": "user", "text": "x" * 5000}) + "\n")
    messages, problems, _ = _read(claude_code.SOURCE, file)
    assert len(messages[0]) == 4 and any("longer than the limit" in p.reason for p in problems)


# ---------------------------------------------------------------------------- the writer


def test_rerun_skips_then_appends_only_new_messages(repo: FileRepository, tmp_path: Path) -> None:
    file = claude_fixture(tmp_path / "c")
    first = import_from(repo, "claude-code", [file], cwd=Path(PROJECT))
    assert [e.action for e in first.entries] == ["imported"]
    session_id = first.entries[0].session_id
    assert session_id is not None
    meta = repo.get(session_id)
    assert meta.name == "fix-login" and meta.message_count == 2  # merged: user, assistant
    assert meta.custom_fields["imported_from"]["tool"] == "claude-code"
    assert meta.custom_fields["imported_from"]["source_id"] == "claude-1"
    again = import_from(repo, "claude-code", [file], cwd=Path(PROJECT))
    assert [e.action for e in again.entries] == ["unchanged"] and len(repo.list()) == 1
    with file.open("a") as out:
        out.write(
            json.dumps(
                {
                    "type": "user",
                    "uuid": "u9",
                    "parentUuid": "a3",
                    "timestamp": "2025-06-01T11:00:00Z",
                    "message": {"role": "user", "content": "and now?"},
                }
            )
            + "\n"
        )
    grown = import_from(repo, "claude-code", [file], cwd=Path(PROJECT))
    assert [(e.action, e.messages) for e in grown.entries] == [("appended", 1)]
    assert [m.content for m in repo.load_messages(session_id).messages][-1] == "and now?"


def test_a_session_continued_here_is_not_appended_to(repo: FileRepository, tmp_path: Path) -> None:
    from chatcli.session.models import Message

    file = claude_fixture(tmp_path / "c")
    session_id = import_from(repo, "claude-code", [file], cwd=Path(PROJECT)).entries[0].session_id or ""
    repo.append_message(session_id, Message(role="user", content="continued in chatcli"))
    with file.open("a") as out:
        out.write(
            json.dumps(
                {
                    "type": "user",
                    "uuid": "u9",
                    "parentUuid": "a3",
                    "timestamp": "2025-06-01T11:00:00Z",
                    "message": {"role": "user", "content": "later in Claude"},
                }
            )
            + "\n"
        )
    result = import_from(repo, "claude-code", [file], cwd=Path(PROJECT))
    assert [e.action for e in result.entries] == ["unchanged"] and "continued in chatcli" in result.notes[0]
    assert [m.content for m in repo.load_messages(session_id).messages][-1] == "continued in chatcli"


def test_a_taken_or_invalid_title_is_kept_in_custom_fields(repo: FileRepository, tmp_path: Path) -> None:
    claude_fixture(tmp_path / "a")
    import_from(repo, "claude-code", [tmp_path / "a"], cwd=Path(PROJECT))
    second = tmp_path / "b" / "other.jsonl"
    second.parent.mkdir()
    second.write_text((tmp_path / "a/s-claude-1.jsonl").read_text().replace("claude-1", "claude-2"))
    result = import_from(repo, "claude-code", [second], cwd=Path(PROJECT))
    meta = repo.get(result.entries[0].session_id or "")
    assert meta.name is None and meta.custom_fields["title"] == "fix-login"


def test_dry_run_writes_nothing(repo: FileRepository, sessions_dir: Path, tmp_path: Path) -> None:
    result = import_from(repo, "codex", [codex_fixture(tmp_path / "codex")], cwd=Path(PROJECT), dry_run=True)
    assert [e.action for e in result.entries] == ["imported"] and result.messages_imported == 2
    assert repo.list() == [] and not sessions_dir.exists()


def test_a_huge_message_is_cut_to_the_limit(repo: FileRepository, tmp_path: Path) -> None:
    file = tmp_path / "big.json"
    state = {
        "conversation_id": "big",
        "history": [
            {
                "user": {"content": {"Prompt": {"prompt": "x" * (MAX_MESSAGE_CHARS + 10)}}},
                "assistant": {"Response": {"content": "ok"}},
            }
        ],
    }
    file.write_text(json.dumps(state))
    result = import_from(repo, "amazon-q", [file], cwd=Path(PROJECT))
    first = repo.load_messages(result.entries[0].session_id or "").messages[0].content
    assert len(first) < MAX_MESSAGE_CHARS + 100 and first.endswith("more characters not imported]")


# ---------------------------------------------------------------------------- the real binary


def _project(tmp_path: Path) -> Path:
    work = tmp_path / "work" / "demo-app"
    work.mkdir(parents=True)
    return work


def test_cli_imports_every_tool_from_its_default_location(tmp_path: Path, isolated_env: Path) -> None:
    work = _project(tmp_path)
    home = isolated_env
    claude_fixture(home / ".claude/projects" / str(work).replace("/", "-").replace("_", "-"), cwd=str(work))
    codex_fixture(home / ".codex", cwd=str(work))
    gemini_fixture(home, cwd=str(work))
    amazon_q_database(home / ".local/share/amazon-q/data.sqlite3", key=str(work), other="/other/project")
    for tool in ("claude-code", "codex", "gemini", "amazon-q"):
        run = chatcli(["sessions", "import", "--from", tool], cwd=work)
        assert run.code == 1, run  # each fixture holds a malformed record: reported, the rest imported
        assert "Imported from " + tool + ": 1 new session" in run.out and ":" in run.out, run
    # Only this directory's row of the database: the other project's waits for --all-projects.
    every = chatcli(["sessions", "import", "--from", "amazon-q", "--all-projects"], cwd=work)
    assert "Imported from amazon-q: 1 new session" in every.out, every
    listing = chatcli(["sessions", "list"], cwd=work)
    assert "fix-login" in listing.out and "readme-tour" in listing.out and "list the files" in listing.out
    again = chatcli(["sessions", "import", "--from", "codex", "--json"], cwd=work)
    assert [s["action"] for s in json.loads(again.out)["sessions"]] == ["unchanged"]


def test_cli_round_trip_show_search_export(tmp_path: Path) -> None:
    work = _project(tmp_path)
    run = chatcli(
        ["sessions", "import", "--from", "claude-code", str(claude_fixture(tmp_path / "c"))], cwd=work
    )
    assert run.code == 1 and f"{tmp_path / 'c' / 's-claude-1.jsonl'}:4: not valid JSON" in run.out, run
    assert "Importing from" not in run.out + run.err  # no progress bar without a terminal
    show = chatcli(["sessions", "show", "fix-login"], cwd=work)
    assert "[tool Bash: command: pytest -q]" in show.out and "SECRET-THOUGHT" not in show.out
    assert "ABANDONED" not in show.out and "injected" not in show.out
    search = chatcli(["sessions", "search", "token", "expired"], cwd=work)
    assert "fix-login" in search.out, search
    export = chatcli(["sessions", "export", "fix-login", "--format", "json"], cwd=work)
    doc = json.loads(export.out)
    assert doc["session"]["custom_fields"]["imported_from"]["source_id"] == "claude-1"
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant"]


def test_cli_dry_run_unknown_tool_and_sqlite_unchanged(tmp_path: Path) -> None:
    work = _project(tmp_path)
    db = amazon_q_database(tmp_path / "q" / "data.sqlite3")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    dry = chatcli(["sessions", "import", "--from", "amazon-q", str(db), "--dry-run"], cwd=work)
    assert "Would import from amazon-q: 1 new session" in dry.out and "nothing was written" in dry.out, dry
    assert not (work / ".amazonq").exists()
    real = chatcli(["sessions", "import", "--from", "amazon-q", str(db)], cwd=work)
    assert "Imported from amazon-q: 1 new session" in real.out
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["data.sqlite3"]
    bad = chatcli(["sessions", "import", "--from", "cursor"], cwd=work)
    assert bad.code == 2 and "amazon-q, claude-code, codex, gemini, goose, opencode, llm" in bad.err, bad


def test_cli_hostile_paths_never_trace(tmp_path: Path) -> None:
    work = _project(tmp_path)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b"\xff\xfe{")
    for tool, path in (("codex", fifo), ("amazon-q", latin), ("gemini", tmp_path / "missing.json")):
        run = chatcli(["sessions", "import", "--from", tool, str(path)], cwd=work)
        assert run.code == 1 and "Failed: 1" in run.out, run


def test_all_projects_keeps_the_source_project(tmp_path: Path, isolated_env: Path) -> None:
    work = _project(tmp_path)
    codex_fixture(isolated_env / ".codex", cwd="/another/project", name="other")
    here = chatcli(["sessions", "import", "--from", "codex"], cwd=work)
    assert "Found nothing" in here.out and here.code == 1
    every = chatcli(["sessions", "import", "--from", "codex", "--all-projects", "--json"], cwd=work)
    sid = json.loads(every.out)["sessions"][0]["session_id"]
    exported = json.loads(chatcli(["sessions", "export", sid, "--format", "json"], cwd=work).out)
    assert exported["session"]["custom_fields"]["imported_from"]["project"] == "/another/project"
    assert (work / ".amazonq/sessions" / sid).is_dir()


def test_in_a_terminal_the_import_shows_progress_and_the_summary(tmp_path: Path) -> None:
    import sys

    import pexpect

    work = _project(tmp_path)
    for index in range(30):
        codex_fixture(tmp_path / "codex", name=f"n{index:02d}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATCLI_") and k != "NO_COLOR"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "chatcli", "sessions", "import", "--from", "codex", str(tmp_path / "codex")],
        env={**env, "TERM": "xterm-256color"},
        cwd=str(work),
        dimensions=(30, 120),
        encoding="utf-8",
        timeout=30,
    )
    child.expect(pexpect.EOF)
    child.close()
    seen = child.before or ""
    assert "Imported from codex: 30 new sessions" in seen and "Traceback" not in seen, seen
    assert "Importing from codex" in seen  # the progress bar, on a terminal only
    assert child.exitstatus == 1  # each rollout holds one malformed line, reported
    assert len(FileRepository(work / ".amazonq/sessions").list()) == 30


def test_every_tool_the_usage_names_has_a_reader() -> None:
    from chatcli.importers.run import SOURCES, TOOLS

    assert set(TOOLS) == set(SOURCES)
