"""What the session service's operations return: plain result records that commands hand to render.

They are dataclasses, not pydantic models, so that a listing (served from the index as briefs)
can be built and shown without importing pydantic at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal, NamedTuple

from chatcli.session.errors import SessionError
from chatcli.session.fields import SessionView

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.trashed import TrashedSession

__all__ = [
    "DeleteResult",
    "EmptyTrashResult",
    "ListResult",
    "LoadedSession",
    "PruneResult",
    "RestoreResult",
    "SearchHit",
    "SearchResult",
    "SessionDetail",
    "SessionMatches",
    "StatusChoice",
    "TrashResult",
]

#: Which sessions a listing, search or prune covers.
StatusChoice = Literal["active", "archived", "all"]


class ListResult(NamedTuple):
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
    #: A one-line hint shown after the listing (``sessions`` alone: on the subcommands).
    hint: str = ""


class SessionDetail(NamedTuple):
    """One session's metadata with its last few messages."""

    metadata: SessionMetadata
    recent: list[Message]
    total_messages: int
    warnings: list[str]
    #: Set when the session is in the trash (``show`` reaches trashed sessions too).
    trashed: TrashedSession | None = None


class LoadedSession(NamedTuple):
    """A whole session read back for resuming: metadata plus every readable message."""

    metadata: SessionMetadata
    messages: list[Message]
    warnings: list[str]


class SearchHit(NamedTuple):
    """One message matching a full-text search."""

    session_id: str
    session_name: str | None
    role: str
    timestamp: datetime
    snippet: str
    message_index: int


class SessionMatches(NamedTuple):
    """One session's hits for a full-text search: how many messages match, the best of them and,
    when every hit was asked for (``--messages``), all of them oldest first (else just the best).

    ``score`` orders sessions by relevance, lowest first (the index's BM25 rank of the best hit;
    a scan without the index ranks by the number of hits).
    """

    session_id: str
    session_name: str | None
    last_active: datetime
    hit_count: int
    best: SearchHit
    hits: list[SearchHit]
    score: float


class SearchResult(NamedTuple):
    """A full-text search: one entry per session with hits, in the order asked for.

    ``total_hits`` and ``sessions_matched`` count every hit and every session with one, however
    many ``sessions`` the limit kept; ``sessions_searched`` is how many sessions were looked at.
    ``warnings`` name the sessions that could not be searched (an unreadable transcript, a link
    or a device in its place) and why; the others were searched all the same. ``notice`` says
    once how the search was made when it could not use the content index, or why it was not
    counted: with ``counted`` False there were too many hits to count (``total_hits`` and
    ``sessions_matched`` are then lower bounds, and the sessions the newest with hits).
    """

    query: str
    sessions: list[SessionMatches]
    total_hits: int
    sessions_matched: int
    sessions_searched: int
    sort: Literal["recent", "relevance"] = "recent"
    every_hit: bool = False
    warnings: Sequence[str] = ()
    notice: str | None = None
    stopped: bool = False
    counted: bool = True

    @property
    def truncated(self) -> bool:
        """True when the limit left sessions with hits out (or may have: not ``counted``), or
        the user stopped the search."""
        return self.stopped or not self.counted or self.sessions_matched > len(self.sessions)

    @property
    def hits(self) -> list[SearchHit]:
        """The hits listed: each session's best, or every hit with ``every_hit``."""
        return [hit for found in self.sessions for hit in (found.hits if self.every_hit else [found.best])]


class DeleteResult(NamedTuple):
    """A deleted session's last metadata; ``trash_id`` names its trash entry (None: erased for
    good), ``undo`` is the command that brings it back (filled in by the command layer)."""

    metadata: SessionMetadata
    trash_id: str | None = None
    undo: str | None = None


class TrashResult(NamedTuple):
    """``sessions trash``: what the trash holds, most recently trashed first."""

    sessions: Sequence[TrashedSession]
    problems: list[SessionError]
    #: What a trash retention set in the config erased just before (None: nothing).
    expired: EmptyTrashResult | None = None


class RestoreResult(NamedTuple):
    """A session brought back from the trash; ``dropped_name`` is the name it had, left off
    because session ``name_taken_by`` has it now."""

    metadata: SessionMetadata
    dropped_name: str | None = None
    name_taken_by: str | None = None


class EmptyTrashResult(NamedTuple):
    """Sessions erased from the trash for good (or that would be: ``dry_run``)."""

    sessions: Sequence[TrashedSession]
    dry_run: bool
    failures: Sequence[tuple[str, str]] = ()
    #: Candidates left alone because the emptying was cancelled before reaching them.
    not_reached: int = 0
    #: Set when a trash retention (config) did it, not the user: how old they were.
    retention: str | None = None


class PruneResult(NamedTuple):
    """Sessions removed by a prune (or that would be, on a dry run)."""

    sessions: Sequence[SessionView]
    dry_run: bool
    cutoff: datetime
    failures: Sequence[tuple[str, str]] = ()
    #: Candidates left alone because the prune was cancelled before reaching them.
    not_reached: int = 0
    #: Sessions old enough to prune, kept because they are pinned.
    pinned_kept: int = 0
