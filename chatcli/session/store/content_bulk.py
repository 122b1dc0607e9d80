"""Indexing new sessions from memory: an import's batches (:mod:`.batch`) store their rows and
their messages in one transaction, without reading back the files they just wrote.

What is written here is exactly what :meth:`.ContentIndex._catch_up` would record after reading
the files: the same row ids (the session's number and each message's position), the same
texts (folded as search folds them), and the same state (inode, offset, lines, rows, stamp, from
the ``fstat`` taken when the transcript was written). A session indexed meanwhile (by a reader),
or one whose messages cannot be handed to SQLite's JSON functions as they are, is caught up from
its file instead.

Each table is filled by one statement for the whole batch, its rows given as one JSON text
(:func:`prepare`, made by the thread that wrote the batch), so that the transaction, on a thread
of its own, lets the interpreter go once per table rather than once per message, and holds it
for next to nothing: the sessions' numbers, unknown until the transaction, are added by SQLite
(each row is prepared as if the batch's first session were number 0).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from chatcli.session.search import fold, has_unspaced
from chatcli.session.store.content_index import _stamp
from chatcli.session.store.content_query import ROW_BITS, row_range
from chatcli.session.store.content_terms import words_of
from chatcli.session.store.index import _UNSTORABLE
from chatcli.session.store.index_rows import row_of
from chatcli.session.store.transcript_file import MAX_LINE

if TYPE_CHECKING:
    from chatcli.session.models import Message
    from chatcli.session.store.index import Indexed

__all__ = ["Prepared", "Written", "index_written", "prepare", "store_rows"]


class Written(NamedTuple):
    """A new session's transcript as it was just written (one line a message, every line whole):
    its messages, the file's status once written (None: no transcript was written) and its
    bytes."""

    session_id: str
    messages: Sequence[Message]
    transcript: os.stat_result | None
    body: bytes | None = None


class Prepared(NamedTuple):
    """A batch's index rows as :func:`prepare` made them: the sessions' rows (and their JSON
    text, None when they must be stored one by one), the transcripts written, those indexed
    from memory, and the JSON texts of the content tables' rows (see :data:`_BULK`)."""

    rows: Sequence[Indexed]
    rows_text: str | None
    written: Sequence[Written]
    fresh: Sequence[Written]
    tables: tuple[str, ...]


#: The sessions of a JSON list of ids that already have content (their state).
_KNOWN_STATES = "SELECT session FROM content_state WHERE session IN (SELECT value FROM json_each(?))"
#: Bulk inserts, each from a JSON list of rows whose first value is offset by the statement's
#: first parameter (the row id by the first session's range, the session number by its number).
_BULK = tuple(
    f"INSERT INTO {table} ({columns}) SELECT "
    + ", ".join(
        f"json_extract(value, '$[{i}]')" + (" + ?" if i == offset else "")
        for i in range(columns.count(",") + 1)
    )
    + " FROM json_each(?)"
    for table, columns, offset in (
        ("content_words", "rowid, body, original", 0),
        ("content_chars", "rowid, folded", 0),
        ("content_state", "session, seq, inode, offset, lines, rows, stamp", 1),
    )
)
#: The messages of each session from its transcript's lines as written, a JSON list of
#: ``[row, all its session's texts in ASCII, line]`` (so their texts are not encoded again):
#: their rows (each line's time, written ``…Z``, stored as ``isoformat`` writes it), and the
#: words of sessions all in ASCII (the others' are folded first, and given in :data:`_BULK`).
_LINES = (
    "INSERT INTO content (id, role, ts) SELECT ? + json_extract(value, '$[0]'), "
    "json_extract(value, '$[2].role'), replace(json_extract(value, '$[2].timestamp'), 'Z', '+00:00') "
    "FROM json_each(?)",
    "INSERT INTO content_words (rowid, body, original) SELECT ? + json_extract(value, '$[0]'), "
    "json_extract(value, '$[2].content'), NULL FROM json_each(?) WHERE json_extract(value, '$[1]')",
)
#: The words of the new sessions' texts, a JSON list (see :mod:`.content_terms`).
_TERMS = "INSERT OR IGNORE INTO content_terms (term) SELECT value FROM json_each(?)"
#: The rows of new sessions, from a JSON list of rows, and their marks cleared (see :func:`store_rows`).
_ROWS = (
    "INSERT OR REPLACE INTO sessions SELECT "
    + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(16))
    + " FROM json_each(?)"
)
_CLEAR = "DELETE FROM dirty WHERE id IN (SELECT value FROM json_each(?))"
_INT64 = range(-(1 << 63), 1 << 63)


def prepare(rows: Sequence[Indexed], written: Sequence[Written]) -> Prepared:
    """The JSON texts of a batch's index transaction (see the module documentation)."""
    fresh = [item for item in written if _from_memory(item)]
    return Prepared(rows, _rows_text(rows), written, fresh, _tables(fresh))


def _rows_text(rows: Sequence[Indexed]) -> str | None:
    """The sessions' rows as one JSON text; None when one holds what JSON cannot carry to SQLite
    unchanged (a NUL character, an integer past 64 bits) or cannot be made into a row."""
    try:
        values = [row_of(meta, stamp) for meta, stamp in rows]
    except _UNSTORABLE:
        return None
    if any(type(v) is int and v not in _INT64 for row in values for v in row):
        return None
    text = json.dumps(values, ensure_ascii=False)
    return None if "\\u0000" in text else text


def store_rows(conn: sqlite3.Connection, prepared: Prepared) -> bool:
    """Store the prepared rows of new sessions and clear their marks, in the caller's
    transaction, one statement each. False, with nothing stored, when they must be stored one
    by one instead (see :func:`_rows_text`, or SQLite refuses one)."""
    if prepared.rows_text is None:
        return False
    conn.execute("SAVEPOINT rows")
    try:
        conn.execute(_ROWS, (prepared.rows_text,))
    except _UNSTORABLE:
        conn.execute("ROLLBACK TO rows")
        conn.execute("RELEASE rows")
        return False
    conn.execute("RELEASE rows")
    conn.execute(_CLEAR, (json.dumps([meta.id for meta, _ in prepared.rows]),))
    return True


def _from_memory(item: Written) -> bool:
    """True when ``item``'s messages can be indexed from memory: its transcript is read by
    ``_catch_up`` line for line (no line longer than ``MAX_LINE``), and no text holds a NUL
    character (SQLite's JSON functions end a text there)."""
    if item.transcript is not None and item.transcript.st_size > MAX_LINE:
        return False
    return not any("\x00" in message.content for message in item.messages)


def _tables(fresh: Sequence[Written]) -> tuple[str, ...]:
    """The rows of the content tables for ``fresh``, the first session numbered 0: those of
    :data:`_BULK`, then the sessions' lines for :data:`_LINES`, then the words of every text
    (for ``content_terms``, :data:`_TERMS`)."""
    tables: tuple[list[tuple[object, ...]], ...] = ([], [], [])
    words, chars, states = tables
    lined: list[str] = []
    bodies: list[str] = []
    for seq, (sid, items, st, body) in enumerate(fresh):
        base = seq << ROW_BITS
        # texts are written raw (never escaped): a transcript all in ASCII has every text in ASCII
        plain = body is not None and body.isascii()
        if body is not None:
            lines = body.decode("utf-8").split("\n")[:-1]  # every line ends with one
            lined.extend(f"[{base | position},{int(plain)},{line}]" for position, line in enumerate(lines))
        for position, message in enumerate(items):
            text = message.content
            bodies.append(text if text.isascii() else fold(text))
            if not text.isascii():
                words.append((base | position, bodies[-1], text))
                if has_unspaced(text):
                    chars.append((base | position, fold(text)))
            elif not plain:
                words.append((base | position, text, None))
        n = len(items)
        state = (0, 0, 0, 0, "") if st is None else (st.st_ino, st.st_size, n, n, _stamp(st))
        states.append((sid, seq, *state))
    terms = json.dumps(sorted(words_of(bodies)), ensure_ascii=False)
    return (*(json.dumps(values, ensure_ascii=False) for values in tables), f"[{','.join(lined)}]", terms)


def index_written(
    conn: sqlite3.Connection, prepared: Prepared, catch_up: Callable[[sqlite3.Connection, str], object]
) -> None:
    """Index the messages of new sessions, in the caller's transaction (see the module
    documentation); ``catch_up`` indexes one session from its file."""
    ids = json.dumps([item.session_id for item in prepared.written])
    known = {row[0] for row in conn.execute(_KNOWN_STATES, (ids,))}
    fresh, tables = prepared.fresh, prepared.tables
    if known:  # indexed meanwhile by a reader: caught up from the file, as any other
        fresh = [item for item in fresh if item.session_id not in known]
        tables = _tables(fresh)
    from_memory = {item.session_id for item in fresh}
    for item in prepared.written:
        if item.session_id not in from_memory:
            catch_up(conn, item.session_id)
    if not fresh:
        return
    first = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM content_state").fetchone()[0])
    low, high = row_range(first)[0], row_range(first + len(fresh) - 1)[1]
    for table, key in (("content_words", "rowid"), ("content_chars", "rowid"), ("content", "id")):
        # rows a damaged index left in these ranges would clash with the new ones
        conn.execute(f"DELETE FROM {table} WHERE {key} BETWEEN ? AND ?", (low, high))
    for sql, text, offset in zip(_BULK, tables, (low, low, first), strict=False):
        if text != "[]":
            conn.execute(sql, (offset, text))
    lines, terms = tables[-2:]
    if lines != "[]":
        for sql in _LINES:
            conn.execute(sql, (low, lines))
    if terms != "[]":
        conn.execute(_TERMS, (terms,))
