"""Fixtures and factories for the command tests (also imported by the service and CLI tests).

Sessions are built through the public path (``repo.create`` with explicit timestamps), so the
tests control ordering and ages without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from chatcli.commands.catalog import build_registry
from chatcli.commands.context import CommandContext
from chatcli.commands.registry import Registry
from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.repository import SessionRepository
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository

#: A fixed point in time the factories count from (all timestamps are UTC).
BASE = datetime(2025, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """``BASE`` plus ``minutes``: an easy way to order sessions and messages."""
    return BASE + timedelta(minutes=minutes)


def seed_session(
    repo: SessionRepository,
    first: str = "hello",
    *,
    when: datetime = BASE,
    replies: Sequence[str] = (),
    name: str | None = None,
    archived: bool = False,
    session_id: str | None = None,
) -> SessionMetadata:
    """Create a session whose first user message is ``first`` (sent at ``when``), then replies.

    Each reply is an assistant message one second after the previous message; ``last_active``
    is the last message's time.
    """
    messages = [Message(role="user", content=first, timestamp=when)]
    for offset, text in enumerate(replies, start=1):
        messages.append(Message(role="assistant", content=text, timestamp=when + timedelta(seconds=offset)))
    meta = SessionMetadata(
        id=session_id or new_session_id(),
        status=SessionStatus.ARCHIVED if archived else SessionStatus.ACTIVE,
        created=when,
        last_active=messages[-1].timestamp,
        first_message=first,
        name=name,
        message_count=len(messages),
    )
    repo.create(meta, messages)
    return meta


@pytest.fixture
def service(repo: FileRepository) -> SessionService:
    """A service on the ``repo`` fixture's folder."""
    return SessionService(repo)


@pytest.fixture
def registry() -> Registry:
    """The real registry, exactly as the REPL and the command line build it."""
    return build_registry()


@pytest.fixture
def make_ctx(service: SessionService) -> Callable[..., CommandContext]:
    """Build a CommandContext on ``service`` with a chosen confirm callback (default: no terminal)."""

    def factory(confirm: Callable[[str], bool] | None = None, prefix: str = "/") -> CommandContext:
        return CommandContext(service, confirm=confirm, prefix=prefix)

    return factory


#: Every ``sessions`` subcommand the issues ask for, in the order the README lists them.
SESSION_SUBCOMMANDS = (
    "list",
    "show",
    "name",
    "archive",
    "unarchive",
    "delete",
    "search",
    "export",
    "import",
    "fork",
    "prune",
    "doctor",
)
