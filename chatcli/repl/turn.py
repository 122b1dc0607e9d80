"""A chat turn's reply on the REPL's screen: the shared streaming (:mod:`chatcli.chat.turn`) in a live view.

A reply streams on screen as it arrives (keys typed meanwhile are not echoed over it: they wait
for the next prompt); Ctrl-C (or :meth:`ReplyStream.cancel`) stops it, and what arrived is kept,
marked interrupted. Saving messages and what counts as a reply are the same for every front end:
:func:`chatcli.chat.turn.save_message`, :func:`~chatcli.chat.turn.reply_message`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from rich.console import Console

from chatcli.chat.backend import ChatBackend
from chatcli.chat.turn import Reply, ReplyStreamer
from chatcli.render.reply import ReplyView
from chatcli.repl.typeahead import quiet_typing
from chatcli.session.models import Message

__all__ = ["ReplyStream"]


class ReplyStream(ReplyStreamer):
    """Streams the backend's replies, one at a time, into a live view on ``console``."""

    def __init__(self, backend: ChatBackend, console: Console, history_budget: int) -> None:
        super().__init__(backend, history_budget)
        self.console = console

    async def stream_shown(self, messages: Sequence[Message], system_prompt: str | None = None) -> Reply:
        """The reply to ``messages`` (after ``system_prompt``), shown as it arrives (see
        :meth:`ReplyStreamer.stream`)."""
        view = ReplyView(self.console)
        quiet = quiet_typing() if self.console.is_terminal else contextlib.nullcontext()
        with quiet, view:
            return await self.stream(messages, view.append, system_prompt)
