"""What the session browser asks of the service: content search, a preview, and the four actions.

Each call returns what is now on disk (the metadata the write returned) or the user's message of
the error that stopped it, never raises a :class:`~chatcli.errors.ChatcliError`: the browser shows
the message and stays open. Calls are made on a worker thread by the browser, one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatcli.errors import ChatcliError
from chatcli.repl.completion.snapshot import SnapshotEntry
from chatcli.sanitize import clean_inline
from chatcli.session.fields import SessionStatus
from chatcli.session.search import InvalidQuery, SearchQuery
from chatcli.session.service import SessionService

if TYPE_CHECKING:  # the browser's first paint reads the index: pydantic is loaded by a preview or a write
    from chatcli.session.models import Message, SessionMetadata

__all__ = ["BrowserActions", "ContentHits", "Done", "Preview", "content_query", "entry_of", "first_page"]

#: How many sessions a content search lists (newest first).
CONTENT_LIMIT = 50
#: How many of a session's last messages the preview reads.
PREVIEW_MESSAGES = 6
#: Content search starts at this many characters (fewer would match almost every message).
CONTENT_MIN_CHARS = 3


def entry_of(meta: SessionMetadata) -> SnapshotEntry:
    """The browser's entry for a session as its metadata now says."""
    return SnapshotEntry(
        meta.id,
        meta.name,
        meta.first_message,
        meta.last_active,
        meta.status,
        meta.message_count,
        meta.pinned,
        tuple(meta.tags),
    )


def first_page(service: SessionService, limit: int = 50) -> tuple[list[SnapshotEntry], int]:
    """The newest ``limit`` sessions straight from the index (milliseconds at 100,000 sessions) and
    how many there are: what the browser shows while it reads the whole list."""
    listing = service.list_sessions(status="all", limit=limit)
    entries = [
        SnapshotEntry(
            v.id, v.name, v.first_message, v.last_active, v.status, v.message_count, v.pinned, tuple(v.tags)
        )
        for v in listing.sessions
    ]
    return entries, listing.total if listing.total is not None else len(entries)


def content_query(text: str) -> SearchQuery | None:
    """The content search for what is typed so far: its last word is a prefix (``kube`` finds
    "kubernetes") unless it ends with a space or a quote; None when there is nothing to search
    for yet (too short, or not a query: an unclosed quote, only punctuation)."""
    finished = text[-1:].isspace()
    text = text.strip()
    if len(text) < CONTENT_MIN_CHARS:
        return None
    if not finished and not text.endswith(('"', "*")) and text.count('"') % 2 == 0:
        text += "*"
    try:
        return SearchQuery.parse(text)
    except InvalidQuery:
        return None


@dataclass(frozen=True, slots=True)
class ContentHits:
    """The sessions whose messages match ``text``: ``(session id, best snippet)``, newest first."""

    text: str
    hits: tuple[tuple[str, str], ...]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Preview:
    """A session's last messages (or why they could not be read)."""

    session_id: str
    messages: tuple[Message, ...]
    total: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Done:
    """What an action did: ``message`` to show; ``entry`` the session as now on disk (None when it
    left the list); ``ok`` False when nothing changed (``message`` says why)."""

    session_id: str
    message: str
    entry: SnapshotEntry | None
    ok: bool = True


def _label(entry: SnapshotEntry) -> str:
    return clean_inline(entry.name) if entry.name else entry.id[:8]


class BrowserActions:
    """The service calls behind the browser's search, preview and keys."""

    def __init__(self, service: SessionService, prefix: str = "chatcli ") -> None:
        self.service = service
        #: How commands are typed where the browser runs ("chatcli " or "/"), for hints.
        self.prefix = prefix

    def search(self, text: str) -> ContentHits:
        """The sessions whose messages match ``text`` (see :func:`content_query`)."""
        query = content_query(text)
        if query is None:
            return ContentHits(text, ())
        try:
            found = self.service.search(query, limit=CONTENT_LIMIT, status="all")
        except ChatcliError as exc:
            return ContentHits(text, (), exc.user_message())
        return ContentHits(text, tuple((m.session_id, m.best.snippet) for m in found.sessions))

    def preview(self, session_id: str) -> Preview:
        """The last :data:`PREVIEW_MESSAGES` messages of a session."""
        try:
            detail = self.service.show(session_id, last=PREVIEW_MESSAGES)
        except ChatcliError as exc:
            return Preview(session_id, (), 0, exc.user_message())
        return Preview(session_id, tuple(detail.recent), detail.total_messages)

    def rename(self, entry: SnapshotEntry, name: str) -> Done:
        """Name the session ``name`` (an empty name removes it); names are checked by the service."""
        try:
            meta = self.service.rename(entry.id, name.strip() or None)
        except ChatcliError as exc:
            return Done(entry.id, exc.user_message(), entry, ok=False)
        said = f"Renamed to {clean_inline(meta.name)}." if meta.name else "Name removed."
        return Done(entry.id, said, entry_of(meta))

    def toggle_pin(self, entry: SnapshotEntry) -> Done:
        """Pin the session, or unpin it when it is pinned."""
        verb = "Unpinned" if entry.pinned else "Pinned"
        return self._write(entry, lambda: self.service.set_pinned(entry.id, not entry.pinned), verb)

    def toggle_archive(self, entry: SnapshotEntry) -> Done:
        """Archive the session, or bring it back when it is archived."""
        if entry.status == SessionStatus.ARCHIVED:
            return self._write(entry, lambda: self.service.unarchive(entry.id), "Unarchived")
        return self._write(entry, lambda: self.service.archive(entry.id), "Archived")

    def delete(self, entry: SnapshotEntry) -> Done:
        """Move the session to the trash (``chatcli sessions restore`` brings it back)."""
        try:
            self.service.delete(entry.id)
        except ChatcliError as exc:
            return Done(entry.id, exc.user_message(), entry, ok=False)
        return Done(
            entry.id,
            f"Moved {_label(entry)} to the trash "
            f"({self.prefix}sessions restore {entry.id[:8]} brings it back).",
            None,
        )

    def _write(self, entry: SnapshotEntry, write: Callable[[], SessionMetadata], verb: str) -> Done:
        try:
            meta = write()
        except ChatcliError as exc:
            return Done(entry.id, exc.user_message(), entry, ok=False)
        return Done(entry.id, f"{verb} {_label(entry)}.", entry_of(meta))
