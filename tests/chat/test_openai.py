"""OpenAIBackend against a real HTTP server on 127.0.0.1 serving each failure mode."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatcli.chat.backend import (
    BackendConfigurationError,
    BackendConnectionError,
    BackendError,
    BackendTimeout,
    ChatMessage,
    EmptyReply,
    MalformedStream,
    StreamInterrupted,
    open_stream,
)
from chatcli.chat.openai import OpenAIBackend, parse_sse
from chatcli.chat.server_errors import (
    ContextTooLong,
    CredentialsRejected,
    ModelNotFound,
    ModelServerError,
    RateLimited,
    RequestRejected,
    ServerFailure,
)
from chatcli.repl.app import ChatApp
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import Repl, until

CONVERSATION = [
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "Hi there"),
    ChatMessage("assistant", "Hello! How can I help?"),
    ChatMessage("user", "Tell me a joke"),
]


def _sse(*payloads: object) -> bytes:
    lines = []
    for payload in payloads:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        lines.append(f"data: {data}\n\n")
    return "".join(lines).encode()


def _delta(content: str | None = None, finish: str | None = None, role: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeServer(ThreadingHTTPServer):
    """Serves ``POST /<scenario>/chat/completions``; records every request."""

    daemon_threads = False  # server_close() joins the handler threads: nothing outlives a test

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[Recorded] = []
        self.queue: list[str] = []  # the scenarios "seq" plays, one per request
        self.release = threading.Event()
        self.errors: list[BaseException] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def base_url(self, scenario: str) -> str:
        return f"{self.url}/{scenario}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError):
            self.errors.append(error)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(Recorded(self.path, dict(self.headers.items()), body))
        self.close_connection = True
        scenario = self.path.strip("/").split("/")[0]
        SCENARIOS[scenario](self)

    # helpers

    def start(self, status: int, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def whole(self, status: int, content_type: str, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.start(status, content_type, {"Content-Length": str(len(body)), **(extra or {})})
        self.wfile.write(body)

    def stream_until_close(self, body: bytes) -> None:
        self.start(200, "text/event-stream")
        self.wfile.write(body)
        self.wfile.flush()


def _ok(h: Handler) -> None:
    h.start(200, "text/event-stream; charset=utf-8")
    parts = [
        b": keep-alive\n\n",
        _sse(_delta(role="assistant", content="")),
        _sse(_delta("Why did")),
        b"event: ping\n\n",
        _sse(_delta(" the chicken")),
        _sse(_delta()),
        _sse(_delta(" cross?")),
        _sse({"id": "c1", "choices": []}),
        _sse(_delta(finish="stop")),
        _sse("[DONE]"),
    ]
    for part in parts:
        h.wfile.write(part)
        h.wfile.flush()


def _finish_without_done(h: Handler) -> None:
    h.stream_until_close(_sse(_delta("All"), _delta(" done"), _delta(finish="stop")))


def _cut(h: Handler) -> None:
    h.stream_until_close(_sse(_delta("Half"), _delta(" a reply")))


def _cut_chunked(h: Handler) -> None:
    h.start(200, "text/event-stream", {"Transfer-Encoding": "chunked"})
    data = _sse(_delta("Partial"))
    h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    h.wfile.write(b'400\r\ndata: {"choi')  # announces 1 KiB, sends a few bytes, then hangs up
    h.wfile.flush()


def _not_json(h: Handler) -> None:
    h.stream_until_close(_sse(_delta("Fine so far")) + b"data: this is not json\n\n" + _sse("[DONE]"))


def _stream_error(h: Handler) -> None:
    h.stream_until_close(_sse(_delta("Start"), {"error": {"message": "The server is overloaded"}}))


def _unauthorized(h: Handler) -> None:
    body = {"error": {"message": "Incorrect API key provided: sk-bad***", "type": "invalid_request_error"}}
    h.whole(401, "application/json", json.dumps(body).encode())


def _server_error(h: Handler) -> None:
    h.whole(500, "text/plain", b"upstream exploded\n")


def _rate_limited(h: Handler) -> None:
    body = {"error": {"message": "Rate limit reached for requests"}}
    h.whole(429, "application/json", json.dumps(body).encode(), {"Retry-After": "7"})


def _not_found(h: Handler) -> None:
    h.whole(404, "text/html", b"<html><body>404 page not found</body></html>")


def _bad_request(h: Handler) -> None:
    h.whole(400, "application/json", json.dumps({"message": "context length exceeded"}).encode())


def _hang(h: Handler) -> None:
    h.server.release.wait(10)


def _slow(h: Handler) -> None:
    h.start(200, "text/event-stream")
    for word in ("one", " two", " three"):
        time.sleep(0.2)
        h.wfile.write(_sse(_delta(word)))
        h.wfile.flush()
    h.wfile.write(_sse("[DONE]"))


def _plain_json(h: Handler) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Not streamed"}}]}
    h.whole(200, "application/json", json.dumps(body).encode())


def _html(h: Handler) -> None:
    h.whole(200, "text/html", b"<html><body>Welcome to my homepage</body></html>")


def _seq(h: Handler) -> None:
    SCENARIOS[h.server.queue.pop(0)](h)


def _error_first(h: Handler) -> None:
    error = {"message": "Incorrect API key provided: sk-test-1234.", "code": "invalid_api_key"}
    h.stream_until_close(_sse({"error": error}))


def _rate_limited_in_stream(h: Handler) -> None:
    error = {"message": "Rate limit reached", "type": "rate_limit_error", "code": "rate_limit_exceeded"}
    h.stream_until_close(_sse({"error": error}))


def _unauthorized_plain(h: Handler) -> None:
    body = {"error": {"message": "Unauthorized.", "type": "authentication_error"}}
    h.whole(401, "application/json", json.dumps(body).encode())


def _echoes_the_key(h: Handler) -> None:
    body = {"error": {"message": "Bad key: sk-test-1234", "code": "invalid_api_key"}}
    h.whole(401, "application/json", json.dumps(body).encode())


def _model_not_found(h: Handler) -> None:
    body = {"error": {"message": "The model `test-model` does not exist.", "code": "model_not_found"}}
    h.whole(404, "application/json", json.dumps(body).encode())


def _context_too_long(h: Handler) -> None:
    body = {
        "error": {
            "message": "This model's maximum context length is 8192 tokens.",
            "code": "context_length_exceeded",
        }
    }
    h.whole(400, "application/json", json.dumps(body).encode())


def _unsupported(h: Handler) -> None:
    body = {"error": {"message": "Unsupported parameter: 'stream'.", "type": "invalid_request_error"}}
    h.whole(400, "application/json", json.dumps(body).encode())


def _unavailable(h: Handler) -> None:
    h.whole(503, "application/json", json.dumps({"error": {"message": "Overloaded"}}).encode())


def _empty(h: Handler) -> None:
    h.stream_until_close(_sse(_delta(role="assistant", content=""), _delta(finish="stop"), "[DONE]"))


def _empty_body(h: Handler) -> None:
    h.whole(200, "text/event-stream", b"")


SCENARIOS: dict[str, Callable[[Handler], None]] = {
    "seq": _seq,
    "errorfirst": _error_first,
    "ratelimitedstream": _rate_limited_in_stream,
    "unauthorizedplain": _unauthorized_plain,
    "echoeskey": _echoes_the_key,
    "modelnotfound": _model_not_found,
    "contexttoolong": _context_too_long,
    "unsupported": _unsupported,
    "unavailable": _unavailable,
    "empty": _empty,
    "emptybody": _empty_body,
    "ok": _ok,
    "finish": _finish_without_done,
    "cut": _cut,
    "cutchunked": _cut_chunked,
    "notjson": _not_json,
    "streamerror": _stream_error,
    "unauthorized": _unauthorized,
    "servererror": _server_error,
    "ratelimited": _rate_limited,
    "notfound": _not_found,
    "badrequest": _bad_request,
    "hang": _hang,
    "slow": _slow,
    "plainjson": _plain_json,
    "html": _html,
}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)
    assert not thread.is_alive()
    assert srv.errors == []


def collect(
    backend: OpenAIBackend, messages: list[ChatMessage] = CONVERSATION, limit: float = 10.0
) -> tuple[list[str], BackendError | None]:
    """Run the stream to its end; return the chunks received and the error it ended with, if any."""

    async def run() -> tuple[list[str], BackendError | None]:
        chunks: list[str] = []
        try:
            async for chunk in backend.stream(messages):
                chunks.append(chunk)
        except BackendError as exc:
            return chunks, exc
        return chunks, None

    return asyncio.run(asyncio.wait_for(run(), limit))


def backend_for(server: FakeServer, scenario: str, **kwargs: Any) -> OpenAIBackend:
    options: dict[str, Any] = {"model": "test-model", "api_key": "sk-test-1234", "read_timeout": 5.0}
    options.update(kwargs)
    return OpenAIBackend(base_url=server.base_url(scenario), **options)


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
    chunk = json.dumps(_delta("x"))
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


# --------------------------------------------------------------------------- the chat REPL on this server

REPLY = "Why did the chicken cross?"


@dataclass
class ChatRepls:
    """Builds REPLs on the OpenAI backend pointed at the fake server; all share one sessions folder."""

    server: FakeServer
    root: Path
    stack: ExitStack
    made: list[Repl] = field(default_factory=list)

    def __call__(self, scenario: str = "seq", history_budget: int = 24_000) -> Repl:
        pipe = self.stack.enter_context(create_pipe_input())
        out = io.StringIO()
        repo = FileRepository(self.root, lock_timeout=2.0)
        service = SessionService(repo)
        app = ChatApp(
            service,
            backend_for(self.server, scenario),
            Console(file=out, width=100),
            history_budget=history_budget,
            input=pipe,
            output=DummyOutput(),
        )
        repl = Repl(app, service, repo, self.root, pipe, out)
        self.made.append(repl)
        return repl


@pytest.fixture
def chat_repl(server: FakeServer, tmp_path: Path) -> Iterator[ChatRepls]:
    with ExitStack() as stack:
        yield ChatRepls(server, tmp_path / "sessions", stack)


def sent(server: FakeServer) -> list[list[tuple[str, str]]]:
    """(role, content) of the messages of every request the server received, in order."""
    return [[(m["role"], m["content"]) for m in r.body["messages"]] for r in server.requests]


def assert_well_formed(messages: list[tuple[str, str]]) -> None:
    """An optional system message, then user/assistant alternating from a user message; no empty text."""
    roles = [role for role, _ in messages]
    if roles[:1] == ["system"]:
        roles = roles[1:]
    assert roles and roles[0] == "user", messages
    assert "system" not in roles, messages
    assert all(a != b for a, b in itertools.pairwise(roles)), messages
    assert all(content.strip() for _, content in messages), messages


def saved(r: Repl) -> list[tuple[str, str]]:
    [folder] = r.session_dirs()
    return [(line["role"], line["content"]) for line in r.lines(folder.name)]


def test_failed_turns_never_break_the_session(server: FakeServer, chat_repl: ChatRepls) -> None:
    server.queue = ["unauthorized", "ok", "servererror", "ok", "ok"]
    r = chat_repl()
    assert r.run("hi\r", "/retry\r", "two\r", "three\r") == 0

    bodies = sent(server)
    assert bodies[0] == [("user", "hi")]
    assert bodies[1] == [("user", "hi")]  # /retry sends the unanswered message again, once
    assert bodies[3] == [("user", "hi"), ("assistant", REPLY), ("user", "two\n\nthree")]
    assert saved(r) == [
        ("user", "hi"),
        ("assistant", REPLY),
        ("user", "two"),
        ("user", "three"),
        ("assistant", REPLY),
    ]
    assert "/retry" in r.output and "Traceback" not in r.output

    # Resumed later, the session carries on with the same well-formed context.
    sid = r.session_dirs()[0].name
    again = chat_repl()
    again.run(f"/resume {sid}\r", "four\r")
    assert sent(server)[4] == [*bodies[3], ("assistant", REPLY), ("user", "four")]
    for body in sent(server):
        assert_well_formed(body)


def test_an_unanswered_message_is_shown_on_resume_and_retry_answers_it(
    server: FakeServer, chat_repl: ChatRepls
) -> None:
    server.queue = ["servererror", "ok"]
    first = chat_repl()
    first.run("hello?\r")
    sid = first.session_dirs()[0].name
    assert saved(first) == [("user", "hello?")]

    later = chat_repl()
    later.run(f"/resume {sid}\r", "/retry\r", "/retry\r")
    assert "not answered" in later.output
    assert "Nothing to retry" in later.output  # the second /retry: the message has its reply now
    assert sent(server) == [[("user", "hello?")], [("user", "hello?")]]
    assert saved(later) == [("user", "hello?"), ("assistant", REPLY)]


def test_ctrl_c_before_the_first_token_saves_and_sends_no_empty_reply(
    server: FakeServer, chat_repl: ChatRepls
) -> None:
    server.queue = ["hang", "ok"]
    r = chat_repl()

    async def scenario(repl: Repl) -> None:
        repl.type("hi\r")
        await until(lambda: len(server.requests) == 1, what="the first request")
        await until(repl.app.cancel_reply, what="the reply to be cancelled")
        await until(lambda: "interrupted before any reply" in repl.output, what="the notice")
        repl.type("again\r")
        await until(lambda: len(repl.app.messages) == 3, what="the second reply")

    assert r.drive(scenario) == 0
    assert "what arrived was saved" not in r.output
    assert saved(r) == [("user", "hi"), ("user", "again"), ("assistant", REPLY)]
    assert sent(server)[1] == [("user", "hi\n\nagain")]


def test_trimming_keeps_whole_exchanges(server: FakeServer, chat_repl: ChatRepls) -> None:
    server.queue = ["ok"] * 4
    r = chat_repl(history_budget=70)
    r.run("a" * 30 + "\r", "b" * 30 + "\r", "c" * 30 + "\r", "d" * 5 + "\r")

    bodies = sent(server)
    for body in bodies:
        assert_well_formed(body)
    assert bodies[2] == [("user", "c" * 30)]  # the a/b exchange does not fit: dropped whole
    assert bodies[3] == [("user", "c" * 30), ("assistant", REPLY), ("user", "d" * 5)]
