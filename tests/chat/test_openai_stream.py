"""OpenAIBackend: streaming a reply, HTTP errors, timeouts, cancellation and reuse.

OpenAIBackend against a real HTTP server on 127.0.0.1 (:mod:`tests.helpers.openai_server`) serving
each failure mode."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from chatcli.chat.backend import (
    BackendConnectionError,
    BackendTimeout,
    MalformedStream,
    StreamInterrupted,
    open_stream,
)
from chatcli.chat.openai import OpenAIBackend
from chatcli.chat.server_errors import (
    ModelServerError,
    ServerFailure,
)
from tests.helpers.openai_server import CONVERSATION, FakeServer, backend_for, collect


def test_streams_the_reply_chunk_by_chunk(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "ok"))
    assert error is None
    assert chunks == ["Why did", " the chicken", " cross?"]


def test_request_carries_the_whole_conversation_and_the_key(server: FakeServer) -> None:
    collect(backend_for(server, "ok"))
    [request] = server.requests
    assert request.path == "/ok/chat/completions"
    assert request.body == {
        "model": "test-model",
        "messages": [{"role": m.role, "content": m.content} for m in CONVERSATION],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert request.headers["Authorization"] == "Bearer sk-test-1234"
    assert request.headers["Content-Type"] == "application/json"


def test_no_authorization_header_without_a_key(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "ok", api_key=None))
    assert error is None and chunks
    assert "Authorization" not in server.requests[0].headers


def test_trailing_slash_in_base_url_is_ignored(server: FakeServer) -> None:
    backend = OpenAIBackend(model="m", base_url=server.base_url("ok") + "/")
    chunks, error = collect(backend)
    assert error is None and "".join(chunks) == "Why did the chicken cross?"
    assert server.requests[0].path == "/ok/chat/completions"


def test_finish_reason_without_done_is_a_complete_reply(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "finish"))
    assert error is None
    assert chunks == ["All", " done"]


def test_stream_closed_without_done_keeps_the_chunks_and_fails(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "cut"))
    assert chunks == ["Half", " a reply"]
    assert isinstance(error, StreamInterrupted)
    assert error.is_retryable()
    assert "kept" in error.user_message()


def test_connection_dropped_mid_chunk_keeps_the_chunks_and_fails(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "cutchunked"))
    assert chunks == ["Partial"]
    assert isinstance(error, StreamInterrupted)
    assert "closed in the middle" in error.user_message()


def test_non_json_data_line(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "notjson"))
    assert chunks == ["Fine so far"]
    assert isinstance(error, MalformedStream)
    assert "this is not json" in error.user_message()


def test_error_object_inside_the_stream(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "streamerror"))
    assert chunks == ["Start"]
    assert isinstance(error, ServerFailure)
    assert "The server is overloaded" in error.user_message()


def test_401_reports_the_server_message_and_points_at_the_key(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "unauthorized"))
    assert chunks == []
    assert isinstance(error, ModelServerError)
    assert error.status == 401
    assert error.server_message == "Incorrect API key provided: sk-bad***"
    message = error.user_message()
    assert "HTTP 401" in message and "Incorrect API key provided" in message
    assert "OPENAI_API_KEY" in message.splitlines()[-1]
    assert not error.is_retryable()


def test_500_is_a_retryable_server_error(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "servererror"))
    assert isinstance(error, ModelServerError)
    assert error.status == 500
    assert error.is_retryable()
    assert "upstream exploded" in error.user_message()
    assert "server" in error.user_message()


def test_429_mentions_retry_after(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "ratelimited"))
    assert isinstance(error, ModelServerError)
    assert error.status == 429 and error.retry_after == "7"
    assert "Rate limited" in error.user_message() and "7s" in error.user_message()
    assert error.is_retryable()


def test_404_points_at_model_and_base_url_and_hides_html(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "notfound"))
    assert isinstance(error, ModelServerError)
    assert error.server_message is None
    message = error.user_message()
    assert "'test-model'" in message and "base URL" in message
    assert "<html>" not in message


def test_400_with_top_level_message(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "badrequest"))
    assert isinstance(error, ModelServerError)
    assert error.server_message == "context length exceeded"
    assert "history_budget" in error.user_message()


def test_read_timeout_when_the_server_never_answers(server: FakeServer) -> None:
    started = time.monotonic()
    chunks, error = collect(backend_for(server, "hang", read_timeout=0.3))
    assert time.monotonic() - started < 5
    assert chunks == []
    assert isinstance(error, BackendTimeout)
    assert error.phase == "read"
    assert "0.3s" in error.user_message() and "request_timeout" in error.user_message()


def test_read_timeout_applies_per_wait_not_to_the_whole_reply(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "slow", read_timeout=1.0))
    assert error is None
    assert chunks == ["one", " two", " three"]


def test_connection_refused_names_the_base_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    chunks, error = collect(OpenAIBackend(model="m", base_url=base_url, connect_timeout=2.0))
    assert chunks == []
    assert isinstance(error, BackendConnectionError)
    assert error.reason == "connection refused"
    assert base_url in error.user_message()
    assert "running" in error.user_message()


def test_non_streamed_json_answer_is_accepted(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "plainjson"))
    assert error is None
    assert chunks == ["Not streamed"]


def test_a_web_page_instead_of_a_stream(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "html"))
    assert chunks == []
    assert isinstance(error, MalformedStream)
    assert "text/html" in error.user_message()
    assert "/v1" in error.user_message()


def test_leaving_early_closes_the_connection(server: FakeServer) -> None:
    backend = backend_for(server, "ok")

    async def first_chunk() -> str:
        async with open_stream(backend, CONVERSATION) as chunks:
            async for chunk in chunks:
                return chunk
        return ""

    assert asyncio.run(asyncio.wait_for(first_chunk(), 10)) == "Why did"


def test_cancelling_a_waiting_request_is_clean(server: FakeServer) -> None:
    backend = backend_for(server, "hang", read_timeout=30.0)

    async def consume() -> None:
        async for _ in backend.stream(CONVERSATION):
            pass

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 10))


def test_backend_can_be_reused_across_event_loops(server: FakeServer) -> None:
    backend = backend_for(server, "ok")
    assert collect(backend)[0] == collect(backend)[0]
    assert len(server.requests) == 2
