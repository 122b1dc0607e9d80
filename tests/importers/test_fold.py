"""The notes a tool call or result becomes, and how a conversation folds them into replies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatcli.importers.fold import Conversation, call_note, result_note, summarize

T = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "summary"),
    [
        ({"command": ["git", "status"], "timeout": 5}, "command: git status"),
        ('{"path": "a.txt", "mode": "r"}', "path: a.txt"),
        ({"city": "Paris", "units": "C"}, "with city, units"),
        ({"command": {"nested": True}}, "with command"),
        ([{"type": "text", "text": "one"}, "two", 3], "one two"),
        ([1, 2], "2 items"),
        ("line one\n\n   line two", "line one line two"),
        ("{not json", "{not json"),
        ("x" * 500, "x" * 119 + "…"),
        (None, ""),
        (True, "True"),
    ],
)
def test_summaries_are_one_short_line(value: object, summary: str) -> None:
    assert summarize(value) == summary


def test_notes_name_the_tool_and_never_dump_json() -> None:
    assert call_note("bash", {"command": "make"}) == "[tool bash: command: make]"
    assert call_note("", {}) == "[tool tool]"
    assert result_note("bash", "ok\nmore") == "[bash result: ok more]"
    assert result_note("bash", "boom", failed=True) == "[bash failed: boom]"
    assert result_note("bash", "") == "[bash result]"


def test_pieces_between_prompts_fold_into_one_reply() -> None:
    conversation = Conversation()
    conversation.note("[orphan result]", T)  # before any prompt: a reply of its own
    conversation.user("first", T)
    conversation.assistant("text", None)
    conversation.note("[tool x]", T)
    conversation.user("   ", T)  # a blank prompt (a tool-result turn) is not a message
    conversation.note("[x result: ok]", T)
    conversation.assistant("  ", T)  # blank text adds nothing
    conversation.user("second", T)
    assert [(m.role, m.content, m.timestamp) for m in conversation.messages()] == [
        ("assistant", "[orphan result]", T),
        ("user", "first", T),
        ("assistant", "text\n\n[tool x]\n\n[x result: ok]", T),  # its first dated piece
        ("user", "second", T),
    ]
