"""The trash's records: what a trashed session is, and the small JSON record kept beside it.

A deleted (or pruned) session is not erased: the store moves it into the trash whole and writes
a :class:`TrashRecord` next to it (when and why). ``sessions trash`` lists them, ``sessions
restore`` brings one back, and only ``sessions trash empty`` (or ``delete --permanent``, or a
trash retention the user set) erases anything. Plain data, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from chatcli.session.errors import SessionError
from chatcli.session.fields import as_utc, check_timestamp, is_session_id

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = [
    "RECORD_VERSION",
    "TrashList",
    "TrashRecord",
    "TrashedSession",
    "entry_session_id",
    "trash_entry_name",
]

#: The version of the ``trashed.json`` record (independent of the metadata schema's).
RECORD_VERSION = 1
#: A reason is a short line ("deleted", "pruned: not used for 90d"); longer text is cut.
REASON_MAX = 200


def trash_entry_name(session_id: str, when: datetime) -> str:
    """The trash entry of ``session_id`` trashed at ``when``: ``<id>.<UTC stamp>`` (unique per
    deletion, so a session deleted, imported again and deleted again keeps both copies)."""
    return f"{session_id}.{as_utc(when).strftime('%Y%m%dT%H%M%S%fZ')}"


class TrashRecord(NamedTuple):
    """``trashed.json``: which session, when it was moved to the trash, why, and its name then."""

    session_id: str
    deleted_at: datetime
    reason: str
    name: str | None = None

    def to_json(self) -> bytes:
        """The record as the UTF-8 JSON written beside the trashed session."""
        body = {
            "version": RECORD_VERSION,
            "session_id": self.session_id,
            "deleted_at": as_utc(self.deleted_at).isoformat(),
            "reason": self.reason[:REASON_MAX],
            "name": self.name,
        }
        return (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, session_id: str) -> TrashRecord:
        """Parse a record of ``session_id``; :class:`ValueError` for anything that is not one."""
        body = json.loads(data.decode("utf-8"))
        if not isinstance(body, dict) or body.get("session_id") != session_id:
            raise ValueError("it does not describe this session")
        when = check_timestamp(as_utc(datetime.fromisoformat(str(body["deleted_at"]))))
        reason, name = body.get("reason"), body.get("name")
        if not isinstance(reason, str) or not (name is None or isinstance(name, str)):
            raise ValueError("its reason or name is not text")
        return cls(session_id, when, reason[:REASON_MAX], name)


class TrashedSession(NamedTuple):
    """One session in the trash: its entry's name (``trash_id``), its metadata and its record."""

    trash_id: str
    metadata: SessionMetadata
    record: TrashRecord

    @property
    def session_id(self) -> str:
        """The trashed session's id."""
        return self.metadata.id

    @property
    def deleted_at(self) -> datetime:
        """When it was moved to the trash."""
        return self.record.deleted_at

    @property
    def reason(self) -> str:
        """Why it was moved to the trash (``deleted``, ``pruned: …``)."""
        return self.record.reason

    @property
    def name(self) -> str | None:
        """Its name: the session's own, else the one it had when trashed (a restore may clear it)."""
        return self.metadata.name or self.record.name


class TrashList(list[TrashedSession]):
    """The trash's sessions, most recently trashed first, plus the problems met reading it."""

    def __init__(self, items: Iterable[TrashedSession] = (), problems: Iterable[SessionError] = ()) -> None:
        super().__init__(sorted(items, key=lambda t: (t.deleted_at, t.trash_id), reverse=True))
        self.problems: list[SessionError] = list(problems)


def entry_session_id(trash_id: str) -> str | None:
    """The session id a trash entry's name starts with, None if it names none."""
    session_id = trash_id[:36]
    return session_id if is_session_id(session_id) and trash_id[36:37] == "." else None
