"""OpenAIBackend against a real HTTP server on 127.0.0.1 serving each failure mode."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chatcli.chat.backend import (
    BackendConfigurationError,
    BackendConnectionError,
    BackendError,
    BackendHTTPError,
    BackendRemoteError,
    BackendTimeout,
    ChatMessage,
    MalformedStream,
    StreamInterrupted,
    open_stream,
)
from chatcli.chat.openai import OpenAIBackend, parse_sse

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


SCENARIOS: dict[str, Callable[[Handler], None]] = {
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
    assert isinstance(error, BackendRemoteError)
    assert "The server is overloaded" in error.user_message()


def test_401_reports_the_server_message_and_points_at_the_key(server: FakeServer) -> None:
    chunks, error = collect(backend_for(server, "unauthorized"))
    assert chunks == []
    assert isinstance(error, BackendHTTPError)
    assert error.status == 401
    assert error.server_message == "Incorrect API key provided: sk-bad***"
    message = error.user_message()
    assert "HTTP 401" in message and "Incorrect API key provided" in message
    assert "API key" in message.splitlines()[-1]
    assert not error.is_retryable()


def test_500_is_a_retryable_server_error(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "servererror"))
    assert isinstance(error, BackendHTTPError)
    assert error.status == 500
    assert error.is_retryable()
    assert "upstream exploded" in error.user_message()
    assert "server" in error.user_message()


def test_429_mentions_retry_after(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "ratelimited"))
    assert isinstance(error, BackendHTTPError)
    assert error.status == 429 and error.retry_after == "7"
    assert "Rate limited" in error.user_message() and "7s" in error.user_message()
    assert error.is_retryable()


def test_404_points_at_model_and_base_url_and_hides_html(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "notfound"))
    assert isinstance(error, BackendHTTPError)
    assert error.server_message is None
    message = error.user_message()
    assert "'test-model'" in message and "base URL" in message
    assert "<html>" not in message


def test_400_with_top_level_message(server: FakeServer) -> None:
    _, error = collect(backend_for(server, "badrequest"))
    assert isinstance(error, BackendHTTPError)
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
