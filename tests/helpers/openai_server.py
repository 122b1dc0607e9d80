"""A fake OpenAI-compatible HTTP server on 127.0.0.1 that serves each failure mode (:data:`SCENARIOS`),
and how the OpenAIBackend tests read its streams."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chatcli.chat.backend import (
    BackendError,
    ChatMessage,
)
from chatcli.chat.openai import OpenAIBackend

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


def sse_chunk(
    content: str | None = None, finish: str | None = None, role: str | None = None
) -> dict[str, Any]:
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
        _sse(sse_chunk(role="assistant", content="")),
        _sse(sse_chunk("Why did")),
        b"event: ping\n\n",
        _sse(sse_chunk(" the chicken")),
        _sse(sse_chunk()),
        _sse(sse_chunk(" cross?")),
        _sse({"id": "c1", "choices": []}),
        _sse(sse_chunk(finish="stop")),
        _sse("[DONE]"),
    ]
    for part in parts:
        h.wfile.write(part)
        h.wfile.flush()


def _finish_without_done(h: Handler) -> None:
    h.stream_until_close(_sse(sse_chunk("All"), sse_chunk(" done"), sse_chunk(finish="stop")))


def _cut(h: Handler) -> None:
    h.stream_until_close(_sse(sse_chunk("Half"), sse_chunk(" a reply")))


def _cut_chunked(h: Handler) -> None:
    h.start(200, "text/event-stream", {"Transfer-Encoding": "chunked"})
    data = _sse(sse_chunk("Partial"))
    h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    h.wfile.write(b'400\r\ndata: {"choi')  # announces 1 KiB, sends a few bytes, then hangs up
    h.wfile.flush()


def _not_json(h: Handler) -> None:
    h.stream_until_close(_sse(sse_chunk("Fine so far")) + b"data: this is not json\n\n" + _sse("[DONE]"))


def _stream_error(h: Handler) -> None:
    h.stream_until_close(_sse(sse_chunk("Start"), {"error": {"message": "The server is overloaded"}}))


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
        h.wfile.write(_sse(sse_chunk(word)))
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
    h.stream_until_close(_sse(sse_chunk(role="assistant", content=""), sse_chunk(finish="stop"), "[DONE]"))


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
