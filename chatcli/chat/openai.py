"""A backend for any OpenAI-compatible Chat Completions API (OpenAI, Ollama, LM Studio, vLLM, ...).

``httpx`` is imported only when a request is made, so starting chatcli (``--version``, ``--help``,
the offline backend) never pays for it. Each :meth:`OpenAIBackend.stream` call opens and closes its
own client: nothing outlives the call, so the backend works across successive ``asyncio.run`` calls.
"""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chatcli.chat.backend import (
    BackendConfigurationError,
    BackendConnectionError,
    BackendError,
    BackendTimeout,
    ChatMessage,
    EmptyReply,
    MalformedStream,
    StreamInterrupted,
    StreamReport,
    TokenUsage,
)
from chatcli.chat.server_errors import ModelServerError, ServerSaid, server_error
from chatcli.config_settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_OPENAI_MODEL,
    DEFAULT_READ_TIMEOUT,
)
from chatcli.sanitize import shorten

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_OPENAI_MODEL",
    "DEFAULT_READ_TIMEOUT",
    "OpenAIBackend",
    "note_usage",
    "parse_sse",
]


#: At most this much of an error response body is read to find the server's explanation.
_ERROR_BODY_LIMIT = 64 * 1024
#: The largest token count believed from a server (2**53: exact as a JSON number anywhere).
_TOKENS_MAX = 2**53


@dataclass(slots=True)
class _Progress:
    """How far a request got: ``answered`` once the server sent its response's head."""

    answered: bool = False


class _UsageOptionRejected(Exception):
    """The server answered HTTP 400 naming ``stream_options``: it does not know the option."""


class OpenAIBackend:
    """Streams replies from ``POST {base_url}/chat/completions`` with ``"stream": true``.

    ``api_key`` is sent as a Bearer token when given (local servers such as Ollama need none).
    ``connect_timeout`` bounds connecting; ``read_timeout`` bounds every wait for more data, so a
    slow but steady stream is fine and a stalled one fails.

    Each request asks for the token usage (``stream_options: {"include_usage": true}``). A server
    that ignores the option simply reports none; one that refuses it (HTTP 400 naming
    ``stream_options``) gets the same request again without it, once, and this backend (one per
    process) leaves the option out from then on (:attr:`asks_for_usage` turns False).
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_OPENAI_MODEL,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if not model.strip():
            raise BackendConfigurationError("the model name is empty")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendConfigurationError(
                f"the base URL {base_url!r} is not an http:// or https:// address"
            )
        for label, value in (("connect", connect_timeout), ("read", read_timeout)):
            if not value > 0:
                raise BackendConfigurationError(
                    f"the {label} timeout must be more than 0 seconds, not {value}"
                )
        self._model = model.strip()
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.asks_for_usage = True

    @property
    def name(self) -> str:
        """Always ``openai``."""
        return "openai"

    @property
    def model(self) -> str:
        """The model name sent with each request."""
        return self._model

    @property
    def endpoint(self) -> str:
        """The URL requests are sent to."""
        return f"{self.base_url}/chat/completions"

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"OpenAIBackend(model={self._model!r}, base_url={self.base_url!r}, api_key={key})"

    def request_body(self, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        """The JSON body sent for ``messages`` (asking for the usage unless the server refused that)."""
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
        }
        if self.asks_for_usage:
            body["stream_options"] = {"include_usage": True}
        return body

    def request_headers(self) -> dict[str, str]:
        """The HTTP headers sent with each request (including the API key, when set)."""
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def stream(
        self, messages: Sequence[ChatMessage], report: StreamReport | None = None
    ) -> AsyncIterator[str]:
        """Yield the reply's text chunks as they arrive; raise :class:`BackendError` on any failure.

        Chunks already yielded stay yielded when the stream later fails, so the caller can keep
        the part of the reply that arrived. The model and usage the server reports go to ``report``.
        """
        import httpx

        timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
        progress = _Progress()
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                try:
                    async for chunk in self._exchange(client, messages, report, progress):
                        yield chunk
                except _UsageOptionRejected:
                    self.asks_for_usage = False  # for the rest of this process: asked once, refused
                    async for chunk in self._exchange(client, messages, report, progress):
                        yield chunk
        except httpx.TimeoutException as exc:
            raise self._timeout_error(exc) from exc
        except httpx.ConnectError as exc:
            raise BackendConnectionError(self.base_url, _connect_reason(exc)) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if progress.answered:
                raise StreamInterrupted(
                    f"the connection closed in the middle of the reply ({_plain(exc)})"
                ) from exc
            raise BackendConnectionError(
                self.base_url, f"the server closed the connection without answering ({_plain(exc)})"
            ) from exc
        except httpx.DecodingError as exc:
            raise MalformedStream(f"the response could not be decoded ({_plain(exc)})") from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise BackendConfigurationError(
                f"the base URL {self.base_url!r} is not usable ({_plain(exc)})"
            ) from exc
        except httpx.TransportError as exc:
            raise BackendConnectionError(self.base_url, _plain(exc)) from exc

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        messages: Sequence[ChatMessage],
        report: StreamReport | None,
        progress: _Progress,
    ) -> AsyncIterator[str]:
        """One request and its reply's chunks. Raises :class:`_UsageOptionRejected` (before any
        chunk) when the server refuses ``stream_options`` and it was sent."""
        async with client.stream(
            "POST", self.endpoint, json=self.request_body(messages), headers=self.request_headers()
        ) as response:
            progress.answered = True
            if not response.is_success:
                body = await _error_body(response)
                if self.asks_for_usage and response.status_code == 400 and b"stream_options" in body:
                    raise _UsageOptionRejected
                raise self._status_error(response, body)
            content_type = response.headers.get("content-type", "").lower()
            if "json" in content_type and "event-stream" not in content_type:
                yield _complete_reply(await response.aread(), self._server_error, report)
                return
            async for chunk in parse_sse(
                response.aiter_lines(), content_type, error_for=self._server_error, report=report
            ):
                yield chunk

    def _timeout_error(self, exc: httpx.TimeoutException) -> BackendTimeout:
        import httpx

        if isinstance(exc, httpx.ConnectTimeout):
            return BackendTimeout(self.base_url, "connect", self.connect_timeout)
        if isinstance(exc, httpx.WriteTimeout):
            return BackendTimeout(self.base_url, "write", self.read_timeout)
        if isinstance(exc, httpx.PoolTimeout):
            return BackendTimeout(self.base_url, "pool", self.read_timeout)
        return BackendTimeout(self.base_url, "read", self.read_timeout)

    def _status_error(self, response: httpx.Response, body: bytes) -> ModelServerError:
        return self._server_error(
            _server_said(body, response.status_code),
            retry_after=response.headers.get("retry-after"),
            location=response.headers.get("location"),
        )

    def _server_error(
        self,
        said: ServerSaid,
        *,
        partial: bool = False,
        retry_after: str | None = None,
        location: str | None = None,
    ) -> ModelServerError:
        """The classified error for what the server said, with the API key masked in it."""
        return server_error(
            said,
            url=self.endpoint,
            model=self._model,
            retry_after=retry_after,
            location=location,
            partial=partial,
            secret=self._api_key,
        )


async def _error_body(response: httpx.Response) -> bytes:
    """The start of an error response's body (at most :data:`_ERROR_BODY_LIMIT` bytes)."""
    import httpx

    body = bytearray()
    try:
        async for part in response.aiter_bytes():
            body += part
            if len(body) >= _ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass  # the status alone still says what went wrong
    return bytes(body)


#: Builds the error for an error object the server sent: ``error_for(said, partial=...)``.
ErrorFactory = Callable[..., BackendError]


def _default_error(said: ServerSaid, *, partial: bool = False) -> BackendError:
    return server_error(said, url="the server", model="", partial=partial)


async def parse_sse(
    lines: AsyncIterator[str],
    content_type: str = "text/event-stream",
    *,
    error_for: ErrorFactory = _default_error,
    report: StreamReport | None = None,
) -> AsyncIterator[str]:
    """Yield the text of each ``data:`` chunk of a Chat Completions event stream.

    The ``model`` and ``usage`` chunks carry (usage comes in a last chunk without choices when
    ``stream_options.include_usage`` was asked for) are written to ``report``.

    Comments (``: keep-alive``), ``event:``/``id:``/``retry:`` fields, blank lines and chunks
    without text are skipped; ``data: [DONE]`` ends the stream. An error object in the stream
    raises ``error_for(said, partial=...)``. A complete stream without any text raises
    :class:`EmptyReply`; one that ends without ``[DONE]`` and without a ``finish_reason`` raises
    :class:`StreamInterrupted` (after its chunks were yielded); a response with no ``data:`` line
    raises :class:`EmptyReply` when it is an event stream, else :class:`MalformedStream`.
    """
    saw_data = wrote = done = False
    finish: str | None = None
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field != "data":
            continue
        value = value.removeprefix(" ")
        saw_data = True
        if value.strip() == "[DONE]":
            done = True
            break
        chunk = _load_chunk(value)
        if "error" in chunk:
            raise error_for(_said(chunk, None), partial=wrote)
        if report is not None:
            note_usage(chunk, report)
        text, reason = _parse_choice(chunk, value)
        finish = finish or reason
        if text:
            wrote = True
            yield text
    if not (done or finish):
        if not saw_data and "event-stream" not in content_type:
            raise MalformedStream(
                f"the server did not answer with an event stream (content type {content_type or 'missing'!r})"
            )
        if saw_data:
            raise StreamInterrupted(
                "the reply stopped before the server marked it complete (the stream was cut)"
            )
    if not wrote:
        raise EmptyReply(finish)


def _load_chunk(value: str) -> dict[str, Any]:
    """One ``data:`` payload as a JSON object."""
    try:
        chunk = json.loads(value)
    except json.JSONDecodeError:
        raise MalformedStream(
            f"the server sent a stream line that is not JSON: {shorten(value, 80)!r}"
        ) from None
    if not isinstance(chunk, dict):
        raise MalformedStream(
            f"the server sent a stream line that is not a JSON object: {shorten(value, 80)!r}"
        )
    return chunk


def _parse_choice(chunk: dict[str, Any], value: str) -> tuple[str, str | None]:
    """Return ``(text, finish_reason)`` for one chunk (a usage-only chunk has neither)."""
    choices = chunk.get("choices")
    if choices is None or choices == []:
        return "", None
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise MalformedStream(f"the server sent a chunk with malformed choices: {shorten(value, 80)!r}")
    choice = choices[0]
    delta = choice.get("delta") or choice.get("message") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    if content is not None and not isinstance(content, str):
        raise MalformedStream(f"the server sent a chunk whose content is not text: {shorten(value, 80)!r}")
    reason = choice.get("finish_reason")
    return content or "", str(reason) if reason else None


def note_usage(chunk: dict[str, Any], report: StreamReport) -> None:
    """Write the ``model`` and ``usage`` that ``chunk`` carries (when well-formed) to ``report``.

    A usage is believed only when its counts are whole numbers from 0 to 2**53; the total is
    taken as given, or as prompt plus completion when the server left it out.
    """
    model = chunk.get("model")
    if isinstance(model, str) and model.strip():
        report.model = shorten(model.strip(), 200)
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    if prompt is None or completion is None:
        return
    total = _count(usage.get("total_tokens")) if "total_tokens" in usage else prompt + completion
    if total is not None:
        report.usage = TokenUsage(prompt, completion, total)


def _count(value: object) -> int | None:
    """``value`` when it is a whole number from 0 to 2**53, else None."""
    return value if type(value) is int and 0 <= value <= _TOKENS_MAX else None


def _complete_reply(body: bytes, error_for: ErrorFactory, report: StreamReport | None = None) -> str:
    """The reply text of a non-streamed (plain JSON) completion, for servers that ignore ``stream``."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedStream("the server sent a JSON content type but the body is not JSON") from None
    if isinstance(data, dict) and "error" in data:
        raise error_for(_said(data, None))
    if isinstance(data, dict) and report is not None:
        note_usage(data, report)
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise MalformedStream("the server's JSON answer has no choices[0].message.content") from None
    if content is not None and not isinstance(content, str):
        raise MalformedStream("the server's JSON answer has a content that is not text")
    if not content:
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        raise EmptyReply(str(reason) if reason else None)
    return content


def _said(data: dict[str, Any], status: int | None) -> ServerSaid:
    """What an error object says: its codes (``code``, ``type``), message, and a status it names."""
    error = data.get("error")
    codes: set[str] = set()
    if isinstance(error, dict):
        for key in ("code", "type", "status"):
            value = error.get(key)
            if isinstance(value, str) and value.strip():
                codes.add(value.strip().lower())
            elif isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
                status = status or value
    return ServerSaid(status, frozenset(codes), _error_text(data))


def _error_text(data: dict[str, Any]) -> str | None:
    """The human explanation in an error object: ``error.message``, ``error``, ``message`` or ``detail``."""
    error = data.get("error")
    candidates = [
        error.get("message") if isinstance(error, dict) else error,
        data.get("message"),
        data.get("detail"),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return shorten(" ".join(candidate.split()), 300)
    return None


def _server_said(body: bytes, status: int) -> ServerSaid:
    """What an error response body says (a JSON error object, or a short plain text)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return ServerSaid(status)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        if text.startswith("<"):  # an HTML error page says nothing useful in a terminal
            return ServerSaid(status)
        return ServerSaid(status, message=shorten(" ".join(text.split()), 300))
    return _said(data, status) if isinstance(data, dict) else ServerSaid(status)


def _connect_reason(exc: BaseException) -> str:
    """A short reason for a failed connection, from the OS error underneath ``exc`` when there is one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "the host name could not be resolved"
        if isinstance(seen, ConnectionRefusedError) or (
            isinstance(seen, OSError) and seen.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    return _plain(exc)


def _plain(exc: BaseException) -> str:
    return shorten(str(exc).strip() or type(exc).__name__, 200)
