"""History trimming: recent context within a character budget, the question always kept."""

from __future__ import annotations

import itertools

import pytest

from chatcli.chat.backend import ChatMessage
from chatcli.chat.context import build_context, normalize, to_chat_messages, trim_history
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
    assert trim_history(history, 29) == history[-1:]  # never a reply without its question


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
    assert trim_history(history, 49) == [history[0], history[3]]  # the a/b exchange goes whole
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
    assert len(kept) == 23  # 11 whole exchanges of 2 x 1000 characters + the question
    assert kept[0].role == "user" and kept[0].content.startswith("0078")


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


# --------------------------------------------------------------------------- a well-formed context


def well_formed(messages: list[ChatMessage]) -> bool:
    roles = [m.role for m in messages]
    if roles[:1] == ["system"]:
        roles = roles[1:]
    return (
        bool(roles)
        and roles[0] == "user"
        and "system" not in roles
        and all(a != b for a, b in itertools.pairwise(roles))
        and all(m.content.strip() for m in messages)
    )


def test_unanswered_messages_travel_with_the_next_one() -> None:
    history = [user("hi"), user("hi"), user("are you there?")]  # a failure, the same text sent again
    assert normalize(history) == [user("hi\n\nare you there?")]


def test_empty_replies_are_never_sent() -> None:
    stored = [
        Message(role="user", content="q1"),
        Message(role="assistant", content="", interrupted=True),  # Ctrl-C before the first token
        Message(role="user", content="q2"),
    ]
    assert normalize(stored) == [user("q1\n\nq2")]


def test_a_reply_without_its_question_and_late_system_messages() -> None:
    history = [bot("orphan"), system("be brief"), user("q"), bot("a"), system("note"), user("q2")]
    assert normalize(history) == [system("be brief\n\nnote"), user("q"), bot("a"), user("q2")]


def test_build_context_is_well_formed_for_any_mix() -> None:
    roles = ("user", "assistant", "system")
    for mix in itertools.product((*roles, ""), repeat=5):
        history = [ChatMessage(r or "assistant", f"{i}" if r else "") for i, r in enumerate(mix)]
        history.append(user("question"))
        for budget in (0, 3, 100):
            assert well_formed(build_context(history, budget)), (history, budget)
