"""The content index: every message of every session, searchable with SQLite FTS5.

It lives in the metadata index's database (:mod:`.index`) and follows the same protocol: a writer
marks the session, writes its files, then stores its row, and in that same transaction the
messages appended since the session was last indexed are added (:meth:`ContentIndex.store`). A
transcript rewritten (repaired, cut back) or removed is noticed there too (another inode, a
shorter file, an offset that no longer ends a line) and indexed again from its start. Sessions
never indexed yet (an index built from the files, sessions copied in) are indexed by the next
search (:meth:`ContentIndex.index_pending`), so the first write on a large folder stays quick.

Tables: ``content`` (one row per message: role, time; its id is the session's number and the
message's position, see :mod:`.content_query`), ``content_words`` (FTS5, ``unicode61
remove_diacritics 2``, over the text folded as :func:`~chatcli.session.search.fold` folds it, so
that the index and the reference matcher agree in every script: words in scripts with spaces;
beside it, unindexed, the text as written when it is not ASCII), ``content_chars`` (FTS5
``trigram`` over the folded text of messages in scripts without spaces, so a substring matches),
``content_terms`` (every word of ``content_words``, see :mod:`.content_terms`),
``content_state`` (per session: its number, the transcript's inode, the offset indexed up to,
its line and row counts) and ``content_pending`` (listed sessions not indexed yet, kept by
triggers). When the interpreter's SQLite has no FTS5 none of them exist and searches read the
transcripts instead.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from chatcli.session.errors import SessionError
from chatcli.session.search import fold, has_unspaced
from chatcli.session.store import durable, transcript_file
from chatcli.session.store.content_query import ROW_BITS, row_range
from chatcli.session.store.content_terms import add_words
from chatcli.session.store.index import IndexUnavailable, SessionIndex, _forget_rows, _insert_rows
from chatcli.session.store.layout import CONVERSATION_FILE
from chatcli.session.store.transcript_file import BLOCK, MAX_LINE
from chatcli.session.transcript import LINE_ENDS, line_parser

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata
    from chatcli.session.store.content_bulk import Prepared
    from chatcli.session.store.files import SessionFiles

__all__ = ["ContentIndex", "fts5_available"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS content_state (
    session TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, inode INTEGER NOT NULL,
    offset INTEGER NOT NULL, lines INTEGER NOT NULL, rows INTEGER NOT NULL, stamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS content (id INTEGER PRIMARY KEY, role TEXT NOT NULL, ts TEXT NOT NULL);
-- body: the text as search folds it (fold(): unicode61 alone keeps the accents of most scripts
-- but Latin); original: the text as written when that differs (NULL for ASCII text).
CREATE VIRTUAL TABLE IF NOT EXISTS content_words USING fts5(
    body, original UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS content_chars USING fts5(folded, tokenize = 'trigram');
-- Every word of content_words.body, so that a prefix* is searched as the words it starts
-- (content_terms: FTS5 would merge the lists of every such word on each statement).
CREATE TABLE IF NOT EXISTS content_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;
-- Listed sessions whose messages are not indexed, kept by triggers (so by every writer): a
-- search indexes them first without comparing every row with content_state.
CREATE TABLE IF NOT EXISTS content_pending (session TEXT PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS content_listed AFTER INSERT ON sessions BEGIN
    INSERT OR IGNORE INTO content_pending (session)
        SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM content_state WHERE session = new.id);
END;
CREATE TRIGGER IF NOT EXISTS content_unlisted AFTER DELETE ON sessions BEGIN
    DELETE FROM content_pending WHERE session = old.id;
END;
CREATE TRIGGER IF NOT EXISTS content_indexed AFTER INSERT ON content_state BEGIN
    DELETE FROM content_pending WHERE session = new.session;
END;
CREATE TRIGGER IF NOT EXISTS content_dropped AFTER DELETE ON content_state BEGIN
    INSERT OR IGNORE INTO content_pending (session)
        SELECT old.session WHERE EXISTS (SELECT 1 FROM sessions WHERE id = old.session);
END;
"""

#: What decoding a row of the index raises when the row holds what chatcli never writes.
_UNREADABLE = (ValueError, TypeError, ArithmeticError, LookupError)
#: Sessions indexed per transaction when a search indexes those never indexed yet.
BATCH = 64
#: Messages added to the tables at a time while a transcript is read.
BATCH_ROWS = 512


def fts5_available(conn: sqlite3.Connection) -> bool:
    """True when this SQLite has FTS5 and its trigram tokenizer (a temporary table is made)."""
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x, tokenize = 'trigram')")
        conn.execute("DROP TABLE temp.fts5_probe")
    except sqlite3.Error:
        return False
    return True


#: FTS5's own list of the words of ``content_words`` (temporary: for ``doctor`` only).
_VOCAB = "CREATE VIRTUAL TABLE IF NOT EXISTS temp.content_vocab USING fts5vocab(main, content_words, row)"
#: Words of ASCII letters and digits FTS5 holds that ``content_terms`` lacks (for those, both
#: read a text alike: see :mod:`.content_terms`), but for one FTS5 cut to its first 32,768 bytes.
_LOST_WORDS = (
    "SELECT count(*) FROM temp.content_vocab v WHERE v.term NOT GLOB '*[^0-9a-z]*' "
    "AND length(v.term) < 32768 "
    "AND NOT EXISTS (SELECT 1 FROM content_terms t WHERE t.term = v.term)"
)


class _Reading(NamedTuple):
    """A message read from a transcript: its position among non-blank lines, role, time, text."""

    position: int
    role: str
    timestamp: str
    content: str


def _delete_session(conn: sqlite3.Connection, session_id: str) -> None:
    """Remove a session's messages and state (its rows are one range of row ids)."""
    state = conn.execute("SELECT seq FROM content_state WHERE session = ?", (session_id,)).fetchone()
    if state is None:
        return
    _clear_range(conn, int(state[0]))
    conn.execute("DELETE FROM content_state WHERE session = ?", (session_id,))


def _clear_range(conn: sqlite3.Connection, seq: int) -> None:
    """Remove every row in the range of the session numbered ``seq`` (a range given to a new
    session is cleared first: rows a damaged index left there would clash with its own)."""
    low, high = row_range(seq)
    for table in ("content_words", "content_chars", "content"):
        key = "id" if table == "content" else "rowid"
        conn.execute(f"DELETE FROM {table} WHERE {key} BETWEEN ? AND ?", (low, high))


def _next_seq(conn: sqlite3.Connection) -> int:
    """A number for a session indexed for the first time (one above the highest in use)."""
    return int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM content_state").fetchone()[0])


class _Cursor:
    """How far a transcript is indexed: the offset past the last complete line read, and the
    number of non-blank lines before it."""

    __slots__ = ("lines", "offset")

    def __init__(self, offset: int, lines: int) -> None:
        self.offset = offset
        self.lines = lines


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


def _insert(conn: sqlite3.Connection, seq: int, readings: Iterable[_Reading]) -> int:
    """Add these messages of the session numbered ``seq``; how many were added."""
    base, count = seq << ROW_BITS, 0
    rows: list[tuple[int, str, str]] = []
    words: list[tuple[int, str, str | None]] = []
    chars: list[tuple[int, str]] = []
    for reading in readings:
        if reading.position >= 1 << ROW_BITS:  # past any real transcript: left unindexed
            break
        row = base | reading.position
        rows.append((row, reading.role, reading.timestamp))
        text = reading.content
        words.append((row, text, None) if text.isascii() else (row, fold(text), text))
        if has_unspaced(reading.content):
            chars.append((row, fold(reading.content)))
        count += 1
        if len(rows) >= BATCH_ROWS:
            _flush(conn, rows, words, chars)
    _flush(conn, rows, words, chars)
    return count


def _flush(
    conn: sqlite3.Connection,
    rows: list[tuple[int, str, str]],
    words: list[tuple[int, str, str | None]],
    chars: list[tuple[int, str]],
) -> None:
    conn.executemany("INSERT INTO content (id, role, ts) VALUES (?, ?, ?)", rows)
    conn.executemany("INSERT INTO content_words (rowid, body, original) VALUES (?, ?, ?)", words)
    conn.executemany("INSERT INTO content_chars (rowid, folded) VALUES (?, ?)", chars)
    add_words(conn, (body for _, body, _ in words))
    rows.clear()
    words.clear()
    chars.clear()


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
        with self._tx() as conn:
            _forget_rows(conn, ids)
            if self.has_content:
                for session_id in ids:
                    _delete_session(conn, session_id)

    def _catch_up(self, conn: sqlite3.Connection, session_id: str) -> SessionError | None:
        """Index what was appended to the session's transcript (all of it if it was rewritten).

        A transcript that cannot be read leaves the session unindexed (the error is returned):
        the next search tries again and, failing, names it in its warnings.
        """
        state = conn.execute(
            "SELECT seq, inode, offset, lines FROM content_state WHERE session = ?", (session_id,)
        ).fetchone()
        seq = _next_seq(conn) if state is None else int(state[0])
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
                if state is None or not _continues(fd, (state[1], state[2], state[3]), inode):
                    _delete_session(conn, session_id)
                    _clear_range(conn, seq)
                    state = None
                cursor = _Cursor(0, 0) if state is None else _Cursor(int(state[2]), int(state[3]))
                added = _insert(conn, seq, _read_new(fd, cursor))
            except OSError as exc:
                _delete_session(conn, session_id)
                return durable.storage_error(exc, self.files.root / session_id)
            finally:
                os.close(fd)
        elif state is not None:
            _delete_session(conn, session_id)
        conn.execute(
            "INSERT INTO content_state (session, seq, inode, offset, lines, rows, stamp) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (session) DO UPDATE SET inode = excluded.inode, offset = excluded.offset, "
            "lines = excluded.lines, rows = content_state.rows + excluded.rows, stamp = excluded.stamp",
            (session_id, seq, inode, cursor.offset, cursor.lines, added, stamp),
        )
        conn.execute("DELETE FROM content_pending WHERE session = ?", (session_id,))  # an update
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
        counted = {
            r[0]: r[1] for r in self._query(f"SELECT id >> {ROW_BITS}, count(*) FROM content GROUP BY 1")
        }
        states = self._query(
            "SELECT c.session, c.seq, c.rows, s.id FROM content_state c "
            "LEFT JOIN sessions s ON s.id = c.session ORDER BY c.session"
        )
        for session_id, seq, rows, listed in states:
            short = str(session_id)[:8]
            if listed is None:
                problems.append(f"the content index holds messages of session {short}, not listed")
            elif counted.get(seq, 0) != rows:
                problems.append(f"the content index of session {short} is missing messages")
        for session_id in self.stale():
            problems.append(
                f"the content index of session {session_id[:8]} is stale (its transcript changed)"
            )
        return problems + self._strays({str(seq) for seq in counted} - {str(state[1]) for state in states})

    def _strays(self, unnumbered: set[str]) -> list[str]:
        """Rows of no indexed session (numbers no session holds, words or characters of no
        message) and sessions listed as waiting to be indexed that are not listed at all."""
        problems: list[str] = []
        if unnumbered:
            problems.append(f"the content index holds messages of {len(unnumbered)} unknown session(s)")
        for table in ("content_words", "content_chars"):
            sql = f"SELECT count(*) FROM {table} WHERE rowid NOT IN (SELECT id FROM content)"
            if self._query(sql)[0][0]:
                problems.append(f"the content index holds text of messages it does not list ({table})")
        sql = "SELECT count(*) FROM content_pending WHERE session NOT IN (SELECT id FROM sessions)"
        if self._query(sql)[0][0]:
            problems.append("the content index waits to index sessions that are not listed")
        with self._tx() as conn:  # a prefix* is searched as the kept words: one lost is missed
            conn.execute(_VOCAB)
            lost = conn.execute(_LOST_WORDS).fetchone()[0]
        if lost:
            problems.append(f"the content index lacks {lost} word(s) its messages hold (content_terms)")
        return problems

    def stale(self) -> list[str]:
        """Indexed sessions whose transcript changed since (by hand: chatcli's own writes keep
        the index in step), found by their file's stamp; ``doctor`` reports them and
        ``doctor --repair`` rebuilds the index."""
        out: list[str] = []
        listed = "SELECT c.session, c.stamp FROM content_state c JOIN sessions s ON s.id = c.session"
        for session_id, stamp in self._query(listed):  # one not listed is reported as such
            path = os.path.join(self.files.root, str(session_id), CONVERSATION_FILE)
            try:
                now = _stamp(os.stat(path, follow_symlinks=False))
            except OSError:
                now = ""
            if now != stamp:
                out.append(str(session_id))
        return out

    # ------------------------------------------------------------------ readers

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection in a read transaction: every query made with it sees one state of the
        index (see :mod:`.content_query`); :class:`IndexUnavailable` when it cannot be read, or
        when a value read from it cannot be (the index is a cache anyone could have written: a
        row out of range, a time that is no time, means a damaged index, replaced by the caller)."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self.close()
                raise IndexUnavailable(str(exc)) from exc
            except _UNREADABLE as exc:
                raise IndexUnavailable(f"a value in the index cannot be read ({type(exc).__name__})") from exc

    def pending(self) -> list[str]:
        """Sessions whose messages were never indexed (built from the files, copied in)."""
        return [
            str(row[0])
            for row in self._query(
                "SELECT p.session FROM content_pending p JOIN sessions s ON s.id = p.session"
            )
        ]

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

    def store_created(self, prepared: Prepared) -> list[str]:
        """New sessions (:mod:`.batch`): their rows (marks cleared, as :meth:`store_many`) and,
        in the same transaction, their messages, from what was just written to their
        transcripts (:func:`.content_bulk.index_written`). Returns the ids whose rows could not
        be stored (they stay marked)."""
        from chatcli.session.store.content_bulk import index_written, store_rows

        with self._tx() as conn:
            rows = prepared.rows
            failed = [] if store_rows(conn, prepared) else _insert_rows(conn, rows, [m.id for m, _ in rows])
            if self.has_content and prepared.written:
                index_written(conn, prepared, self._catch_up)
            return failed
