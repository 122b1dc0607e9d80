"""The content index: every message of every session, searchable with SQLite FTS5.

It lives in the metadata index's database (:mod:`.index`) and follows the same protocol: a writer
marks the session, writes its files, then stores its row, and in that same transaction the
messages appended since the session was last indexed are added (:meth:`ContentIndex.store`). A
transcript rewritten (repaired, cut back) or removed is noticed there too (another inode, a
shorter file, an offset that no longer ends a line) and indexed again from its start. Sessions
never indexed yet (an index built from the files, sessions copied in) are indexed by the next
search (:meth:`ContentIndex.index_pending`), so the first write on a large folder stays quick.

Tables: ``content`` (one row per message: session, position, role, time), ``content_words``
(FTS5 over the text, ``unicode61 remove_diacritics 2``: words in any script with spaces),
``content_chars`` (FTS5 ``trigram`` over the folded text of messages in scripts without spaces,
so a substring matches) and ``content_state`` (per session: the transcript's inode, the offset
indexed up to, its line and row counts). When the interpreter's SQLite has no FTS5 none of them
exist and searches read the transcripts instead.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from chatcli.session.errors import SessionError
from chatcli.session.fields import SessionStatus
from chatcli.session.search import SearchQuery, fold, has_unspaced
from chatcli.session.store import durable, transcript_file
from chatcli.session.store.index import IndexUnavailable, SessionIndex, _insert_rows
from chatcli.session.store.index_rows import TAG_SEP
from chatcli.session.store.layout import CONVERSATION_FILE
from chatcli.session.store.transcript_file import BLOCK, MAX_LINE
from chatcli.session.transcript import LINE_ENDS, line_parser

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata
    from chatcli.session.store.files import SessionFiles
    from chatcli.session.store.index import Indexed

__all__ = ["ContentIndex", "Found", "Written", "fts5_available"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS content_state (
    session TEXT PRIMARY KEY, inode INTEGER NOT NULL, offset INTEGER NOT NULL,
    lines INTEGER NOT NULL, rows INTEGER NOT NULL, stamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS content (
    id INTEGER PRIMARY KEY, session TEXT NOT NULL, idx INTEGER NOT NULL, role TEXT NOT NULL, ts TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS content_by_session ON content (session, idx);
CREATE VIRTUAL TABLE IF NOT EXISTS content_words USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS content_chars USING fts5(folded, tokenize = 'trigram');
"""

#: Sessions indexed per transaction when a search indexes those never indexed yet.
BATCH = 64


def fts5_available(conn: sqlite3.Connection) -> bool:
    """True when this SQLite has FTS5 and its trigram tokenizer (a temporary table is made)."""
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x, tokenize = 'trigram')")
        conn.execute("DROP TABLE temp.fts5_probe")
    except sqlite3.Error:
        return False
    return True


class Found(NamedTuple):
    """One session with hits, as the index found it: how many, its best hit's rank and row."""

    session_id: str
    session_name: str | None
    last_active: datetime
    hit_count: int
    score: float
    best_row: int


class _Reading(NamedTuple):
    """A message read from a transcript: its position among non-blank lines, role, time, text."""

    position: int
    role: str
    timestamp: str
    content: str


def _delete_session(conn: sqlite3.Connection, session_id: str) -> None:
    rows = "SELECT id FROM content WHERE session = ?"
    conn.execute(f"DELETE FROM content_words WHERE rowid IN ({rows})", (session_id,))
    conn.execute(f"DELETE FROM content_chars WHERE rowid IN ({rows})", (session_id,))
    conn.execute("DELETE FROM content WHERE session = ?", (session_id,))
    conn.execute("DELETE FROM content_state WHERE session = ?", (session_id,))


@dataclass(slots=True)
class _Cursor:
    """How far a transcript is indexed: the offset past the last complete line read, and the
    number of non-blank lines before it."""

    offset: int
    lines: int


def _read_new(fd: int, cursor: _Cursor) -> Iterator[_Reading]:
    """The messages of the complete lines from ``cursor`` on, read a block at a time (memory
    stays bounded), moving ``cursor`` past them (a torn last line is left for later)."""
    parse = line_parser()
    carry, pos = b"", cursor.offset
    while True:
        data = os.pread(fd, BLOCK, pos)
        if not data:
            return
        pos += len(data)
        data = carry + data.replace(b"\r", b"\n")  # a JSON line never holds a raw CR
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if len(carry) > MAX_LINE:  # never held in memory: counted, not indexed
            carry, cursor.lines, cursor.offset = b"", cursor.lines + 1, pos
            continue
        for raw in data[:cut].split(b"\n"):
            if not raw.strip():
                continue
            message = parse(raw)
            if message is not None:
                yield _Reading(cursor.lines, message.role, message.timestamp.isoformat(), message.content)
            cursor.lines += 1
        cursor.offset += cut


def _stamp(st: os.stat_result) -> str:
    """``mtime:size:inode`` of a transcript: any change to it, in place or by replacement, changes it."""
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


def _continues(fd: int, state: tuple[int, int, int], inode: int) -> bool:
    """True when the transcript is the one indexed, grown at most (an append only)."""
    was_inode, offset, _ = state
    if offset == 0:
        return True
    return was_inode == inode and offset <= os.fstat(fd).st_size and os.pread(fd, 1, offset - 1) in LINE_ENDS


def _insert(conn: sqlite3.Connection, session_id: str, readings: Iterable[_Reading]) -> int:
    count = 0
    for reading in readings:
        cur = conn.execute(
            "INSERT INTO content (session, idx, role, ts) VALUES (?, ?, ?, ?)",
            (session_id, reading.position, reading.role, reading.timestamp),
        )
        conn.execute(
            "INSERT INTO content_words (rowid, body) VALUES (?, ?)", (cur.lastrowid, reading.content)
        )
        if has_unspaced(reading.content):
            conn.execute(
                "INSERT INTO content_chars (rowid, folded) VALUES (?, ?)",
                (cur.lastrowid, fold(reading.content)),
            )
        count += 1
    return count


def _scope(status: SessionStatus | None, tags: Sequence[str]) -> list[tuple[str, object]]:
    """SQL conditions on the ``sessions`` row ``s`` (with their values) for a status and tags."""
    scope: list[tuple[str, object]] = []
    if status is not None:
        scope.append(("s.status = ?", status.value))
    for tag in tags:  # tags are stored as ",a,b," (see index_rows.TAG_SEP)
        scope.append(("instr(s.tags, ?) > 0", TAG_SEP + tag + TAG_SEP))
    return scope


class ContentIndex(SessionIndex):
    """The session index with the content of every message (see the module documentation)."""

    def __init__(self, files: SessionFiles) -> None:
        super().__init__(files.root)
        self.files = files
        #: None until the database is opened; then whether FTS5 (and so the content) is there.
        self.has_content: bool | None = None

    def _connect(self) -> sqlite3.Connection:
        fresh = self._conn is None
        conn = super()._connect()
        if fresh:
            self.has_content = fts5_available(conn)
            if self.has_content:
                try:
                    conn.executescript(_SCHEMA)
                except sqlite3.Error:
                    self.has_content = False
        return conn

    def searchable(self) -> bool:
        """True when this database can hold the content (its SQLite has FTS5)."""
        with self._lock:
            self._connect()
            return bool(self.has_content)

    # ------------------------------------------------------------------ writers

    def store(self, meta: SessionMetadata, stamp: str) -> bool:
        """The session's row (see :meth:`SessionIndex.store`) and, in the same transaction, the
        messages appended since it was last indexed."""
        with self._tx() as conn:
            stored = not _insert_rows(conn, [(meta, stamp)], [meta.id])
            if self.has_content:
                self._catch_up(conn, meta.id)
            return stored

    def forget(self, session_ids: Iterable[str]) -> None:
        """Remove sessions, their marks and their messages."""
        ids = list(session_ids)
        super().forget(ids)
        if self.has_content and ids:
            with self._tx() as conn:
                for session_id in ids:
                    _delete_session(conn, session_id)

    def _catch_up(self, conn: sqlite3.Connection, session_id: str) -> SessionError | None:
        """Index what was appended to the session's transcript (all of it if it was rewritten).

        A transcript that cannot be read leaves the session unindexed (the error is returned):
        the next search tries again and, failing, names it in its warnings.
        """
        state = conn.execute(
            "SELECT inode, offset, lines FROM content_state WHERE session = ?", (session_id,)
        ).fetchone()
        try:
            fd = transcript_file.open_for_reading(self.files, session_id)
        except SessionError as exc:
            _delete_session(conn, session_id)
            return exc
        inode, stamp, cursor, added = 0, "", _Cursor(0, 0), 0
        if fd is not None:
            try:
                # Taken before reading: a line appended meanwhile changes the file's stamp, so
                # the next search catches up with it.
                st = os.fstat(fd)
                inode, stamp = st.st_ino, _stamp(st)
                if state is None or not _continues(fd, state, inode):
                    _delete_session(conn, session_id)
                    state = (inode, 0, 0)
                cursor = _Cursor(state[1], state[2])
                added = _insert(conn, session_id, _read_new(fd, cursor))
            except OSError as exc:
                _delete_session(conn, session_id)
                return durable.storage_error(exc, self.files.root / session_id)
            finally:
                os.close(fd)
        elif state is not None:
            _delete_session(conn, session_id)
        conn.execute(
            "INSERT INTO content_state (session, inode, offset, lines, rows, stamp) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (session) DO UPDATE SET inode = excluded.inode, offset = excluded.offset, "
            "lines = excluded.lines, rows = content_state.rows + excluded.rows, stamp = excluded.stamp",
            (session_id, inode, cursor.offset, cursor.lines, added, stamp),
        )
        return None

    def content_problems(self) -> list[str]:
        """Where the content index disagrees with the transcripts (for ``doctor``): rows of a
        session not listed, rows missing, a transcript changed since it was indexed, damaged
        full-text tables. Sessions never indexed yet are not problems (a search indexes them)."""
        if not self.searchable():
            return []
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO content_words (content_words) VALUES ('integrity-check')")
                conn.execute("INSERT INTO content_chars (content_chars) VALUES ('integrity-check')")
        except IndexUnavailable as exc:
            return [f"the content index is damaged ({exc})"]
        problems: list[str] = []
        counted = {r[0]: r[1] for r in self._query("SELECT session, count(*) FROM content GROUP BY session")}
        states = self._query(
            "SELECT c.session, c.rows, s.id FROM content_state c "
            "LEFT JOIN sessions s ON s.id = c.session ORDER BY c.session"
        )
        for session_id, rows, listed in states:
            short = str(session_id)[:8]
            if listed is None:
                problems.append(f"the content index holds messages of session {short}, not listed")
            elif counted.get(session_id, 0) != rows:
                problems.append(f"the content index of session {short} is missing messages")
        for session_id in self.stale():
            problems.append(
                f"the content index of session {session_id[:8]} is stale (its transcript changed)"
            )
        return problems

    def stale(self) -> list[str]:
        """Indexed sessions whose transcript changed since (by hand: chatcli's own writes keep
        the index in step), found by their file's stamp; ``doctor`` reports them and
        ``doctor --repair`` rebuilds the index."""
        out: list[str] = []
        for session_id, stamp in self._query("SELECT session, stamp FROM content_state"):
            path = os.path.join(self.files.root, str(session_id), CONVERSATION_FILE)
            try:
                now = _stamp(os.stat(path, follow_symlinks=False))
            except OSError:
                now = ""
            if now != stamp:
                out.append(str(session_id))
        return out

    # ------------------------------------------------------------------ readers

    def pending(self) -> list[str]:
        """Sessions whose messages were never indexed (built from the files, copied in)."""
        rows = self._query(
            "SELECT id FROM sessions "
            "WHERE NOT EXISTS (SELECT 1 FROM content_state WHERE session = sessions.id)"
        )
        return [str(row[0]) for row in rows]

    def index_pending(self, session_ids: Iterable[str], problems: list[tuple[str, SessionError]]) -> None:
        """Index the messages of these sessions, :data:`BATCH` sessions a transaction; a
        session whose transcript cannot be read goes to ``problems`` (and stays unindexed)."""
        ids = list(session_ids)
        for start in range(0, len(ids), BATCH):
            with self._tx() as conn:
                for session_id in ids[start : start + BATCH]:
                    failed = self._catch_up(conn, session_id)
                    if failed is not None:
                        problems.append((session_id, failed))

    def searched(self, status: SessionStatus | None, skip: set[str], tags: Sequence[str] = ()) -> int:
        """How many indexed sessions (of ``status``, with every one of ``tags``, not in
        ``skip``) a search covers."""
        sql = "SELECT count(*) FROM content_state c JOIN sessions s ON s.id = c.session"
        params: list[object] = list(skip)
        sql += f" WHERE c.session NOT IN ({', '.join('?' * len(skip))})"
        for clause, value in _scope(status, tags):
            sql += " AND " + clause
            params.append(value)
        return int(str(self._query(sql, params)[0][0]))

    def find(
        self, query: SearchQuery, status: SessionStatus | None, skip: set[str], tags: Sequence[str] = ()
    ) -> list[Found]:
        """Every session (of ``status``, with every one of ``tags``, not in ``skip``) with a
        message matching ``query``: its hit count, the BM25 rank of its best hit (0 without word
        terms) and that hit's row."""
        sql, params = _hits_sql(query)
        grouped = (
            "SELECT h.session, s.name, s.last_active, count(*), min(h.rank), h.id "
            f"FROM ({sql}) h JOIN sessions s ON s.id = h.session"
        )
        scope = _scope(status, tags)
        if scope:
            grouped += " WHERE " + " AND ".join(clause for clause, _ in scope)
            params.extend(value for _, value in scope)
        rows = self._query(grouped + " GROUP BY h.session", params)
        return [
            Found(
                str(sid),
                None if name is None else str(name),
                _when(active),
                int(str(n)),
                float(str(rank)),
                int(str(row)),
            )
            for sid, name, active, n, rank, row in rows
            if sid not in skip
        ]

    def rows_of(self, query: SearchQuery, session_ids: list[str]) -> Iterator[tuple[str, int]]:
        """``(session, row)`` of every hit of these sessions, oldest first."""
        sql, params = _hits_sql(query)
        marks = ", ".join("?" * len(session_ids))
        rows = self._query(
            f"SELECT h.session, h.id FROM ({sql}) h WHERE h.session IN ({marks})", [*params, *session_ids]
        )
        for session_id, row in rows:
            yield str(session_id), int(str(row))

    def messages(self, row_ids: list[int]) -> dict[int, tuple[int, str, datetime, str]]:
        """``row -> (message_index, role, timestamp, text)`` of these rows."""
        marks = ", ".join("?" * len(row_ids))
        rows = self._query(
            f"SELECT c.id, c.idx, c.role, c.ts, w.body FROM content c JOIN content_words w ON w.rowid = c.id "
            f"WHERE c.id IN ({marks})",
            row_ids,
        )
        return {
            int(str(r[0])): (int(str(r[1])), str(r[2]), datetime.fromisoformat(str(r[3])), str(r[4]))
            for r in rows
        }

    def store_created(self, rows: Sequence[Indexed], written: Sequence[Written]) -> list[str]:
        """New sessions (:mod:`.batch`): their rows (marks cleared, as :meth:`store_many`) and,
        in the same transaction, their messages, taken from what was just written to their
        transcripts: what :meth:`_catch_up` would read back and record, without reading it (a
        session indexed meanwhile by a reader, or one :func:`_from_memory` refuses, is caught up
        from its file). Returns the ids whose rows could not be stored (they stay marked)."""
        with self._tx() as conn:
            failed = _insert_rows(conn, rows, [meta.id for meta, _ in rows])
            if self.has_content and written:
                self._index_written(conn, written)
            return failed

    def _index_written(self, conn: sqlite3.Connection, written: Sequence[Written]) -> None:
        """Index new transcripts from memory (see :meth:`store_created`): each table is filled by
        one statement for the whole batch, given as JSON, so the interpreter lock is let go
        once per table rather than once per message (a per-message insert, run beside a busy
        thread, waits for that lock after every message)."""
        ids = json.dumps([item.session_id for item in written])
        known = {r[0] for r in conn.execute(_KNOWN_STATES, (ids,))}
        fresh: list[Written] = []
        for item in written:
            if item.session_id in known or not _from_memory(item):
                self._catch_up(conn, item.session_id)
            else:
                fresh.append(item)
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM content").fetchone()
        tables: tuple[list[tuple[object, ...]], ...] = ([], [], [], [])
        messages, words, chars, states = tables
        for sid, items, st in fresh:
            for position, message in enumerate(items):
                last += 1
                messages.append((last, sid, position, message.role, message.timestamp.isoformat()))
                words.append((last, message.content))
                if has_unspaced(message.content):
                    chars.append((last, fold(message.content)))
            n = len(items)
            states.append(
                (sid, 0, 0, 0, 0, "") if st is None else (sid, st.st_ino, st.st_size, n, n, _stamp(st))
            )
        for sql, values in zip(_BULK, tables, strict=True):
            if values:
                conn.execute(sql, (json.dumps(values, ensure_ascii=False),))


def _from_memory(item: Written) -> bool:
    """True when ``item``'s messages can be indexed from memory: its transcript is read by
    :meth:`ContentIndex._catch_up` line for line (no line longer than ``MAX_LINE``), and no
    text holds a NUL character (SQLite's JSON functions end a text there)."""
    if item.transcript is not None and item.transcript.st_size > MAX_LINE:
        return False
    return not any("\x00" in message.content for message in item.messages)


#: The sessions of a JSON list of ids that already have content (their state).
_KNOWN_STATES = "SELECT session FROM content_state WHERE session IN (SELECT value FROM json_each(?))"
#: Bulk inserts into ``content``, ``content_words``, ``content_chars`` and ``content_state``, each
#: from a JSON list of rows (see :meth:`ContentIndex._index_written`).
_BULK = tuple(
    f"INSERT INTO {table} ({columns}) SELECT "
    + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(columns.count(",") + 1))
    + " FROM json_each(?)"
    for table, columns in (
        ("content", "id, session, idx, role, ts"),
        ("content_words", "rowid, body"),
        ("content_chars", "rowid, folded"),
        ("content_state", "session, inode, offset, lines, rows, stamp"),
    )
)


class Written(NamedTuple):
    """A new session's transcript as it was just written (one line a message, every line whole):
    its messages and the file's status once written (None: no transcript was written)."""

    session_id: str
    messages: Sequence[Message]
    transcript: os.stat_result | None


def _when(value: object) -> datetime:
    """A ``last_active`` column (fixed-width UTC text) as a datetime."""
    return datetime.fromisoformat(str(value))


def _hits_sql(query: SearchQuery) -> tuple[str, list[object]]:
    """The ``SELECT session, id, rank`` of every message matching ``query``."""
    match = query.fts_match()
    params: list[object] = []
    if match is not None:
        sql = "SELECT c.session, c.id, w.rank AS rank FROM content_words w JOIN content c ON c.id = w.rowid"
        where = ["content_words MATCH ?"]
        params.append(match)
    else:
        sql, where = "SELECT c.session, c.id, 0.0 AS rank FROM content c", []
    for text in query.substrings():
        if len(text) >= 3:
            where.append("c.id IN (SELECT rowid FROM content_chars WHERE content_chars MATCH ?)")
            params.append('"' + text.replace('"', '""') + '"')
        else:  # the trigram index needs three characters: look through the text itself
            where.append("c.id IN (SELECT rowid FROM content_chars WHERE instr(folded, ?) > 0)")
            params.append(text)
    return sql + " WHERE " + " AND ".join(where), params
