"""One chat turn, whatever the front end (the REPL, ``chatcli -p``): saving its messages, streaming its reply.

Every message is appended to the session's transcript the moment it is complete; the session is
created on the first one. Ctrl-C (or :meth:`ReplyStreamer.cancel`) stops a reply, and what
arrived is kept, marked interrupted. A reply that brings no text is never saved: the user message
before it stays unanswered (see :func:`chatcli.session.transcript.unanswered`) and travels with
the next request (see :func:`chatcli.chat.context.build_context`).

Nothing here prints: the front end shows the reply through the ``show`` callback it passes to
:meth:`ReplyStreamer.stream`, and decides what to say about the :class:`Reply` it gets back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatcli.chat.backend import ChatBackend, ChatMessage, EmptyReply, StreamReport, TokenUsage, open_stream
from chatcli.chat.context import build_context
from chatcli.session.errors import SessionNotFound
from chatcli.session.service import SessionService
from chatcli.sigint import sigint_cancels

if TYPE_CHECKING:  # pydantic is loaded when a message is made or read, not with the chat's start
    from chatcli.session.models import Message, SessionMetadata

__all__ = ["Reply", "ReplyStreamer", "Saved", "reply_message", "save_message"]


@dataclass(frozen=True, slots=True)
class Saved:
    """A message saved: the session's metadata now, and a notice for the user (or None)."""

    metadata: SessionMetadata
    notice: str | None = None


def save_message(
    service: SessionService,
    meta: SessionMetadata | None,
    earlier: Sequence[Message],
    message: Message,
    system_prompt: str | None = None,
) -> Saved:
    """Append ``message`` to session ``meta``, creating the session (with ``earlier`` and
    ``system_prompt``) if there is none.

    A session deleted by another process meanwhile is not an error: the conversation carries on
    in a new session holding ``earlier`` and ``message`` (and its system prompt; nothing is lost,
    and the trashed session is never written to or re-created in half), and the notice says so
    and how to get the old one back. A new session rather than a question: the message is saved
    at once whatever the answer would be, and restoring stays one command away.
    """
    if meta is None:
        return Saved(service.start_session([*earlier, message], system_prompt))
    try:
        return Saved(service.append(meta.id, message))
    except SessionNotFound:
        new = service.start_session([*earlier, message], meta.system_prompt)
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
    model: str | None = None
    usage: TokenUsage | None = None


def reply_message(reply: Reply) -> Message | None:
    """The assistant message to save for ``reply`` (with its model and token usage), or None: a
    reply without text is never saved."""
    if not reply.text:
        return None
    from chatcli.session.models import Message, ReplyUsage

    usage = None
    if reply.usage is not None:
        usage = ReplyUsage(
            prompt_tokens=reply.usage.prompt_tokens,
            completion_tokens=reply.usage.completion_tokens,
            total_tokens=reply.usage.total_tokens,
        )
    return Message(
        role="assistant", content=reply.text, interrupted=reply.interrupted, model=reply.model, usage=usage
    )


class ReplyStreamer:
    """Streams the backend's replies, one at a time, chunk by chunk to a ``show`` callback."""

    def __init__(self, backend: ChatBackend, history_budget: int) -> None:
        self.backend = backend
        self.history_budget = history_budget
        self._task: asyncio.Task[None] | None = None

    async def stream(
        self, messages: Sequence[Message], show: Callable[[str], None], system_prompt: str | None = None
    ) -> Reply:
        """The reply to the conversation ``messages`` (made well-formed and trimmed to the budget),
        sent after ``system_prompt`` as the first (system) message when there is one.

        ``show`` is called with each chunk as it arrives. Ctrl-C cancels the
        reply; cancelling the task awaiting this (the REPL stopping) is re-raised once the stream
        is closed. An exception raised by ``show`` ends the reply like a backend error.
        """
        chunks: list[str] = []
        error: Exception | None = None
        system = [ChatMessage("system", system_prompt)] if system_prompt else []
        history = build_context([*system, *messages], self.history_budget)
        report = StreamReport()

        async def consume() -> None:
            async with open_stream(self.backend, history, report) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    show(chunk)

        self._task = asyncio.ensure_future(consume())
        interrupted = False
        with sigint_cancels(self._task):
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
        return Reply(text, interrupted, error, report.model or self.backend.model, report.usage)

    def cancel(self) -> bool:
        """Stop the reply being streamed (what Ctrl-C does); False if none is running."""
        if self._task is None or self._task.done():
            return False
        self._task.cancel()
        return True
