"""OpenAIBackend: configuration, the SSE parser, and how a server's errors read.

OpenAIBackend against a real HTTP server on 127.0.0.1 (:mod:`tests.helpers.openai_server`) serving
each failure mode."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatcli.chat.backend import (
    BackendConfigurationError,
    BackendTimeout,
    EmptyReply,
    MalformedStream,
)
from chatcli.chat.openai import OpenAIBackend, parse_sse
from chatcli.chat.server_errors import (
    ContextTooLong,
    CredentialsRejected,
    ModelNotFound,
    RateLimited,
    RequestRejected,
    ServerFailure,
)
from tests.helpers.openai_server import FakeServer, backend_for, collect, sse_chunk


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"model": " "}, "model name is empty"),
        ({"base_url": "localhost:11434/v1"}, "not an http:// or https:// address"),
        ({"base_url": "ftp://example.com"}, "not an http:// or https:// address"),
        ({"read_timeout": 0}, "read timeout"),
        ({"connect_timeout": -1}, "connect timeout"),
    ],
)
def test_unusable_configuration_is_refused_up_front(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(BackendConfigurationError) as caught:
        OpenAIBackend(**kwargs)
    assert fragment in caught.value.user_message()


def test_repr_never_shows_the_key() -> None:
    backend = OpenAIBackend(model="m", api_key="sk-secret-value-9876")
    assert "9876" not in repr(backend) and "secret" not in repr(backend)
    assert backend.name == "openai" and backend.model == "m"
    assert backend.endpoint == "https://api.openai.com/v1/chat/completions"


def test_connect_timeout_message() -> None:
    error = BackendTimeout("http://10.0.0.1/v1", "connect", 10)
    assert error.kind == "timeout"
    assert "Could not connect to http://10.0.0.1/v1 within 10s." in error.user_message()


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


def _parse(*lines: str) -> list[str]:
    async def run() -> list[str]:
        return [chunk async for chunk in parse_sse(_lines(*lines))]

    return asyncio.run(run())


def test_parse_sse_ignores_fields_comments_and_stops_at_done() -> None:
    chunk = json.dumps(sse_chunk("x"))
    assert _parse(
        ": hi", "", "id: 3", "retry: 10", f"data:{chunk}", "", "data: [DONE]", f"data: {chunk}"
    ) == ["x"]


@pytest.mark.parametrize(
    "payload",
    [
        "[1, 2]",
        json.dumps({"choices": "nope"}),
        json.dumps({"choices": [{"delta": {"content": 5}}]}),
    ],
)
def test_parse_sse_rejects_malformed_chunks(payload: str) -> None:
    with pytest.raises(MalformedStream):
        _parse(f"data: {payload}", "data: [DONE]")


def test_httpx_is_not_imported_at_startup() -> None:
    code = (
        "import sys, chatcli.chat, chatcli.chat.openai, chatcli.chat.factory, chatcli.config\n"
        "assert 'httpx' not in sys.modules, 'httpx imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- errors, classified


def test_error_in_the_stream_before_any_text_is_classified(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "errorfirst"))
    assert chunks == []
    assert isinstance(error, CredentialsRejected)
    message = error.user_message()
    assert "OPENAI_API_KEY" in message
    assert "kept" not in message  # nothing arrived, nothing is kept
    assert "sk-test-1234" not in message  # the echoed key is masked
    assert not error.is_retryable()


def test_rate_limit_reported_inside_the_stream(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "ratelimitedstream"))
    assert isinstance(error, RateLimited)
    assert error.is_retryable()
    assert "Rate limited" in error.user_message()


def test_titles_and_punctuation_read_well(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "unauthorizedplain"))
    assert isinstance(error, CredentialsRejected)
    assert error.title == "API key refused"
    message = error.user_message()
    assert "Unauthorized." in message
    assert ".)" not in message and ".." not in message and "Http" not in message


def test_a_key_echoed_by_the_server_is_masked(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "echoeskey"))
    assert isinstance(error, CredentialsRejected)
    assert "sk-test-1234" not in error.user_message() and "sk-test-1234" not in str(error)
    assert "sk-…1234" in error.user_message()


def test_unknown_model_points_at_the_model_option(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "modelnotfound"))
    assert isinstance(error, ModelNotFound)
    assert error.title == "Unknown model"
    assert "--model" in error.user_message() and "'test-model'" in error.user_message()


def test_context_too_long_says_what_to_do(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "contexttoolong"))
    assert isinstance(error, ContextTooLong)
    assert "/new" in error.user_message() and "history_budget" in error.user_message()
    assert not error.is_retryable()


def test_a_400_about_something_else_does_not_blame_the_history(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "unsupported"))
    assert isinstance(error, RequestRejected)
    assert "Unsupported parameter" in error.user_message()
    assert "history_budget" not in error.user_message()


def test_5xx_says_retry_later(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "unavailable"))
    assert isinstance(error, ServerFailure)
    assert error.is_retryable() and "later" in error.user_message()


@pytest.mark.parametrize("scenario", ["empty", "emptybody"])
def test_an_empty_reply_says_the_server_sent_nothing(server: FakeServer, scenario: str) -> None:
    chunks, error = collect(backend_for(server, scenario))
    assert chunks == []
    assert isinstance(error, EmptyReply)
    message = error.user_message()
    assert "sent no reply" in message
    assert "model" in message  # the likely causes
