"""The chat prompt's bottom toolbar and the session label it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_toolkit.formatted_text import FormattedText

from chatcli.sanitize import clean_inline

if TYPE_CHECKING:
    from chatcli.chat.backend import ChatBackend
    from chatcli.session.models import SessionMetadata

__all__ = ["session_label", "token_summary", "toolbar_text"]


def session_label(meta: SessionMetadata | None) -> str:
    """A session's name or short id ("new session" before its first message)."""
    if meta is None:
        return "new session"
    return clean_inline(meta.name) if meta.name else meta.id[:8]


def token_summary(meta: SessionMetadata | None) -> str:
    """The session's tokens as reported by the server (``1,234 tokens (1,000 in, 234 out)``), or
    "" when no reply of it reported any."""
    if meta is None or not meta.usage:
        return ""
    total = meta.total_usage
    return f"{total.total_tokens:,} tokens ({total.prompt_tokens:,} in, {total.completion_tokens:,} out)"


def toolbar_text(meta: SessionMetadata | None, message_count: int, backend: ChatBackend) -> FormattedText:
    """The session in use (and whether it is archived), the model, the message count, the
    session's tokens (when the server reported any) and /help."""
    archived = " (archived)" if meta is not None and meta.is_archived else ""
    model = f"{backend.name}/{clean_inline(backend.model)}"
    plural = "s" if message_count != 1 else ""
    tokens = token_summary(meta)
    tokens = f" │ {tokens}" if tokens else ""
    text = (
        f" session: {session_label(meta)}{archived} │ {model} │ {message_count} message{plural}"
        f"{tokens} │ /help "
    )
    return FormattedText([("class:bottom-toolbar", text)])
