"""Other assistants' history files written from their public formats (Claude Code, Codex, Gemini CLI,
Amazon Q), for the importer tests, and how a test reads what an importer found."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from chatcli.importers.base import SourceProblem

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
    """A Claude Code transcript: a title, a question, a meta line, thinking and a tool call, its
    result, an abandoned branch and the answer, with a line that is not JSON."""
    return _jsonl(
        folder / "s-claude-1.jsonl", [*_claude_question(cwd), *_claude_answers()], raw=("{not json",)
    )


def _claude_time(second: int) -> str:
    return f"2025-06-01T10:00:{second:02d}Z"


def _claude_question(cwd: str) -> list[object]:
    """The title, the question, an injected meta line and the assistant's thinking and tool call."""
    t = _claude_time
    return [
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
    ]


def _claude_answers() -> list[object]:
    """The tool's result, a snapshot line, an abandoned branch and the answer on the main line."""
    t = _claude_time
    return [
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
    ]


# Format: openai/codex codex-rs/protocol/src/protocol.rs (RolloutLine {timestamp, type, payload},
# SessionMeta) and codex-rs/protocol/src/models.rs (ResponseItem: message, reasoning,
# function_call, function_call_output), written by codex-rs/core/src/rollout/recorder.rs.
def codex_fixture(home: Path, cwd: str = PROJECT, name: str = "abc") -> Path:
    """A Codex rollout: its meta line, developer instructions, an environment context, a question,
    reasoning, a tool call and its output, an event, an unknown line type and the answer, with a
    line that is not JSON."""
    return _jsonl(
        home / "sessions/2025/06/02" / f"rollout-2025-06-02T09-00-00-{name}.jsonl",
        [*_codex_question(cwd, name), *_codex_answer()],
        raw=("[1, 2",),
    )


def _codex_item(ts: int, payload: dict[str, object]) -> dict[str, object]:
    return {"timestamp": f"2025-06-02T09:00:{ts:02d}Z", "type": "response_item", "payload": payload}


def _codex_question(cwd: str, name: str) -> list[object]:
    """The meta line, developer instructions, the environment context and the question."""
    item = _codex_item
    return [
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
    ]


def _codex_answer() -> list[object]:
    """Reasoning, a tool call and its output, a duplicate event, an unknown line type, the answer."""
    item = _codex_item
    return [
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
    ]


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


def read_source(
    source: object, path: Path
) -> tuple[list[list[tuple[str, str]]], list[SourceProblem], list[object]]:
    """What ``source`` reads from ``path``: each session's (role, content) pairs, the problems, the
    sessions themselves."""
    problems: list[SourceProblem] = []
    sessions = list(source.read(path, problems))  # type: ignore[attr-defined]
    return [[(m.role, m.content) for m in s.messages] for s in sessions], problems, sessions
