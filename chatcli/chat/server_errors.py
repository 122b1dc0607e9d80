"""Errors the model server reports, classified so the user learns what to fix.

A server says something went wrong in one of two ways: an HTTP error status, or an error object
inside a ``200`` event stream (``data: {"error": {...}}``). Both are described by a
:class:`ServerSaid` (the status, the error's ``code``/``type``, its message) and classified by
:func:`server_error` into one :class:`ModelServerError` subclass, each with its own title and next
step: a bad key, an unknown model, a rate limit, a conversation too long for the model, a failure
on the server's side, a request the server did not accept. A server that echoes the API key in its
message gets it masked before anything is shown or logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from chatcli.chat.backend import BackendError
from chatcli.sanitize import redact

__all__ = [
    "ContextTooLong",
    "CredentialsRejected",
    "EndpointNotFound",
    "ModelNotFound",
    "ModelServerError",
    "RateLimited",
    "Redirected",
    "RequestRejected",
    "ServerFailure",
    "ServerSaid",
    "server_error",
]

_AUTH_CODES = frozenset(
    {
        "invalid_api_key",
        "authentication_error",
        "invalid_authentication",
        "unauthorized",
        "permission_denied",
        "permission_error",
        "insufficient_permissions",
    }
)
_MODEL_CODES = frozenset({"model_not_found", "model_not_available"})
_RATE_CODES = frozenset(
    {"rate_limit_exceeded", "rate_limit_error", "insufficient_quota", "too_many_requests"}
)
_CONTEXT_CODES = frozenset({"context_length_exceeded", "context_window_exceeded", "request_too_large"})
_REQUEST_CODES = frozenset({"invalid_request_error", "invalid_request", "bad_request"})
_CONTEXT_WORDS = re.compile(
    r"context.{0,20}(length|window|size)|maximum context|too many tokens|prompt is too long"
    r"|exceeds? .{0,40}(context|token limit)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ServerSaid:
    """What the server said about an error: its HTTP status (None inside a stream), codes, message.

    ``codes`` holds the error object's ``code`` and ``type``, lower-cased.
    """

    status: int | None = None
    codes: frozenset[str] = frozenset()
    message: str | None = None


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


class ModelServerError(BackendError):
    """The server answered with an error: an HTTP status, or an error object in the stream.

    ``partial`` is True when part of the reply had arrived before the error (it is kept).
    Subclasses set the title and say what to do in :meth:`describe`.
    """

    kind = "server_error"
    title = "Model server error"

    def __init__(
        self,
        said: ServerSaid,
        *,
        url: str,
        model: str,
        retry_after: str | None = None,
        location: str | None = None,
        partial: bool = False,
    ) -> None:
        self.status = said.status
        self.codes = said.codes
        self.server_message = said.message
        self.url = url
        self.model = model
        self.retry_after = retry_after
        self.location = location
        self.partial = partial
        what, hint = self.describe()
        super().__init__(what + (f" (HTTP {said.status})" if said.status else ""), hint)

    def describe(self) -> tuple[str, str]:
        """What happened (without the status) and the next step."""
        if self.status is not None and self.status >= 500:
            what = "the server had an internal error"
        else:
            what = "the server reported an error " + (
                "during the reply" if self.partial else "instead of a reply"
            )
        return what, "This is a problem on the server's side; try again later."

    def user_message(self) -> str:
        """What happened, what the server said (as it said it), what was kept, what to do."""
        lines = [_sentence(self.detail[:1].upper() + self.detail[1:])]
        if self.server_message:
            lines.append(f"The server said: {_sentence(self.server_message)}")
        if self.partial:
            lines.append("The part of the reply that arrived is kept.")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class ServerFailure(ModelServerError):
    """A failure on the server's side (a 5xx status, or an unexplained error in the stream)."""

    retryable = True


class CredentialsRejected(ModelServerError):
    """The API key is missing, wrong or lacks permission (401/403, ``invalid_api_key``)."""

    kind = "auth"
    title = "API key refused"

    def describe(self) -> tuple[str, str]:
        """See :meth:`ModelServerError.describe`."""
        return (
            "the server refused the API key",
            "Check OPENAI_API_KEY (or api_key in config.toml); 'chatcli --print-config' shows the key "
            "in use, masked.",
        )


class ModelNotFound(ModelServerError):
    """The server does not know the model (``model_not_found``, or a 404 about the model)."""

    kind = "model_not_found"
    title = "Unknown model"

    def describe(self) -> tuple[str, str]:
        """See :meth:`ModelServerError.describe`."""
        return (
            f"the server has no model {self.model!r}",
            "Check --model (or CHATCLI_MODEL, model in config.toml) against the models the server offers.",
        )


class EndpointNotFound(ModelServerError):
    """Nothing answers at the chat completions address (a 404 that is not about the model)."""

    kind = "not_found"
    title = "Not found"

    def describe(self) -> tuple[str, str]:
        """See :meth:`ModelServerError.describe`."""
        return (
            f"nothing answers at {self.url}",
            f"Check the base URL and the model name ({self.model!r}); the base URL usually ends in /v1 "
            "(e.g. https://api.openai.com/v1 or http://localhost:11434/v1).",
        )


class RateLimited(ModelServerError):
    """Too many requests (429) — or the account's quota is used up, which waiting does not fix."""

    kind = "rate_limited"
    title = "Rate limited"

    @property
    def quota(self) -> bool:
        """True when the account has no quota left (``insufficient_quota``)."""
        return "insufficient_quota" in self.codes

    def describe(self) -> tuple[str, str]:
        """See :meth:`ModelServerError.describe`."""
        if self.quota:
            return (
                "rate limited: the account's quota is used up",
                "Check your plan and billing with the provider.",
            )
        if self.retry_after:
            seconds = self.retry_after.strip()
            wait = f"{seconds}s" if seconds.isdigit() else f"until {seconds}"
            wait_text = f"Wait {wait} (the server's Retry-After) and try again"
        else:
            wait_text = "Wait a moment and try again"
        return "rate limited by the server", f"{wait_text}; if it keeps happening, check your plan's limits."

    def is_retryable(self) -> bool:
        """Waiting helps a rate limit, not an exhausted quota."""
        return not self.quota


class ContextTooLong(ModelServerError):
    """The conversation sent is longer than the model's context window."""

    kind = "context_too_long"
    title = "Conversation too long"

    def describe(self) -> tuple[str, str]:
        """See :meth:`ModelServerError.describe`."""
        return (
            "the conversation is too long for the model",
            "Start a new session (/new), or lower history_budget in config.toml "
            "(CHATCLI_HISTORY_BUDGET) so less of the conversation is sent with each message.",
        )


class RequestRejected(ModelServerError):
    """Any other request the server did not accept (400, 422, ...)."""

    kind = "request_rejected"
    title = "Request rejected"

    def describe(self) -> tuple[str, str]:
        """See :meth:`ModelServerError.describe`."""
        return (
            "the server rejected the request",
            "The server's message says what it did not accept; check the model name and the settings "
            "('chatcli --print-config').",
        )


class Redirected(ModelServerError):
    """The server redirected the request (chatcli does not follow redirects with the API key)."""

    kind = "redirected"
    title = "Redirected"

    def describe(self) -> tuple[str, str]:
        """See :meth:`ModelServerError.describe`."""
        where = f" to {self.location}" if self.location else ""
        return (
            f"the server redirected the request{where}",
            "Set the base URL to the address the server redirects to.",
        )


def _category(said: ServerSaid) -> type[ModelServerError]:
    status, codes, text = said.status, said.codes, said.message or ""
    client_side = status is None or 400 <= status < 500
    if status in (401, 403) or codes & _AUTH_CODES:
        return CredentialsRejected
    if codes & _CONTEXT_CODES or status == 413 or (client_side and _CONTEXT_WORDS.search(text)):
        return ContextTooLong
    if codes & _MODEL_CODES or (status == 404 and "model" in text.lower()):
        return ModelNotFound
    if status == 429 or codes & _RATE_CODES:
        return RateLimited
    if status is None:
        return RequestRejected if codes & _REQUEST_CODES else ServerFailure
    if status >= 500:
        return ServerFailure
    if status == 404:
        return EndpointNotFound
    if 300 <= status < 400:
        return Redirected
    return RequestRejected


def server_error(
    said: ServerSaid,
    *,
    url: str,
    model: str,
    retry_after: str | None = None,
    location: str | None = None,
    partial: bool = False,
    secret: str | None = None,
) -> ModelServerError:
    """The error for what the server said, classified; ``secret`` (the API key) is masked in it."""
    if said.message and secret:
        said = replace(said, message=redact(said.message, secret))
    return _category(said)(
        said, url=url, model=model, retry_after=retry_after, location=location, partial=partial
    )
