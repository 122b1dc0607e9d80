"""How a session is a row of the SQLite index, and back: the index's columns in one place.

A row is written by :func:`row_of` from validated metadata; :func:`briefs_of` reads rows back as
briefs (no pydantic) and :func:`metas_of` as full metadata. A row that cannot be read back,
whatever is wrong with it, raises :class:`IndexUnavailable`: the index is only a cache, rebuilt
from the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from chatcli.session.fields import (
    COUNT_MAX,
    NO_CUSTOM_FIELDS,
    NO_USAGE,
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    SessionBrief,
    SessionStatus,
    is_session_id,
    is_tag,
    usage_from_json,
    usage_to_json,
)

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = [
    "BRIEF_COLUMNS",
    "TAG_SEP",
    "IndexUnavailable",
    "Indexed",
    "activity_key",
    "brief_of",
    "briefs_of",
    "metas_of",
    "row_of",
]


class IndexUnavailable(Exception):
    """The index cannot be opened or written (read-only folder, corrupt file): scan the files."""


def activity_key(when: datetime) -> str:
    """A ``last_active`` as fixed-width UTC text, so SQL ordering equals datetime ordering."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sort_key(meta: SessionMetadata) -> str:
    """The stored ordering key of a session: its ``last_active`` (see :func:`_activity_key`)."""
    return activity_key(meta.last_active)


#: A row's metadata with the ``stamp`` (mtime, size, inode) of the file it was read from.
Indexed: TypeAlias = "tuple[SessionMetadata, str]"


def metas_of(rows: Iterable[Sequence[object]]) -> list[Indexed]:
    """Full metadata (and stamps) from ``(id, meta, stamp)`` rows; pydantic is imported only here.

    A row that cannot be read back, whatever is wrong with it, makes the index unusable (it is
    rebuilt from the files).
    """
    from chatcli.session.models import SessionMetadata

    out: list[Indexed] = []
    for sid, meta, stamp in rows:
        try:
            parsed = SessionMetadata.model_validate_json(str(meta))
            if parsed.id != sid or not is_session_id(sid) or not isinstance(stamp, str):
                raise ValueError("the row's columns disagree")
        except Exception as exc:  # a damaged cache row, whatever it holds: rebuild the cache
            raise _damaged(exc) from exc
        out.append((parsed, stamp))
    return out


def briefs_of(rows: Iterable[Sequence[Any]]) -> list[SessionBrief]:
    """:func:`_brief` of every row; a damaged row makes the whole index unusable (it is rebuilt)."""
    try:
        return [brief_of(row) for row in rows]
    except Exception as exc:  # a damaged cache row, whatever it holds: rebuild the cache
        raise _damaged(exc) from exc


def _damaged(exc: Exception) -> IndexUnavailable:
    """The error of an index row that cannot be read back. Anything but the checks of
    :func:`_brief` and pydantic's validation is unforeseen: its traceback is logged."""
    if not isinstance(exc, ValueError):
        from chatcli.logs import log_exception

        log_exception(exc, "reading a row of the session index")
    return IndexUnavailable(f"a row of the index is damaged ({exc.__class__.__name__})")


def _custom_json(meta: SessionMetadata) -> str | None:
    """``custom_fields`` as JSON text, None when empty (most sessions: nothing to parse back)."""
    if not meta.custom_fields:
        return None
    from pydantic_core import to_json  # writers have pydantic loaded already

    return to_json(meta.custom_fields).decode("utf-8")


#: Tags are stored as one text, each tag between two of these (``,bug,ux,``), so that "has the
#: tag T" is one ``instr(tags, ',t,')``; tags never hold a comma (see ``validate_tag``).
TAG_SEP = ","


def _tags_key(tags: Sequence[str]) -> str | None:
    """The ``tags`` column of a session with ``tags`` (None when it has none)."""
    return TAG_SEP + TAG_SEP.join(tags) + TAG_SEP if tags else None


def row_of(meta: SessionMetadata, stamp: str) -> tuple[object, ...]:
    return (
        meta.id,
        meta.status.value,
        _sort_key(meta),
        meta.name,
        meta.name.lower() if meta.name else None,
        meta.first_message,
        meta.first_message.lower(),
        meta.message_count,
        meta.created.isoformat(),
        meta.file_count,
        _custom_json(meta),
        usage_to_json(meta.usage),
        int(meta.pinned),
        _tags_key(meta.tags),
        meta.model_dump_json(),
        stamp,
    )


BRIEF_COLUMNS = (
    "id, name, status, created, last_active, first_message, message_count, file_count, custom, usage, "
    "pinned, tags"
)


_STATUSES = {status.value: status for status in SessionStatus}
_from_iso = datetime.fromisoformat


def brief_of(row: Sequence[Any]) -> SessionBrief:
    """A brief from the first columns of a row selected with :data:`BRIEF_COLUMNS`.

    The columns were written by :func:`_row` from validated metadata, so only their types are
    checked (this runs once per session when a completion snapshot is built): a row damaged by
    hand is a ``ValueError``, never a value of the wrong type passed on to the screen.
    """
    sid, name, status, created, active, first, count, files, custom, usage, pinned, tags = row[:12]
    if not (
        type(sid) is str
        and is_session_id(sid)
        and (name is None or type(name) is str)
        and type(first) is str
        and type(count) is int
        and type(files) is int
        and 0 <= count <= COUNT_MAX
        and 0 <= files <= COUNT_MAX
        and (custom is None or type(custom) is str)
        and (usage is None or type(usage) is str)
        and type(created) is str
        and type(active) is str
        and status in _STATUSES
        and type(pinned) is int
        and pinned in (0, 1)
        and (tags is None or type(tags) is str)
    ):
        raise ValueError("a column of the row has the wrong type or is out of range")
    fields = NO_CUSTOM_FIELDS if custom is None else json.loads(custom)
    created_at, active_at = _from_iso(created), _from_iso(active)
    if created_at.tzinfo is None or active_at.tzinfo is None or not isinstance(fields, Mapping):
        raise ValueError("a column of the row has the wrong shape")
    if not (TIMESTAMP_MIN <= created_at <= TIMESTAMP_MAX and TIMESTAMP_MIN <= active_at <= TIMESTAMP_MAX):
        raise ValueError("a time of the row is out of range")
    tokens = NO_USAGE if usage is None else usage_from_json(usage)
    labels = () if tags is None else tuple(tags.strip(TAG_SEP).split(TAG_SEP))
    if not all(is_tag(tag) for tag in labels):
        raise ValueError("a tag of the row is not a valid tag")
    return SessionBrief(
        sid,
        name,
        _STATUSES[status],
        created_at,
        active_at,
        first,
        count,
        files,
        fields,
        tokens,
        pinned == 1,
        labels,
    )
