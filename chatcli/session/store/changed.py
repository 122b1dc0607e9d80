"""Which sessions changed since a reader last looked: the index's log of changed rows.

The index logs every row stored or removed (by triggers, see :mod:`.index`), so a reader that
keeps a picture of every session (the REPL's completion snapshot) asks only for what changed
since its :class:`~chatcli.session.fields.ChangeCursor` instead of reading 100,000 rows after
each message. Whenever the answer could be incomplete (no usable index, a writer still at work,
the log built again or trimmed past the cursor) the answer is None: read everything again.
"""

from __future__ import annotations

from chatcli.session.fields import ChangeCursor, Changes
from chatcli.session.store.index import IndexUnavailable
from chatcli.session.store.index_sync import IndexSync

__all__ = ["change_cursor", "changes_since"]


def change_cursor(sync: IndexSync) -> ChangeCursor | None:
    """Where the log ends now, the index brought up to date first (None: no usable index)."""
    synced = sync.synced()
    if synced is None:
        return None
    try:
        return synced.sessions_index.change_cursor()
    except IndexUnavailable:
        return None


def changes_since(sync: IndexSync, cursor: ChangeCursor) -> Changes | None:
    """The sessions changed since ``cursor``; None when only a full listing is sure to be right."""
    synced = sync.synced()
    if synced is None or synced.overrides or synced.untrusted:
        return None  # a writer is at work (or a row cannot be trusted): the listing knows how
    try:
        return synced.sessions_index.changed_since(cursor)
    except IndexUnavailable:
        return None
