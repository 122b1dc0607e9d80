"""What the session service's operations return: plain result records that commands hand to render.

They are dataclasses, not pydantic models, so that a listing (served from the index as briefs)
can be built and shown without importing pydantic at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from chatcli.session.errors import SessionError
from chatcli.session.fields import SessionView

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata

__all__ = [
    "DeleteResult",
    "ListResult",
    "LoadedSession",
    "PruneResult",
    "SearchHit",
    "SearchResult",
    "SessionDetail",
    "StatusChoice",
]

#: Which sessions a listing, search or prune covers.
StatusChoice = Literal["active", "archived", "all"]


@dataclass(frozen=True, slots=True)
class ListResult:
    """Sessions of a listing plus the problems (corrupted sessions) met on the way.

    ``total`` is how many sessions matched in all (more than ``len(sessions)`` when a limit cut
    the listing); None when unknown.
    """

    sessions: Sequence[SessionView]
    problems: list[SessionError]
    status: StatusChoice
    search: str | None = None
    total: int | None = None
    #: The tags every listed session has (``list --tag``).
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """One session's metadata with its last few messages."""

    metadata: SessionMetadata
    recent: list[Message]
    total_messages: int
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class LoadedSession:
    """A whole session read back for resuming: metadata plus every readable message."""

    metadata: SessionMetadata
    messages: list[Message]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One message matching a full-text search."""

    session_id: str
    session_name: str | None
    role: str
    timestamp: datetime
    snippet: str
    message_index: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits of a full-text search, newest first, and whether the limit cut more off.

    ``warnings`` name the sessions that could not be searched (an unreadable transcript, a link
    or a device in its place) and why; the others were searched all the same.
    """

    query: str
    hits: list[SearchHit]
    truncated: bool
    sessions_searched: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """A deleted session's last metadata."""

    metadata: SessionMetadata


@dataclass(frozen=True, slots=True)
class PruneResult:
    """Sessions removed by a prune (or that would be, on a dry run)."""

    sessions: Sequence[SessionView]
    dry_run: bool
    cutoff: datetime
    failures: list[tuple[str, str]] = field(default_factory=list)
    #: Candidates left alone because the prune was cancelled before reaching them.
    not_reached: int = 0
    #: Sessions old enough to prune, kept because they are pinned.
    pinned_kept: int = 0
