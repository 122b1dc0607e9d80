"""History trimming: recent context within a character budget, the question always kept."""

from __future__ import annotations

import pytest

from chatcli.chat.backend import ChatMessage, to_chat_messages, trim_history
from chatcli.session.models import Message


def user(text: str) -> ChatMessage:
    return ChatMessage("user", text)


def bot(text: str) -> ChatMessage:
    return ChatMessage("assistant", text)


def system(text: str) -> ChatMessage:
    return ChatMessage("system", text)


def test_everything_fits() -> None:
    history = [user("aa"), bot("bb"), user("cc")]
    assert trim_history(history, 100) == history


def test_keeps_the_newest_messages_that_fit() -> None:
    history = [user("1" * 10), bot("2" * 10), user("3" * 10), bot("4" * 10), user("5" * 10)]
    assert trim_history(history, 35) == history[-3:]
    assert trim_history(history, 30) == history[-3:]
    assert trim_history(history, 29) == history[-2:]


def test_kept_history_is_contiguous() -> None:
    history = [user("x"), bot("y" * 50), user("z" * 10)]
    assert trim_history(history, 15) == [history[-1]]  # the small oldest message is not pulled in


def test_last_user_message_is_kept_even_when_over_budget() -> None:
    history = [user("old"), bot("reply"), user("q" * 500)]
    assert trim_history(history, 100) == [history[-1]]
    assert trim_history(history, 0) == [history[-1]]


def test_everything_after_the_last_user_message_is_kept() -> None:
    history = [user("old"), user("q" * 50), bot("partial answer")]
    assert trim_history(history, 10) == history[1:]


def test_leading_system_messages_are_always_kept_and_counted() -> None:
    history = [system("s" * 20), user("a" * 10), bot("b" * 10), user("c" * 10)]
    assert trim_history(history, 50) == history
    assert trim_history(history, 40) == [history[0], history[2], history[3]]
    assert trim_history(history, 5) == [history[0], history[3]]


def test_system_messages_later_in_the_conversation_are_ordinary() -> None:
    history = [user("a" * 10), system("note" * 10), user("c")]
    assert trim_history(history, 20) == [history[2]]


def test_edge_cases() -> None:
    assert trim_history([], 10) == []
    assert trim_history([system("s")], 0) == [system("s")]
    assert trim_history([bot("b" * 10)], 5) == []
    with pytest.raises(ValueError, match="budget"):
        trim_history([user("a")], -1)


def test_default_budget_trims_a_long_resumed_session() -> None:
    stored = [
        Message(role="user" if i % 2 == 0 else "assistant", content=f"{i:04d}" + "x" * 996)
        for i in range(100)
    ]
    stored.append(Message(role="user", content="latest"))
    kept = trim_history(to_chat_messages(stored))
    assert kept[-1].content == "latest"
    assert sum(len(m.content) for m in kept) <= 24_000
    assert len(kept) == 24  # 23 older messages of 1000 characters + the question
    assert kept[0].content.startswith("0077")


def test_works_on_session_messages_and_does_not_modify_the_input() -> None:
    stored = [Message(role="user", content="a" * 10), Message(role="user", content="b")]
    before = list(stored)
    kept = trim_history(stored, 5)
    assert kept == [stored[1]] and isinstance(kept[0], Message)
    assert stored == before


def test_to_chat_messages_converts_and_passes_through() -> None:
    stored = Message(role="assistant", content="cut", interrupted=True)
    chat = ChatMessage("user", "hi")
    assert to_chat_messages([stored, chat]) == [ChatMessage("assistant", "cut"), chat]
