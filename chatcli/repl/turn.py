"""One chat turn's parts: saving a message to the session, and streaming the model's reply.

Every message is appended to the session's transcript the moment it is complete; the session is
created on the first one. A reply streams on screen as it arrives; Ctrl-C (or
:meth:`ReplyStream.cancel`) stops it, and what arrived is kept, marked interrupted. A reply that
brings no text is never saved: the user message before it stays unanswered (see
:func:`chatcli.session.models.unanswered`) and travels with the next request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from chatcli.chat.backend import ChatBackend, EmptyReply, open_stream
from chatcli.chat.context import build_context
from chatcli.render.reply import ReplyView
from chatcli.repl.sigint import sigint_cancels
from chatcli.session.errors import SessionNotFound
from chatcli.session.models import Message, SessionMetadata
from chatcli.session.service import SessionService

__all__ = ["Reply", "ReplyStream", "Saved", "save_message"]


@dataclass(frozen=True, slots=True)
class Saved:
    """A message saved: the session's metadata now, and a notice for the user (or None)."""

    metadata: SessionMetadata
    notice: str | None = None


def save_message(
    service: SessionService, meta: SessionMetadata | None, earlier: Sequence[Message], message: Message
) -> Saved:
    """Append ``message`` to session ``meta``, creating the session (with ``earlier``) if there is none.

    A session deleted by another process meanwhile is not an error: the conversation carries on
    in a new session holding ``earlier`` and ``message`` (nothing is lost, and the trashed session
    is never written to or re-created in half), and the notice says so and how to get the old
    one back. A new session rather than a question: the message is saved at once whatever the
    answer would be, and restoring stays one command away.
    """
    if meta is None:
        return Saved(service.start_session([*earlier, message]))
    try:
        return Saved(service.append(meta.id, message))
    except SessionNotFound:
        new = service.start_session([*earlier, message])
        notice = (
            f"Session {meta.id[:8]} was moved to the trash (or deleted) elsewhere; this conversation, "
            f"your message included, continues as the new session {new.id[:8]}. The old one is "
            f"untouched: '/sessions restore {meta.id[:8]}' brings it back (see /sessions trash)."
        )
        return Saved(new, notice)


@dataclass(frozen=True, slots=True)
class Reply:
    """A streamed reply: the text that arrived, whether it was cut short, and the error that did it.

    ``error`` is any failure of the backend, expected (a backend error) or not: it ends the reply
    only, what arrived is kept and the chat goes on. A reply that ended without text and without
    being cancelled carries :class:`~chatcli.chat.backend.EmptyReply`.
    """

    text: str
    interrupted: bool
    error: Exception | None


class ReplyStream:
    """Streams the backend's replies, one at a time, into a live view on ``console``."""

    def __init__(self, backend: ChatBackend, console: Console, history_budget: int) -> None:
        self.backend = backend
        self.console = console
        self.history_budget = history_budget
        self._task: asyncio.Task[None] | None = None

    async def stream(self, messages: Sequence[Message]) -> Reply:
        """The reply to the conversation ``messages`` (made well-formed and trimmed to the budget).

        Ctrl-C cancels the reply; cancelling the task awaiting this (the REPL stopping) is
        re-raised once the stream is closed.
        """
        chunks: list[str] = []
        error: Exception | None = None
        history = build_context(messages, self.history_budget)
        view = ReplyView(self.console)

        async def consume() -> None:
            async with open_stream(self.backend, history) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    view.update("".join(chunks))

        self._task = asyncio.ensure_future(consume())
        interrupted = False
        with view, sigint_cancels(self._task):
            try:
                await self._task
            except asyncio.CancelledError:
                interrupted = True
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            except Exception as exc:
                error = exc
                interrupted = bool(chunks)
            finally:
                self._task = None
        text = "".join(chunks)
        if not text and not interrupted and error is None:
            error = EmptyReply()
        return Reply(text, interrupted, error)

    def cancel(self) -> bool:
        """Stop the reply being streamed (what Ctrl-C does); False if none is running."""
        if self._task is None or self._task.done():
            return False
        self._task.cancel()
        return True
