"""Factories and seeding: sessions, messages and times the tests start from.

:func:`seed` builds every stored session the tests start from; the factories count time from
:data:`BASE` (UTC)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.repository import SessionRepository
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository

#: Lock timeout for test repositories: long enough for real contention, short enough to fail fast.
TEST_LOCK_TIMEOUT = 2.0

#: A fixed point in time the factories count from (all timestamps are UTC).
BASE = datetime(2025, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- factories


def make_meta(
    first_message: str = "hello",
    *,
    session_id: str | None = None,
    name: str | None = None,
    archived: bool = False,
) -> SessionMetadata:
    """A fresh session (canonical UUID id unless given), optionally named and archived."""
    meta = SessionMetadata.new(session_id or new_session_id(), first_message)
    if name is not None:
        meta.set_name(name)
    if archived:
        meta.archive()
    return meta


def user(content: str, msg_id: str | None = None) -> Message:
    """A user message (with a given id when the test needs to find it again)."""
    if msg_id is None:
        return Message(role="user", content=content)
    return Message(role="user", content=content, id=msg_id)


def assistant(content: str) -> Message:
    """An assistant message."""
    return Message(role="assistant", content=content)


def at(minutes: float) -> datetime:
    """:data:`BASE` plus ``minutes``: an easy way to order sessions and messages."""
    return BASE + timedelta(minutes=minutes)


def ago(minutes: float) -> datetime:
    """``minutes`` before now (for what shows an age, like the picker and the completion menu)."""
    return datetime.now(UTC) - timedelta(minutes=minutes)


def numbered(count: int, *, start: datetime = BASE) -> list[Message]:
    """``count`` messages ``"message 0"``, ``"message 1"``, … one second apart, user and assistant
    in turn, each with a recognisable unique id (``m<i>-…``)."""
    return [
        Message(
            role="user" if i % 2 == 0 else "assistant",
            content=f"message {i}",
            timestamp=start + timedelta(seconds=i),
            id=f"m{i}-{new_session_id()[:8]}",
        )
        for i in range(count)
    ]


# --------------------------------------------------------------------------- seeding


def seed(
    repo: SessionRepository,
    first: str = "hello",
    *,
    replies: Sequence[str] = (),
    when: datetime = BASE,
    messages: Sequence[Message] | None = None,
    name: str | None = None,
    archived: bool = False,
    session_id: str | None = None,
) -> SessionMetadata:
    """Create a consistent session through ``repo.create`` and return its metadata.

    The transcript is ``first`` (a user message sent at ``when``) followed by ``replies``
    (assistant messages one second apart), or exactly ``messages`` when given (e.g.
    :func:`numbered`). ``created`` is the first message's time, ``last_active`` the last one's,
    ``first_message`` the first message's text.
    """
    if messages is None:
        messages = [Message(role="user", content=first, timestamp=when)]
        for offset, text in enumerate(replies, start=1):
            sent = when + timedelta(seconds=offset)
            messages.append(Message(role="assistant", content=text, timestamp=sent))
    assert messages, "a seeded session has at least one message"
    meta = SessionMetadata(
        id=session_id or new_session_id(),
        name=name,
        status=SessionStatus.ARCHIVED if archived else SessionStatus.ACTIVE,
        created=messages[0].timestamp,
        last_active=messages[-1].timestamp,
        first_message=messages[0].content,
        message_count=len(messages),
    )
    repo.create(meta, list(messages))
    return meta


def session_with_messages(repo: FileRepository, count: int = 3, **meta_args: Any) -> SessionMetadata:
    """A session saved through ``repo`` and given ``count`` messages, one append at a time
    (questions and answers in turn); ``meta_args`` go to :func:`make_meta`."""
    meta = make_meta("", **meta_args)
    repo.save(meta)
    for i in range(count):
        meta = repo.append_message(meta.id, user(f"question {i}") if i % 2 == 0 else assistant(f"answer {i}"))
    return meta


def ids(sessions: list[SessionMetadata]) -> list[str]:
    """The ids of ``sessions`` in order."""
    return [m.id for m in sessions]


def messages_of(service: SessionService, session_id: str) -> list[tuple[str, str, str, str]]:
    """(role, content, timestamp, id) of every message: what an import must reproduce exactly."""
    transcript = service.repo.load_messages(session_id)
    return [(m.role, m.content, m.timestamp.isoformat(), m.id) for m in transcript.messages]
