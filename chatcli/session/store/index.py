"""A rebuildable SQLite index of session metadata, so listings stay instant at 100,000 sessions.

The per-session files stay the source of truth; this index only caches their metadata. It is
kept correct across processes by one protocol, followed by every chatcli writer while it holds
the session's lock (:class:`chatcli.session.store.index_sync.IndexSync` runs it for the store):

1. ``mark_dirty(id)`` is committed (and synced) *before* the session's files change;
2. the files are written;
3. ``store(meta)`` (or ``forget(id)``) updates the row and clears the mark in one transaction.

A writer killed between 1 and 3 leaves the mark behind, so readers re-read that session from its
files (:meth:`SessionIndex.dirty_ids`). Changes made outside chatcli (a folder copied in or
removed by hand) change the sessions folder's own mtime, which readers compare with the value
recorded at the last reconciliation, rescanning the folder's entries when it moved. A missing,
unreadable or newer-schema index is rebuilt from the files.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from chatcli.session.fields import NO_CUSTOM_FIELDS, SessionBrief, SessionStatus
from chatcli.session.store.layout import INDEX_DIR, INDEX_FILE

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = ["IndexUnavailable", "Indexed", "SessionBrief", "SessionIndex"]

SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    last_active TEXT NOT NULL,
    name TEXT,
    name_lower TEXT,
    first_message TEXT NOT NULL,
    first_lower TEXT NOT NULL,
    message_count INTEGER NOT NULL,
    created TEXT NOT NULL,
    file_count INTEGER NOT NULL,
    custom TEXT,
    meta TEXT NOT NULL,
    stamp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_activity ON sessions (status, last_active DESC, id DESC);
CREATE INDEX IF NOT EXISTS sessions_by_recency ON sessions (last_active DESC, id DESC);
CREATE INDEX IF NOT EXISTS sessions_by_name ON sessions (name_lower);
CREATE TABLE IF NOT EXISTS dirty (id TEXT PRIMARY KEY);
"""


class IndexUnavailable(Exception):
    """The index cannot be opened or written (read-only folder, corrupt file): scan the files."""


def _activity_key(when: datetime) -> str:
    """A ``last_active`` as fixed-width UTC text, so SQL ordering equals datetime ordering."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sort_key(meta: SessionMetadata) -> str:
    """The stored ordering key of a session: its ``last_active`` (see :func:`_activity_key`)."""
    return _activity_key(meta.last_active)


_INSERT = "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

#: A row's metadata with the ``stamp`` (mtime, size, inode) of the file it was read from.
Indexed: TypeAlias = "tuple[SessionMetadata, str]"


def _full(rows: Iterable[Sequence[object]]) -> list[Indexed]:
    """Full metadata (and stamps) from ``(meta, stamp)`` rows; pydantic is imported only here."""
    from chatcli.session.models import SessionMetadata

    try:
        return [(SessionMetadata.model_validate_json(str(meta)), str(stamp)) for meta, stamp in rows]
    except (ValueError, ArithmeticError, RecursionError, MemoryError) as exc:  # ValidationError: a ValueError
        raise IndexUnavailable(f"a row of the index is damaged ({exc.__class__.__name__})") from exc


def _briefs(rows: Iterable[Sequence[Any]]) -> list[SessionBrief]:
    """:func:`_brief` of every row; a damaged row makes the whole index unusable (it is rebuilt)."""
    try:
        return [_brief(row) for row in rows]
    except (KeyError, ValueError, TypeError, ArithmeticError, RecursionError, MemoryError) as exc:
        raise IndexUnavailable(f"a row of the index is damaged ({exc.__class__.__name__})") from exc


def _custom_json(meta: SessionMetadata) -> str | None:
    """``custom_fields`` as JSON text, None when empty (most sessions: nothing to parse back)."""
    if not meta.custom_fields:
        return None
    from pydantic_core import to_json  # writers have pydantic loaded already

    return to_json(meta.custom_fields).decode("utf-8")


def _row(meta: SessionMetadata, stamp: str) -> tuple[object, ...]:
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
        meta.model_dump_json(),
        stamp,
    )


_BRIEF_COLUMNS = "id, name, status, created, last_active, first_message, message_count, file_count, custom"


_STATUSES = {status.value: status for status in SessionStatus}
_from_iso = datetime.fromisoformat


def _brief(row: Sequence[Any]) -> SessionBrief:
    """A brief from the first columns of a row selected with :data:`_BRIEF_COLUMNS`.

    The columns were written by :func:`_row` from validated metadata, so they are taken as they
    are (this runs once per session when a completion snapshot is built).
    """
    sid, name, status, created, active, first, count, files, custom = row[:9]
    return SessionBrief(
        sid,
        name,
        _STATUSES[status],
        _from_iso(created),
        _from_iso(active),
        first,
        count,
        files,
        NO_CUSTOM_FIELDS if custom is None else json.loads(custom),
    )


def _filtered(
    columns: str,
    status: SessionStatus | None,
    search: str | None,
    limit: int | None,
    before: tuple[datetime, str] | None = None,
    *,
    ordered: bool = True,
) -> tuple[str, list[object]]:
    """The ``SELECT`` of ``columns`` for a ``SessionFilter``'s conditions, newest first;
    ``before`` (a ``(last_active, id)``) keeps only older sessions, to read page after page."""
    where: list[str] = []
    params: list[object] = []
    if status is not None:
        where.append("status = ?")
        params.append(status.value)
    if search:
        needle = search.lower()
        where.append("(instr(first_lower, ?) > 0 OR instr(coalesce(name_lower, ''), ?) > 0)")
        params += [needle, needle]
    if before is not None:
        where.append("(last_active, id) < (?, ?)")
        params += [_activity_key(before[0]), before[1]]
    sql = f"SELECT {columns} FROM sessions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if ordered:
        sql += " ORDER BY last_active DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(limit, 0))
    return sql, params


class SessionIndex:
    """The SQLite index of one sessions folder (``<root>/.index/sessions.sqlite3``), opened lazily."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / INDEX_DIR
        self.path = self.folder / INDEX_FILE
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ connection

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        for path in (self.folder, self.path):
            if os.path.islink(path):
                raise IndexUnavailable(f"{path} is a symbolic link")
        try:
            os.mkdir(self.folder, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise IndexUnavailable(str(exc)) from exc
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise IndexUnavailable(str(exc)) from exc
        try:
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise IndexUnavailable(f"index schema {version} is not {SCHEMA_VERSION}")
            conn.executescript(_SCHEMA)
            if version == 0:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (sqlite3.Error, IndexUnavailable) as exc:
            conn.close()
            raise IndexUnavailable(str(exc)) from exc
        self._conn = conn
        return conn

    def close(self) -> None:
        """Close the connection (it is reopened on the next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextlib.contextmanager
    def _tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``durable`` syncs it to disk before returning."""
        with self._lock:
            conn = self._connect()
            try:
                if durable:
                    conn.execute("PRAGMA synchronous = FULL")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                if durable:
                    conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                self.close()
                raise IndexUnavailable(str(exc)) from exc

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return list(self._connect().execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                self.close()
                raise IndexUnavailable(str(exc)) from exc

    # ------------------------------------------------------------------ writer protocol

    def mark_dirty(self, session_id: str) -> None:
        """Step 1 of a write: durably note that this session's files are about to change."""
        with self._tx(durable=True) as conn:
            conn.execute("INSERT OR IGNORE INTO dirty (id) VALUES (?)", (session_id,))

    def store(self, meta: SessionMetadata, stamp: str) -> None:
        """Step 3 of a write: the session's new metadata (and its file's stamp), mark cleared."""
        with self._tx() as conn:
            conn.execute(_INSERT, _row(meta, stamp))
            conn.execute("DELETE FROM dirty WHERE id = ?", (meta.id,))

    def store_many(self, metas: Iterable[Indexed], clear: Iterable[str] = ()) -> None:
        """Store several sessions (and clear the given marks) in one transaction."""
        with self._tx() as conn:
            conn.executemany(_INSERT, (_row(m, stamp) for m, stamp in metas))
            conn.executemany("DELETE FROM dirty WHERE id = ?", ((sid,) for sid in clear))

    def forget(self, session_ids: Iterable[str]) -> None:
        """Remove sessions (deleted, or no longer readable) and their marks."""
        ids = [(sid,) for sid in session_ids]
        with self._tx() as conn:
            conn.executemany("DELETE FROM sessions WHERE id = ?", ids)
            conn.executemany("DELETE FROM dirty WHERE id = ?", ids)

    # ------------------------------------------------------------------ reader side

    def dirty_ids(self) -> list[str]:
        """Sessions whose files may have changed without the index knowing (a writer died)."""
        return [str(r[0]) for r in self._query("SELECT id FROM dirty")]

    def recorded_root_mtime(self) -> int | None:
        """The sessions folder's mtime at the last reconciliation (None: never reconciled)."""
        rows = self._query("SELECT value FROM state WHERE key = 'root_mtime_ns'")
        return int(str(rows[0][0])) if rows else None

    def record_root_mtime(self, mtime_ns: int) -> None:
        """Remember the folder mtime that the index now reflects."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO state (key, value) VALUES ('root_mtime_ns', ?)", (str(mtime_ns),)
            )

    def ids(self) -> set[str]:
        """Every indexed session id."""
        return {str(r[0]) for r in self._query("SELECT id FROM sessions")}

    def count(self) -> int:
        """Number of indexed sessions."""
        return int(str(self._query("SELECT count(*) FROM sessions")[0][0]))

    def select(
        self,
        *,
        status: SessionStatus | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> list[Indexed]:
        """Sessions newest first as full metadata, with their stamps, filtered like a ``SessionFilter``."""
        sql, params = _filtered("meta, stamp", status, search, limit)
        return _full(self._query(sql, params))

    def select_briefs(
        self,
        *,
        status: SessionStatus | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[SessionBrief, str]]:
        """Like :meth:`select`, as briefs read from the columns (no model is built)."""
        sql, params = _filtered(_BRIEF_COLUMNS + ", stamp", status, search, limit)
        rows = self._query(sql, params)
        return list(zip(_briefs(rows), (str(row[-1]) for row in rows), strict=True))

    def count_matching(self, *, status: SessionStatus | None = None, search: str | None = None) -> int:
        """How many sessions :meth:`select` would return without a limit."""
        sql, params = _filtered("count(*)", status, search, None, ordered=False)
        return int(str(self._query(sql, params)[0][0]))

    def briefs(
        self,
        status: SessionStatus | None = None,
        *,
        before: tuple[datetime, str] | None = None,
        limit: int | None = None,
    ) -> list[SessionBrief]:
        """Every session (of ``status``) newest first, as briefs; ``before`` (the ``(last_active,
        id)`` of the last one read) and ``limit`` read them a page at a time."""
        sql, params = _filtered(_BRIEF_COLUMNS, status, None, limit, before)
        return _briefs(self._query(sql, params))

    def by_name(self, name_lower: str) -> list[Indexed]:
        """Sessions whose name equals ``name_lower`` ignoring case."""
        rows = self._query("SELECT meta, stamp FROM sessions WHERE name_lower = ?", (name_lower,))
        return _full(rows)

    def by_prefix(self, prefix: str) -> list[Indexed]:
        """Sessions whose id starts with ``prefix`` (lowercase hex and dashes only)."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else ""
        rows = self._query(
            "SELECT meta, stamp FROM sessions WHERE id >= ? AND id < ? ORDER BY last_active DESC",
            (prefix, upper),
        )
        return _full(rows)
