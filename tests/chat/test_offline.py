"""The offline stand-in backend: deterministic, streamed, numbered by user turns."""

from __future__ import annotations

import asyncio
import time

import pytest

from chatcli.chat.backend import ChatBackend, ChatMessage, open_stream
from chatcli.chat.context import to_chat_messages
from chatcli.chat.offline import OfflineBackend, split_tokens
from chatcli.session.models import Message


def run_stream(backend: ChatBackend, messages: list[ChatMessage]) -> list[str]:
    async def collect() -> list[str]:
        return [chunk async for chunk in backend.stream(messages)]

    return asyncio.run(asyncio.wait_for(collect(), 10))


def test_reply_quotes_the_last_user_message_and_numbers_the_turn() -> None:
    backend = OfflineBackend()
    reply = "".join(run_stream(backend, [ChatMessage("user", "hello world")]))
    assert reply == (
        "**Offline reply #1** — you said:\n\n> hello world\n\n"
        "This is chatcli's built-in stand-in model; configure --backend openai for a real one."
    )
    assert reply == backend.reply_for([ChatMessage("user", "hello world")])


def test_same_history_gives_the_same_reply() -> None:
    history = [ChatMessage("user", "a"), ChatMessage("assistant", "b"), ChatMessage("user", "c")]
    assert run_stream(OfflineBackend(), history) == run_stream(OfflineBackend(), history)


def test_streams_token_by_token_keeping_whitespace() -> None:
    backend = OfflineBackend()
    history = [ChatMessage("user", "one  two\nthree")]
    chunks = run_stream(backend, history)
    assert len(chunks) > 10
    assert all(chunk.strip() for chunk in chunks)  # every chunk carries a word
    assert "".join(chunks) == backend.reply_for(history)


def test_resumed_history_continues_the_count() -> None:
    stored = [
        Message(role="user", content="first"),
        Message(role="assistant", content="**Offline reply #1** — ...", interrupted=True),
        Message(role="user", content="second"),
        Message(role="assistant", content="**Offline reply #2** — ..."),
        Message(role="user", content="third question"),
    ]
    reply = "".join(run_stream(OfflineBackend(), to_chat_messages(stored)))
    assert reply.startswith("**Offline reply #3** — you said:\n\n> third question\n\n")


def test_last_user_message_is_quoted_even_after_an_assistant_reply() -> None:
    history = [ChatMessage("system", "rules"), ChatMessage("user", "q"), ChatMessage("assistant", "a")]
    assert "#1** — you said:\n\n> q\n" in OfflineBackend().reply_for(history)


def test_multi_line_and_empty_messages_are_quoted_cleanly() -> None:
    backend = OfflineBackend()
    assert "> line one\n>\n> line three\n" in backend.reply_for(
        [ChatMessage("user", "line one\n\nline three\n")]
    )
    assert "> (an empty message)" in backend.reply_for([ChatMessage("user", "   ")])


def test_empty_history_is_handled() -> None:
    chunks = run_stream(OfflineBackend(), [])
    assert "".join(chunks).startswith("**Offline reply #0** — there is no message to reply to yet.")
    assert "".join(run_stream(OfflineBackend(), [ChatMessage("system", "s")])).startswith(
        "**Offline reply #0**"
    )


def test_delay_paces_the_tokens() -> None:
    history = [ChatMessage("user", "x")]
    count = len(split_tokens(OfflineBackend().reply_for(history)))
    started = time.monotonic()
    run_stream(OfflineBackend(delay=0.01), history)
    assert time.monotonic() - started >= 0.01 * (count - 1) * 0.9


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="delay"):
        OfflineBackend(delay=-1)


def test_name_and_model() -> None:
    backend: ChatBackend = OfflineBackend()
    assert (backend.name, backend.model) == ("offline", "echo")


@pytest.mark.parametrize("text", ["", " ", "a", "  lead", "trail  ", "a\n\nb\tc  d", "x — y"])
def test_split_tokens_round_trips(text: str) -> None:
    assert "".join(split_tokens(text)) == text


def test_open_stream_closes_an_abandoned_stream() -> None:
    backend = OfflineBackend()

    async def first() -> tuple[str, list[str]]:
        async with open_stream(backend, [ChatMessage("user", "hi")]) as chunks:
            head = await anext(chunks)
        rest = [chunk async for chunk in chunks]  # closed: nothing more comes
        return head, rest

    assert asyncio.run(first()) == ("**Offline ", [])


def test_cancellation_lands_between_tokens() -> None:
    async def main() -> int:
        received = 0

        async def consume() -> None:
            nonlocal received
            async for _ in OfflineBackend(delay=0.05).stream([ChatMessage("user", "hi")]):
                received += 1

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.12)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return received

    assert 1 <= asyncio.run(asyncio.wait_for(main(), 10)) <= 5
