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
recorded at the last reconciliation, rescanning the folder's entries when it moved. A reader
that stores what it read from a file (without the lock) stores it only if the row is still as it
saw it (:meth:`SessionIndex.store_unchanged`): a writer's newer row is never undone. A missing,
unreadable, older- or newer-schema index is rebuilt from the files. How a session is a row (and
back) is :mod:`.index_rows`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.session.errors import SessionError
from chatcli.session.fields import ChangeCursor, Changes, SessionBrief, SessionStatus
from chatcli.session.store import durable
from chatcli.session.store.index_rows import (
    BRIEF_COLUMNS,
    TAG_SEP,
    Indexed,
    IndexUnavailable,
    activity_key,
    briefs_of,
    metas_of,
    row_of,
)
from chatcli.session.store.layout import INDEX_DIR, INDEX_FILE

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = ["IndexUnavailable", "Indexed", "SessionBrief", "SessionIndex"]

# 5: usage, pinned, tags (metadata v2); 6: the content index; 7: its row ids by session; 8: its
# words folded as a search folds them; 9: its vocabulary (content_terms, for prefix* searches)
SCHEMA_VERSION = 9
#: The database file and the files SQLite keeps beside it.
INDEX_SUFFIXES = ("", "-wal", "-shm", "-journal")
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
    usage TEXT,
    pinned INTEGER NOT NULL,
    tags TEXT,
    meta TEXT NOT NULL,
    stamp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_activity ON sessions (status, last_active DESC, id DESC);
CREATE INDEX IF NOT EXISTS sessions_by_recency ON sessions (last_active DESC, id DESC);
CREATE INDEX IF NOT EXISTS sessions_by_name ON sessions (name_lower);
CREATE TABLE IF NOT EXISTS dirty (id TEXT PRIMARY KEY);
-- The log of changed rows, written by triggers (so by every writer, whatever its version); it
-- keeps the latest 20,000 changes: a reader further behind reads every row again.
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS sessions_stored AFTER INSERT ON sessions BEGIN
    INSERT INTO changes (id) VALUES (new.id);
    DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - 20000;
END;
CREATE TRIGGER IF NOT EXISTS sessions_forgotten AFTER DELETE ON sessions BEGIN
    INSERT INTO changes (id) VALUES (old.id);
END;
"""


_INSERT = "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

#: What storing one row may raise for a value SQLite cannot hold (never a broken database).
_UNSTORABLE = (
    ArithmeticError,
    ValueError,
    TypeError,
    sqlite3.InterfaceError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
)


def _insert_rows(conn: sqlite3.Connection, metas: Iterable[Indexed], clear: Iterable[str]) -> list[str]:
    """Insert the rows of ``metas`` and clear the marks of ``clear`` (in the caller's transaction).

    A row that cannot be stored (a value SQLite refuses) never fails the others: its session is
    marked dirty instead, so readers take it from its files. Returns those ids.
    """
    failed: list[str] = []
    for meta, stamp in metas:
        try:
            conn.execute(_INSERT, row_of(meta, stamp))
        except _UNSTORABLE:
            failed.append(meta.id)
    conn.executemany("DELETE FROM dirty WHERE id = ?", ((sid,) for sid in clear))
    conn.executemany("DELETE FROM sessions WHERE id = ?", ((sid,) for sid in failed))
    conn.executemany("INSERT OR IGNORE INTO dirty (id) VALUES (?)", ((sid,) for sid in failed))
    return failed


def _forget_rows(conn: sqlite3.Connection, session_ids: Iterable[str]) -> None:
    """Remove the rows and marks of these sessions (in the caller's transaction)."""
    ids = [(sid,) for sid in session_ids]
    conn.executemany("DELETE FROM sessions WHERE id = ?", ids)
    conn.executemany("DELETE FROM dirty WHERE id = ?", ids)


def _filtered(
    columns: str,
    status: SessionStatus | None,
    search: str | None,
    limit: int | None,
    before: tuple[datetime, str] | None = None,
    *,
    ordered: bool = True,
    tags: Sequence[str] = (),
) -> tuple[str, list[object]]:
    """The ``SELECT`` of ``columns`` for a ``SessionFilter``'s conditions, newest first;
    ``before`` (a ``(last_active, id)``) keeps only older sessions, to read page after page;
    ``tags`` (lower-case) keeps the sessions that have every one of them."""
    where: list[str] = []
    params: list[object] = []
    if status is not None:
        where.append("status = ?")
        params.append(status.value)
    if search:
        needle = search.lower()
        where.append("(instr(first_lower, ?) > 0 OR instr(coalesce(name_lower, ''), ?) > 0)")
        params += [needle, needle]
    for tag in tags:
        where.append("instr(coalesce(tags, ''), ?) > 0")
        params.append(TAG_SEP + tag + TAG_SEP)
    if before is not None:
        where.append("(last_active, id) < (?, ?)")
        params += [activity_key(before[0]), before[1]]
    sql = f"SELECT {columns} FROM sessions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if ordered:
        sql += " ORDER BY last_active DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(limit, 0))
    return sql, params


def _name_log(conn: sqlite3.Connection) -> None:
    """Give the ``changes`` log a random name when it has none: a log built again from scratch
    (its ``seq`` starting over) then never passes for the one a reader followed."""
    if conn.execute("SELECT 1 FROM state WHERE key = 'log'").fetchone() is None:
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only index: no log name
            conn.execute("INSERT OR IGNORE INTO state (key, value) VALUES ('log', lower(hex(randomblob(8))))")


def _unstorable(exc: Exception) -> IndexUnavailable:
    """The error of a write the index cannot take (its traceback is logged: it may be a bug)."""
    from chatcli.logs import log_exception

    log_exception(exc, "writing to the session index")
    return IndexUnavailable(f"the index cannot store this ({exc.__class__.__name__})")


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
        if os.path.islink(self.folder):
            raise IndexUnavailable(f"{self.folder} is a symbolic link")
        try:
            os.mkdir(self.folder, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise IndexUnavailable(str(exc)) from exc
        self._check_files()
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise IndexUnavailable(str(exc)) from exc
        try:
            with contextlib.suppress(OSError, SessionError):
                durable.chmod_store_file(self.path, 0o600)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise IndexUnavailable(f"index schema {version} is not {SCHEMA_VERSION}")
            conn.executescript(_SCHEMA)
            if version == 0:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            _name_log(conn)
        except (sqlite3.Error, IndexUnavailable) as exc:
            conn.close()
            raise IndexUnavailable(str(exc)) from exc
        self._conn = conn
        return conn

    def _check_files(self) -> None:
        """SQLite writes the database and its ``-wal``/``-shm``/``-journal`` files in place: each
        that exists must be a plain file of ours (:func:`durable.unsafe_reason`), else the index is
        unusable (and, being a cache, dropped: the link is removed, the other file untouched)."""
        for suffix in INDEX_SUFFIXES:
            path = Path(f"{self.path}{suffix}")
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise IndexUnavailable(str(exc)) from exc
            reason = durable.unsafe_reason(st)
            if reason is not None:
                raise IndexUnavailable(f"{path} {reason}")

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
                except sqlite3.Error:
                    conn.execute("ROLLBACK")
                    raise
                except Exception as exc:  # a value SQLite cannot take: the cache cannot hold it
                    conn.execute("ROLLBACK")
                    raise _unstorable(exc) from exc
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

    def mark_dirty(self, *session_ids: str) -> None:
        """Step 1 of a write: durably note that these sessions' files are about to change."""
        with self._tx(durable=True) as conn:
            conn.executemany("INSERT OR IGNORE INTO dirty (id) VALUES (?)", ((sid,) for sid in session_ids))

    def store(self, meta: SessionMetadata, stamp: str) -> bool:
        """Step 3 of a write: the session's new metadata (and its file's stamp), mark cleared.

        False when the row cannot be stored (a value SQLite cannot hold): the session then stays
        marked, so readers take it from its files.
        """
        with self._tx() as conn:
            return not _insert_rows(conn, [(meta, stamp)], [meta.id])

    def store_many(self, metas: Iterable[Indexed], clear: Iterable[str] = ()) -> list[str]:
        """Store several sessions (and clear the given marks) in one transaction.

        Returns the ids whose rows could not be stored; they stay (or become) marked instead.
        """
        with self._tx() as conn:
            return _insert_rows(conn, metas, clear)

    def store_unchanged(
        self, metas: Iterable[tuple[SessionMetadata, str, str | None]], *, clear: bool
    ) -> None:
        """Store rows a reader read from the files without the session's lock, each ``(meta,
        stamp, seen)`` only if its row is still the one the reader saw (the stamp ``seen``; None:
        no row), and (``clear``) the marks of those stored: a writer that stored a newer row
        meanwhile is never undone, nor is a log of changes handed the older one."""
        with self._tx() as conn:
            kept: list[Indexed] = []
            for meta, stamp, seen in metas:
                row = conn.execute("SELECT stamp FROM sessions WHERE id = ?", (meta.id,)).fetchone()
                if (None if row is None else str(row[0])) == seen:
                    kept.append((meta, stamp))
            _insert_rows(conn, kept, [meta.id for meta, _ in kept] if clear else [])

    def forget(self, session_ids: Iterable[str]) -> None:
        """Remove sessions (deleted, or no longer readable) and their marks."""
        with self._tx() as conn:
            _forget_rows(conn, session_ids)

    # ------------------------------------------------------------------ reader side

    def dirty_ids(self) -> list[str]:
        """Sessions whose files may have changed without the index knowing (a writer died)."""
        return [str(r[0]) for r in self._query("SELECT id FROM dirty")]

    def recorded_root_mtime(self) -> int | None:
        """The sessions folder's mtime at the last reconciliation (None: never reconciled)."""
        rows = self._query("SELECT value FROM state WHERE key = 'root_mtime_ns'")
        value = rows[0][0] if rows else None
        # Anything but the digits it was written as is as good as never reconciled.
        return int(value) if isinstance(value, str) and value.isdigit() and value.isascii() else None

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
        tags: Sequence[str] = (),
    ) -> list[Indexed]:
        """Sessions newest first as full metadata, with their stamps, filtered like a ``SessionFilter``."""
        sql, params = _filtered("id, meta, stamp", status, search, limit, tags=tags)
        return metas_of(self._query(sql, params))

    def select_briefs(
        self,
        *,
        status: SessionStatus | None = None,
        search: str | None = None,
        limit: int | None = None,
        tags: Sequence[str] = (),
    ) -> list[tuple[SessionBrief, str]]:
        """Like :meth:`select`, as briefs read from the columns (no model is built)."""
        sql, params = _filtered(BRIEF_COLUMNS + ", stamp", status, search, limit, tags=tags)
        rows = self._query(sql, params)
        return list(zip(briefs_of(rows), (str(row[-1]) for row in rows), strict=True))

    def count_matching(
        self, *, status: SessionStatus | None = None, search: str | None = None, tags: Sequence[str] = ()
    ) -> int:
        """How many sessions :meth:`select` would return without a limit."""
        sql, params = _filtered("count(*)", status, search, None, ordered=False, tags=tags)
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
        sql, params = _filtered(BRIEF_COLUMNS, status, None, limit, before)
        return briefs_of(self._query(sql, params))

    def change_cursor(self) -> ChangeCursor | None:
        """Where the ``changes`` log ends now (None: it has no name, so it cannot be followed)."""
        rows = self._query(
            "SELECT (SELECT value FROM state WHERE key = 'log'), "
            "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)"
        )
        name, seq = rows[0]
        return ChangeCursor(name, int(str(seq))) if isinstance(name, str) else None

    def changed_since(self, cursor: ChangeCursor) -> Changes | None:
        """The sessions whose rows changed since ``cursor``: the briefs of those stored, the ids
        of those removed, and the new cursor; None when the log no longer reaches back to it (or
        is another log: the index was built again)."""
        now = self.change_cursor()
        if now is None or now.log != cursor.log or now.seq < cursor.seq:
            return None
        if now.seq == cursor.seq:
            return Changes(now, [], set())
        oldest = self._query("SELECT min(seq) FROM changes")[0][0]
        if not isinstance(oldest, int) or oldest > cursor.seq + 1:
            return None
        ids = {
            str(r[0])
            for r in self._query("SELECT id FROM changes WHERE seq > ? AND seq <= ?", (cursor.seq, now.seq))
        }
        briefs: list[SessionBrief] = []
        wanted = sorted(ids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            briefs += briefs_of(
                self._query(f"SELECT {BRIEF_COLUMNS} FROM sessions WHERE id IN ({marks})", chunk)
            )
        return Changes(now, briefs, ids - {b.id for b in briefs})

    def by_name(self, name_lower: str) -> list[Indexed]:
        """Sessions whose name equals ``name_lower`` ignoring case."""
        rows = self._query("SELECT id, meta, stamp FROM sessions WHERE name_lower = ?", (name_lower,))
        return metas_of(rows)

    def by_prefix(self, prefix: str) -> list[Indexed]:
        """Sessions whose id starts with ``prefix`` (lowercase hex and dashes only)."""
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else ""
        rows = self._query(
            "SELECT id, meta, stamp FROM sessions WHERE id >= ? AND id < ? ORDER BY last_active DESC",
            (prefix, upper),
        )
        return metas_of(rows)
