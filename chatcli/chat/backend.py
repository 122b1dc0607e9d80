"""The contract every model backend follows: message type, streaming protocol, errors, history trimming.

A backend turns a conversation into a stream of text chunks of the assistant's reply. Everything a
backend can fail with is a :class:`BackendError` whose :meth:`~BackendError.user_message` says what
happened and what to do; no transport exception (``httpx``, ``OSError``) ever crosses this boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, TypeVar

from chatcli.errors import ChatcliError, ExitCode

if TYPE_CHECKING:
    from chatcli.session.models import Message

__all__ = [
    "DEFAULT_HISTORY_BUDGET",
    "BackendConfigurationError",
    "BackendConnectionError",
    "BackendError",
    "BackendHTTPError",
    "BackendRemoteError",
    "BackendTimeout",
    "ChatBackend",
    "ChatMessage",
    "ChatRole",
    "MalformedStream",
    "StreamInterrupted",
    "open_stream",
    "to_chat_messages",
    "trim_history",
]

#: Default number of characters of conversation sent with each request (about 6k tokens).
DEFAULT_HISTORY_BUDGET = 24_000

ChatRole = Literal["user", "assistant", "system"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message as sent to a model: a role and its text."""

    role: ChatRole
    content: str


def to_chat_messages(messages: Iterable[Message | ChatMessage]) -> list[ChatMessage]:
    """Convert session transcript messages (or chat messages, passed through) to :class:`ChatMessage`.

    An assistant reply marked ``interrupted`` is kept: the model seeing the partial text it produced
    is more useful than a gap in the conversation.
    """
    return [m if isinstance(m, ChatMessage) else ChatMessage(m.role, m.content) for m in messages]


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

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """Yield the assistant's reply to ``messages`` chunk by chunk; raise :class:`BackendError`."""
        ...


@asynccontextmanager
async def open_stream(
    backend: ChatBackend, messages: Sequence[ChatMessage]
) -> AsyncIterator[AsyncIterator[str]]:
    """Start ``backend.stream(messages)`` and close it on exit, even when the caller stops early.

    Use it when the consumer may leave the loop before the reply ends (Ctrl-C, a length cap): the
    backend's connection is released at once instead of whenever the generator is collected.
    """
    chunks = backend.stream(messages)
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
            "(--base-url, OPENAI_BASE_URL or base_url in config.toml), then send the message again.",
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
            hint = "Check the base URL and your network connection, then send the message again."
        else:
            detail = f"no answer from {base_url} for {seconds:g}s ({phase} timeout)"
            hint = (
                "The server may be overloaded or still loading the model. Send the message again, "
                "or raise request_timeout in config.toml (CHATCLI_REQUEST_TIMEOUT)."
            )
        super().__init__(detail, hint)
        self.base_url = base_url
        self.phase = phase
        self.seconds = seconds


class BackendHTTPError(BackendError):
    """The server answered with an error status; ``server_message`` is its own explanation, if any."""

    kind = "http_status"
    title = "Model server error"

    def __init__(
        self,
        status: int,
        *,
        url: str,
        model: str,
        server_message: str | None = None,
        retry_after: str | None = None,
        location: str | None = None,
    ) -> None:
        self.status = status
        self.url = url
        self.model = model
        self.server_message = server_message
        self.retry_after = retry_after
        self.location = location
        said = f": {server_message}" if server_message else ""
        detail, hint = self._describe(said)
        super().__init__(detail, hint)

    def _describe(self, said: str) -> tuple[str, str]:
        status = self.status
        if status in (401, 403):
            return (
                f"the server refused the credentials (HTTP {status}{said})",
                "Check the API key: set OPENAI_API_KEY or api_key in config.toml.",
            )
        if status == 404:
            return (
                f"not found (HTTP 404 from {self.url}{said})",
                f"Check the model name ({self.model!r}) and the base URL; the base URL usually ends "
                "in /v1 (e.g. https://api.openai.com/v1 or http://localhost:11434/v1).",
            )
        if status == 429:
            wait = f" (the server asks to wait {self.retry_after}s)" if self.retry_after else ""
            return (
                f"rate limited by the server (HTTP 429{said})",
                f"Wait a moment and send the message again{wait}; if it persists, check your plan's quota.",
            )
        if status >= 500:
            return (
                f"the server had an internal error (HTTP {status}{said})",
                "This is a problem on the server's side; send the message again later.",
            )
        if 300 <= status < 400:
            where = f" to {self.location}" if self.location else ""
            return (
                f"the server redirected the request{where} (HTTP {status})",
                "Set the base URL to the address the server redirects to.",
            )
        return (
            f"the server rejected the request (HTTP {status}{said})",
            "Check the model name and settings; if the conversation is too long for the model, "
            "lower history_budget in config.toml.",
        )

    def is_retryable(self) -> bool:
        """Rate limits and server errors may pass; other statuses need a change first."""
        return self.status == 429 or self.status >= 500


class BackendRemoteError(BackendError):
    """The server accepted the request, then reported an error inside the stream."""

    kind = "server_error"
    title = "Model server error"
    retryable = True

    def __init__(self, server_message: str) -> None:
        super().__init__(
            f"the server reported an error during the reply: {server_message}",
            "The part of the reply that arrived is kept; send the message again later.",
        )
        self.server_message = server_message


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
        super().__init__(
            detail, "The part of the reply that arrived is kept; send the message again for a full one."
        )


class _HasRoleAndContent(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


_M = TypeVar("_M", bound=_HasRoleAndContent)


def trim_history(messages: Sequence[_M], budget_chars: int = DEFAULT_HISTORY_BUDGET) -> list[_M]:
    """The part of ``messages`` to send: the newest messages whose content fits ``budget_chars``.

    Rules, in order:

    * system messages at the very start are always kept (they set up the conversation) and count
      against the budget;
    * everything from the last user message to the end is always kept, even when it alone
      exceeds the budget, so the question being asked is never dropped;
    * older messages are then added newest first while the total still fits; the first one that
      does not fit ends the walk, so the kept history is one contiguous, recent stretch.

    Order is preserved and the input is not modified.
    """
    if budget_chars < 0:
        raise ValueError(f"budget_chars must be zero or more, not {budget_chars}")
    head = 0
    while head < len(messages) and messages[head].role == "system":
        head += 1
    system, rest = list(messages[:head]), messages[head:]
    if not rest:
        return system

    start = len(rest)
    for index in range(len(rest) - 1, -1, -1):
        if rest[index].role == "user":
            start = index
            break
    used = sum(len(m.content) for m in system) + sum(len(m.content) for m in rest[start:])
    while start > 0:
        size = len(rest[start - 1].content)
        if used + size > budget_chars:
            break
        used += size
        start -= 1
    return system + list(rest[start:])
