"""What is sent to a model: a well-formed conversation built from a session's transcript.

A transcript can hold what a model must never see: a user message whose turn failed (no reply
after it), an empty reply cut off before its first token by an older chatcli, a system note in the
middle. :func:`build_context` turns any transcript into the shape every chat template accepts:

* at most one system message, first (the transcript's system messages, joined by a blank line);
* then user and assistant messages alternating, starting with a user message;
* no message without text.

Consecutive messages of one role are merged into one, joined by a blank line: unanswered user
messages travel with the next one (a message sent twice after a failure is sent once), so nothing
the user typed is lost and the session never becomes unusable. Then :func:`trim_history` keeps the
newest whole exchanges that fit the character budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from chatcli.chat.backend import DEFAULT_HISTORY_BUDGET, ChatMessage, ChatRole

if TYPE_CHECKING:
    from chatcli.session.models import Message

__all__ = ["build_context", "normalize", "to_chat_messages", "trim_history"]

#: What joins merged messages.
JOINER = "\n\n"


def to_chat_messages(messages: Iterable[Message | ChatMessage]) -> list[ChatMessage]:
    """Convert session transcript messages (or chat messages, passed through) to :class:`ChatMessage`.

    An assistant reply marked ``interrupted`` is kept: the model seeing the partial text it produced
    is more useful than a gap in the conversation.
    """
    return [m if isinstance(m, ChatMessage) else ChatMessage(m.role, m.content) for m in messages]


def normalize(messages: Iterable[Message | ChatMessage]) -> list[ChatMessage]:
    """``messages`` in the well-formed shape described in the module's docstring (nothing trimmed)."""
    system: list[str] = []
    turns: list[tuple[ChatRole, list[str]]] = []
    for message in to_chat_messages(messages):
        if not message.content.strip():
            continue
        if message.role == "system":
            system.append(message.content)
        elif turns and turns[-1][0] == message.role:
            parts = turns[-1][1]
            if parts[-1] != message.content:  # the same message sent again after a failure
                parts.append(message.content)
        elif turns or message.role == "user":  # a reply with no question before it is left out
            turns.append((message.role, [message.content]))
    head = [ChatMessage("system", JOINER.join(system))] if system else []
    return head + [ChatMessage(role, JOINER.join(parts)) for role, parts in turns]


class _HasRoleAndContent(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


_M = TypeVar("_M", bound=_HasRoleAndContent)


def trim_history(messages: Sequence[_M], budget_chars: int = DEFAULT_HISTORY_BUDGET) -> list[_M]:
    """The part of ``messages`` to send: the newest whole exchanges whose content fits ``budget_chars``.

    An exchange starts at a user message and runs to the next one. Rules, in order:

    * system messages at the very start are always kept (they set up the conversation) and count
      against the budget;
    * the last exchange (the question being asked) is always kept, even when it alone exceeds the
      budget;
    * older exchanges are then added newest first while the total still fits; the first one that
      does not fit ends the walk, so the kept history is one contiguous, recent stretch that
      starts with a user message (never with a reply whose question was left out).

    Order is preserved and the input is not modified.
    """
    if budget_chars < 0:
        raise ValueError(f"budget_chars must be zero or more, not {budget_chars}")
    head = 0
    while head < len(messages) and messages[head].role == "system":
        head += 1
    system, rest = list(messages[:head]), messages[head:]
    starts = [index for index, message in enumerate(rest) if message.role == "user"]
    if not starts:
        return system
    start = starts[-1]
    used = sum(len(m.content) for m in system) + sum(len(m.content) for m in rest[start:])
    for begin in reversed(starts[:-1]):
        size = sum(len(m.content) for m in rest[begin:start])
        if used + size > budget_chars:
            break
        used += size
        start = begin
    return system + list(rest[start:])


def build_context(
    messages: Iterable[Message | ChatMessage], budget_chars: int = DEFAULT_HISTORY_BUDGET
) -> list[ChatMessage]:
    """The messages to send for a conversation: :func:`normalize`, then :func:`trim_history`."""
    return trim_history(normalize(messages), budget_chars)
