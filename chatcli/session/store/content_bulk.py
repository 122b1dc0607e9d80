"""Indexing new sessions' messages from memory: an import's batches (:mod:`.batch`) store their
rows and their messages in one transaction, without reading back the transcripts they just wrote.

What is written here is exactly what :meth:`.ContentIndex._catch_up` would record after reading
the files: the same row ids (the session's number and each message's position), the same
texts (folded as search folds them), and the same state (inode, offset, lines, rows, stamp, from
the ``fstat`` taken when the transcript was written). A session indexed meanwhile (by a reader),
or one whose messages cannot be handed to SQLite's JSON functions as they are, is caught up from
its file instead. Each table is filled by one statement for the whole batch (its rows given as
JSON), so that the interpreter lock is let go once per table rather than once per message.
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
from chatcli.session.store.content_terms import add_words
from chatcli.session.store.transcript_file import MAX_LINE

if TYPE_CHECKING:
    from chatcli.session.models import Message

__all__ = ["Written", "index_written"]


class Written(NamedTuple):
    """A new session's transcript as it was just written (one line a message, every line whole):
    its messages and the file's status once written (None: no transcript was written)."""

    session_id: str
    messages: Sequence[Message]
    transcript: os.stat_result | None


#: The sessions of a JSON list of ids that already have content (their state).
_KNOWN_STATES = "SELECT session FROM content_state WHERE session IN (SELECT value FROM json_each(?))"
#: Bulk inserts, each from a JSON list of rows (see :func:`index_written`).
_BULK = tuple(
    f"INSERT INTO {table} ({columns}) SELECT "
    + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(columns.count(",") + 1))
    + " FROM json_each(?)"
    for table, columns in (
        ("content", "id, role, ts"),
        ("content_words", "rowid, body, original"),
        ("content_chars", "rowid, folded"),
        ("content_state", "session, seq, inode, offset, lines, rows, stamp"),
    )
)


def _from_memory(item: Written) -> bool:
    """True when ``item``'s messages can be indexed from memory: its transcript is read by
    ``_catch_up`` line for line (no line longer than ``MAX_LINE``), and no text holds a NUL
    character (SQLite's JSON functions end a text there)."""
    if item.transcript is not None and item.transcript.st_size > MAX_LINE:
        return False
    return not any("\x00" in message.content for message in item.messages)


def index_written(
    conn: sqlite3.Connection,
    written: Sequence[Written],
    catch_up: Callable[[sqlite3.Connection, str], object],
) -> None:
    """Index the messages of new sessions, in the caller's transaction (see the module
    documentation); ``catch_up`` indexes one session from its file."""
    ids = json.dumps([item.session_id for item in written])
    known = {row[0] for row in conn.execute(_KNOWN_STATES, (ids,))}
    fresh: list[Written] = []
    for item in written:
        if item.session_id in known or not _from_memory(item):
            catch_up(conn, item.session_id)
        else:
            fresh.append(item)
    if not fresh:
        return
    first = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM content_state").fetchone()[0])
    low, high = row_range(first)[0], row_range(first + len(fresh) - 1)[1]
    for table, key in (("content_words", "rowid"), ("content_chars", "rowid"), ("content", "id")):
        # rows a damaged index left in these ranges would clash with the new ones
        conn.execute(f"DELETE FROM {table} WHERE {key} BETWEEN ? AND ?", (low, high))
    tables: tuple[list[tuple[object, ...]], ...] = ([], [], [], [])
    messages, words, chars, states = tables
    for seq, (sid, items, st) in enumerate(fresh, start=first):
        base = seq << ROW_BITS
        for position, message in enumerate(items):
            row, text = base | position, message.content
            messages.append((row, message.role, message.timestamp.isoformat()))
            words.append((row, text, None) if text.isascii() else (row, fold(text), text))
            if has_unspaced(text):
                chars.append((row, fold(text)))
        n = len(items)
        state = (0, 0, 0, 0, "") if st is None else (st.st_ino, st.st_size, n, n, _stamp(st))
        states.append((sid, seq, *state))
    for sql, values in zip(_BULK, tables, strict=True):
        if values:
            conn.execute(sql, (json.dumps(values, ensure_ascii=False),))
    add_words(conn, (str(body) for _, body, _ in words))
