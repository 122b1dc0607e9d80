"""The built-in stand-in model: deterministic replies, no network, no API key."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

from chatcli.chat.backend import ChatMessage, StreamReport

__all__ = ["OfflineBackend", "split_tokens"]

_TOKEN = re.compile(r"\S+\s*|\s+")


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into word-sized chunks that keep their whitespace (``"".join`` gives it back)."""
    return _TOKEN.findall(text)


def _quote(text: str) -> str:
    if not text.strip():
        return "> (an empty message)"
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip("\n").splitlines())


class OfflineBackend:
    """Replies to the last user message by quoting it, numbering each reply by the user turns so far.

    The number counts every user message in the history, so a resumed session keeps counting where
    it left off. ``delay`` seconds pass between streamed tokens (``0`` streams as fast as possible,
    still yielding to the event loop between tokens so a cancellation lands promptly).
    """

    def __init__(self, delay: float = 0.0) -> None:
        if delay < 0:
            raise ValueError(f"delay must be zero or more, not {delay}")
        self.delay = delay

    @property
    def name(self) -> str:
        """Always ``offline``."""
        return "offline"

    @property
    def model(self) -> str:
        """Always ``echo``."""
        return "echo"

    def reply_for(self, messages: Sequence[ChatMessage]) -> str:
        """The full reply :meth:`stream` produces for ``messages``."""
        turn = sum(1 for m in messages if m.role == "user")
        last_user = next((m for m in reversed(messages) if m.role == "user"), None)
        if last_user is None:
            return (
                "**Offline reply #0** — there is no message to reply to yet.\n\n"
                "This is chatcli's built-in stand-in model; configure --backend openai for a real one."
            )
        return (
            f"**Offline reply #{turn}** — you said:\n\n{_quote(last_user.content)}\n\n"
            "This is chatcli's built-in stand-in model; configure --backend openai for a real one."
        )

    async def stream(
        self, messages: Sequence[ChatMessage], report: StreamReport | None = None
    ) -> AsyncIterator[str]:
        """Yield :meth:`reply_for` token by token.

        The stand-in model uses no tokens, so it reports none: ``report`` is left as it was (no
        usage, no model), and offline sessions show no token counts rather than made-up ones.
        """
        for index, token in enumerate(split_tokens(self.reply_for(messages))):
            if index:
                await asyncio.sleep(self.delay)
            yield token
