"""The contract every model backend follows: message type, streaming protocol, errors, history trimming.

A backend turns a conversation into a stream of text chunks of the assistant's reply. Everything a
backend can fail with is a :class:`BackendError` whose :meth:`~BackendError.user_message` says what
happened and what to do; no transport exception (``httpx``, ``OSError``) ever crosses this boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from chatcli.errors import ChatcliError, ExitCode

__all__ = [
    "DEFAULT_HISTORY_BUDGET",
    "BackendConfigurationError",
    "BackendConnectionError",
    "BackendError",
    "BackendTimeout",
    "ChatBackend",
    "ChatMessage",
    "ChatRole",
    "EmptyReply",
    "MalformedStream",
    "StreamInterrupted",
    "StreamReport",
    "TokenUsage",
    "open_stream",
]

#: Default number of characters of conversation sent with each request (about 6k tokens).
DEFAULT_HISTORY_BUDGET = 24_000

ChatRole = Literal["user", "assistant", "system"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message as sent to a model: a role and its text."""

    role: ChatRole
    content: str


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """The tokens one reply cost, as the server reported them (``usage`` of the last chunk)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(slots=True)
class StreamReport:
    """What a backend learned about a reply besides its text, filled in while it streams.

    ``model`` is the model the server says answered (None when it did not say); ``usage`` the
    tokens it reported (None when it reported none: the offline backend never does, and a server
    that ignores ``stream_options`` may not either).
    """

    model: str | None = None
    usage: TokenUsage | None = None


class ChatBackend(Protocol):
    """A chat model that streams its reply.

    Implementations write ``stream`` as an async generator (``async def stream(...)`` containing
    ``yield``), which is why the protocol declares it as a plain method returning an
    :class:`~collections.abc.AsyncIterator`. Each call is independent: no state is kept between
    calls, so a backend can be used from successive ``asyncio.run`` calls.
    """

    @property
    def name(self) -> str:
        """Short backend identifier (``offline``, ``openai``)."""
        ...

    @property
    def model(self) -> str:
        """The model the backend talks to."""
        ...

    def stream(
        self, messages: Sequence[ChatMessage], report: StreamReport | None = None
    ) -> AsyncIterator[str]:
        """Yield the assistant's reply to ``messages`` chunk by chunk; raise :class:`BackendError`.

        What the server reports besides the text (the model, the tokens used) is written into
        ``report`` as it arrives, when one is given.
        """
        ...


@asynccontextmanager
async def open_stream(
    backend: ChatBackend, messages: Sequence[ChatMessage], report: StreamReport | None = None
) -> AsyncIterator[AsyncIterator[str]]:
    """Start ``backend.stream(messages, report)`` and close it on exit, even when the caller stops early.

    Use it when the consumer may leave the loop before the reply ends (Ctrl-C, a length cap): the
    backend's connection is released at once instead of whenever the generator is collected.
    """
    chunks = backend.stream(messages, report)
    try:
        yield chunks
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class BackendError(ChatcliError):
    """Base of every failure a backend raises; ``hint`` is the next step offered to the user."""

    kind = "backend_error"
    exit_code = ExitCode.BACKEND
    title = "Model error"
    retryable: ClassVar[bool] = False

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(detail)
        self.hint = hint

    def user_message(self) -> str:
        """What happened and what the user can do next, in plain sentences."""
        first = self.detail[:1].upper() + self.detail[1:]
        if not first.endswith((".", "!", "?")):
            first += "."
        return f"{first}\n{self.hint}" if self.hint else first

    def is_retryable(self) -> bool:
        """True when sending the same request again later may succeed."""
        return self.retryable


class BackendConfigurationError(BackendError):
    """The backend cannot be used as configured (a malformed base URL, an empty model name)."""

    kind = "configuration"
    title = "Model configuration"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail, "Fix the setting (see 'chatcli --print-config' for where each value comes from)."
        )


class BackendConnectionError(BackendError):
    """The server could not be reached (connection refused, unknown host, connection reset)."""

    kind = "connection"
    title = "Cannot reach the model server"
    retryable = True

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(
            f"could not connect to {base_url} ({reason})",
            "Check that the server is running and that the base URL is right "
            "(--base-url, OPENAI_BASE_URL or base_url in config.toml), then try again.",
        )
        self.base_url = base_url
        self.reason = reason


class BackendTimeout(BackendError):
    """The server did not connect or answer within the configured time."""

    kind = "timeout"
    title = "Model request timed out"
    retryable = True

    def __init__(
        self, base_url: str, phase: Literal["connect", "read", "write", "pool"], seconds: float
    ) -> None:
        if phase == "connect":
            detail = f"could not connect to {base_url} within {seconds:g}s"
            hint = "Check the base URL and your network connection, then try again."
        else:
            detail = f"no answer from {base_url} for {seconds:g}s ({phase} timeout)"
            hint = (
                "The server may be overloaded or still loading the model. Try again, "
                "or raise request_timeout in config.toml (CHATCLI_REQUEST_TIMEOUT)."
            )
        super().__init__(detail, hint)
        self.base_url = base_url
        self.phase = phase
        self.seconds = seconds


class MalformedStream(BackendError):
    """The server sent something that is not a valid chat completion stream."""

    kind = "malformed_stream"
    title = "Malformed reply"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail,
            "Check that the base URL points at an OpenAI-compatible API (it usually ends in /v1).",
        )


class StreamInterrupted(BackendError):
    """The reply stopped before the server marked it complete (connection dropped, stream cut)."""

    kind = "stream_interrupted"
    title = "Reply interrupted"
    retryable = True

    def __init__(self, detail: str) -> None:
        super().__init__(detail, "The part of the reply that arrived is kept; try again for a full one.")


class EmptyReply(BackendError):
    """The server accepted the request and ended its answer without any text."""

    kind = "empty_reply"
    title = "No reply"
    retryable = True

    def __init__(self, finish_reason: str | None = None) -> None:
        if finish_reason == "length":
            why = "the model reached its output token limit before writing anything"
        elif finish_reason == "content_filter":
            why = "the server's content filter withheld the reply"
        else:
            why = (
                "the model produced no text: it may still be loading, be unable to chat (a base or "
                "embedding model), or the server failed without saying why"
            )
        super().__init__(
            f"the server sent no reply ({why})",
            "Try again; if the reply stays empty, check the model name and the server's log.",
        )
        self.finish_reason = finish_reason
