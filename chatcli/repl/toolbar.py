"""The chat prompt's bottom toolbar and the session label it shows."""

from __future__ import annotations

from prompt_toolkit.formatted_text import FormattedText

from chatcli.chat.backend import ChatBackend
from chatcli.sanitize import clean_inline
from chatcli.session.models import SessionMetadata

__all__ = ["session_label", "toolbar_text"]


def session_label(meta: SessionMetadata | None) -> str:
    """A session's name or short id ("new session" before its first message)."""
    if meta is None:
        return "new session"
    return clean_inline(meta.name) if meta.name else meta.id[:8]


def toolbar_text(meta: SessionMetadata | None, message_count: int, backend: ChatBackend) -> FormattedText:
    """The session in use (and whether it is archived), the model, the message count and /help."""
    archived = " (archived)" if meta is not None and meta.is_archived else ""
    model = f"{backend.name}/{clean_inline(backend.model)}"
    plural = "s" if message_count != 1 else ""
    text = f" session: {session_label(meta)}{archived} │ {model} │ {message_count} message{plural} │ /help "
    return FormattedText([("class:bottom-toolbar", text)])
