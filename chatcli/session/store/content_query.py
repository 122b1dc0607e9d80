"""Reading the content index (:mod:`.content_index`): which sessions a query finds, and their hits.

Every message's row id is ``seq << ROW_BITS | position``: ``seq`` numbers the session in the
index (``content_state.seq``), ``position`` is the message's place in its transcript. So the hits
of a query group into sessions by their row ids alone, and the hits of one session are a range
of row ids, which FTS5 seeks to directly.

A query with up to :data:`EXACT_HITS` hits is counted exactly: every hit is read, grouped by
session and ranked. A broader one (a word in most messages) is not: it is answered by walking the
sessions newest first and asking, for each, whether it has a hit, until ``limit`` sessions are
found; its counts are then lower bounds (:attr:`Finding.counted` is False) and it is ordered
newest first, since ranking by relevance would mean scoring every hit.

A ``prefix*`` is searched as the ``OR`` of the indexed words it starts (:mod:`.content_terms`),
so that it too is counted, walked and sought like a word; only a prefix of very many words is
left to FTS5, whose prefix search reads every hit of every such word on each statement (so it
is then run once, over the newest sessions: :func:`_newest_by_prefix`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import NamedTuple

from chatcli.session.fields import SessionStatus
from chatcli.session.search import SearchQuery, SearchSort
from chatcli.session.store.content_terms import expand
from chatcli.session.store.index_rows import TAG_SEP, IndexUnavailable

__all__ = [
    "EXACT_HITS",
    "ROW_BITS",
    "Finding",
    "Found",
    "Scope",
    "find",
    "messages",
    "row_range",
    "rows_of",
    "searched",
    "seqs_of",
]

#: Bits of a row id that hold the message's position in its session.
ROW_BITS = 32
#: Hits a query may have and still be counted exactly (every hit read, grouped and ranked).
EXACT_HITS = 10_000
#: Sessions a broad query looks at, newest first, before it reads every hit after all.
WALK_LIMIT = 2_000


class Found(NamedTuple):
    """One session with hits, as the index found it: how many, its best hit's rank and row."""

    session_id: str
    session_name: str | None
    last_active: datetime
    hit_count: int
    score: float
    best_row: int


class Finding(NamedTuple):
    """What the index found: the sessions (every one when ``counted``, else the newest ``limit``
    with hits), the hits and sessions counted, and whether those counts are exact."""

    found: list[Found]
    total_hits: int
    sessions_matched: int
    counted: bool = True


def row_range(seq: int) -> tuple[int, int]:
    """The first and last row id a session numbered ``seq`` can hold."""
    return seq << ROW_BITS, ((seq + 1) << ROW_BITS) - 1


class Scope(NamedTuple):
    """Which indexed sessions a search covers: of ``status`` (any when None), with every one of
    ``tags``, not in ``skip`` (sessions searched in their files instead)."""

    status: SessionStatus | None
    tags: Sequence[str]
    skip: frozenset[str]

    def where(self, *, with_skip: bool = True) -> tuple[str, list[object]]:
        """SQL conditions on the ``sessions`` row ``s`` and their values (``1`` when none)."""
        clauses, params = ["1"], list[object]()
        if with_skip:
            clauses.append("s.id NOT IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(self.skip)))
        if self.status is not None:
            clauses.append("s.status = ?")
            params.append(self.status.value)
        for tag in self.tags:  # tags are stored as ",a,b," (see index_rows.TAG_SEP)
            clauses.append("instr(s.tags, ?) > 0")
            params.append(TAG_SEP + tag + TAG_SEP)
        return " AND ".join(clauses), params


class _Match(NamedTuple):
    """What a query asks of the index: the FTS5 ``MATCH`` expression of its word terms (None
    when every term is a substring; ``""`` when a prefix starts no indexed word, so nothing
    matches), its substrings, and whether a prefix was left to FTS5 (``merged``: it starts more
    than :data:`~.content_terms.MAX_WORDS` words)."""

    words: str | None
    substrings: list[str]
    merged: bool


def _phrase(tokens: Sequence[str]) -> str:
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def _match(conn: sqlite3.Connection, query: SearchQuery) -> _Match:
    """The query as the index reads it: each ``prefix*`` the ``OR`` of the indexed words it
    starts (:mod:`.content_terms`), which FTS5 seeks like any word."""
    parts: list[str] = []
    merged = False
    for term in query.terms:
        if term.substring is not None:
            continue
        if not term.prefix:
            parts.append(_phrase(term.tokens))
            continue
        words = expand(conn, term.tokens[-1])
        if words is None:
            parts.append(_phrase(term.tokens) + " *")
            merged = True
        elif not words:
            _none_start(conn, term.tokens[-1])
            return _Match("", query.substrings(), merged=False)
        else:
            parts.append("(" + " OR ".join(_phrase((*term.tokens[:-1], w)) for w in words) + ")")
    return _Match(" AND ".join(parts) or None, query.substrings(), merged)


def _none_start(conn: sqlite3.Connection, prefix: str) -> None:
    """Check with FTS5 that no indexed message holds a word starting with ``prefix`` (quick when
    none does); :class:`IndexUnavailable` when one does: the index lost words it holds."""
    probe = "SELECT 1 FROM content_words WHERE content_words MATCH ? LIMIT 1"
    if conn.execute(probe, [_phrase((prefix,)) + " *"]).fetchone() is not None:
        raise IndexUnavailable("the content index lacks words that its messages hold")


def _hits_sql(match: _Match, *, ranked: bool = False, ranged: bool = False) -> tuple[str, list[object]]:
    """``SELECT id, rank`` of every message matching the query (rank 0 unless ``ranked`` and the
    query has words); ``ranged`` adds a row-id range whose two values the caller appends."""
    params: list[object] = []
    where: list[str] = []
    subs = match.substrings
    if match.words is not None:
        rank = "rank" if ranked else "0.0"
        sql = f"SELECT rowid AS id, {rank} AS rank FROM content_words"
        where.append("content_words MATCH ?" if match.words else "0")
        params += [match.words] if match.words else []
    else:
        sql = "SELECT rowid AS id, 0.0 AS rank FROM content_chars"
        where.append(_substring_test(subs[0], params))
        subs = subs[1:]
    for text in subs:
        condition = _substring_test(text, params)
        where.append(f"rowid IN (SELECT rowid FROM content_chars WHERE {condition})")
    if ranged:
        where.append("rowid BETWEEN ? AND ?")
    return sql + " WHERE " + " AND ".join(where), params


def _substring_test(text: str, params: list[object]) -> str:
    """A condition on ``content_chars`` that its text holds ``text`` (the trigram index needs
    three characters; a shorter text is looked for in every row's text)."""
    if len(text) >= 3:
        params.append('"' + text.replace('"', '""') + '"')
        return "content_chars MATCH ?"
    params.append(text)
    return "instr(folded, ?) > 0"


def find(
    conn: sqlite3.Connection, query: SearchQuery, scope: Scope, *, sort: SearchSort, limit: int
) -> Finding:
    """The sessions in ``scope`` with a message matching ``query`` (see the module documentation)."""
    match = _match(conn, query)
    if match.words == "":
        return Finding([], 0, 0)
    if match.merged:  # FTS5 merges every word a prefix starts, on each statement: once here
        newest = _newest_by_prefix(conn, match, scope, limit)
    else:
        sql, params = _hits_sql(match)
        probe = conn.execute(f"SELECT count(*) FROM ({sql} LIMIT ?)", [*params, EXACT_HITS + 1]).fetchone()
        newest = None if int(probe[0]) <= EXACT_HITS else _walk(conn, match, scope, limit)
    return newest if newest is not None else _exact(conn, match, scope, sort=sort)


def _exact(conn: sqlite3.Connection, match: _Match, scope: Scope, *, sort: SearchSort) -> Finding:
    """Every hit read, grouped by session: exact counts, best hit by rank or recency."""
    sql, params = _hits_sql(match, ranked=sort == "relevance")
    per: dict[int, list[float]] = {}  # seq -> [hits, best row, best rank]
    for row, rank in conn.execute(sql, params):
        seq, score = int(row) >> ROW_BITS, float(rank)
        got = per.get(seq)
        if got is None:
            per[seq] = [1, row, score]
            continue
        got[0] += 1
        if score < got[2] or (score == got[2] and row > got[1]):  # rows come oldest first
            got[1], got[2] = row, score
    if not per:
        return Finding([], 0, 0)
    seqs = json.dumps(list(per))
    (numbered,) = conn.execute(
        "SELECT count(*) FROM content_state WHERE seq IN (SELECT value FROM json_each(?))", [seqs]
    ).fetchone()
    if int(numbered) < len(per):  # hits of no session: rows chatcli never wrote
        raise IndexUnavailable("the content index holds messages of sessions it does not number")
    where, scope_params = scope.where()
    rows = conn.execute(
        "SELECT c.seq, s.id, s.name, s.last_active FROM content_state c JOIN sessions s ON s.id = c.session "
        f"WHERE c.seq IN (SELECT value FROM json_each(?)) AND {where}",
        [seqs, *scope_params],
    )
    found = []
    for seq, sid, name, active in rows:
        hits, best, score = per[int(seq)]
        found.append(Found(str(sid), _text(name), _when(active), int(hits), score, int(best)))
    return Finding(found, sum(f.hit_count for f in found), len(found))


def _newest(conn: sqlite3.Connection, scope: Scope) -> sqlite3.Cursor:
    """``(id, name, last_active, seq)`` of the newest :data:`WALK_LIMIT` indexed sessions in scope."""
    where, params = scope.where()
    return conn.execute(
        "SELECT s.id, s.name, s.last_active, c.seq FROM sessions s "
        f"JOIN content_state c ON c.session = s.id WHERE {where} "
        "ORDER BY s.last_active DESC, s.id DESC LIMIT ?",
        [*params, WALK_LIMIT],
    )


def _broad(found: list[Found]) -> Finding:
    return Finding(found, EXACT_HITS + 1, len(found), counted=False)


def _walk(conn: sqlite3.Connection, match: _Match, scope: Scope, limit: int) -> Finding | None:
    """The newest ``limit`` sessions with hits, found by asking each session newest first (a seek
    into its range of rows: the walk mostly stops after a few sessions); None when
    :data:`WALK_LIMIT` sessions did not hold them (the hits are in few, older sessions)."""
    sql, params = _hits_sql(match, ranged=True)
    found: list[Found] = []
    for sid, name, active, seq in _newest(conn, scope):
        low, high = row_range(int(seq))
        count, best = conn.execute(f"SELECT count(*), max(id) FROM ({sql})", [*params, low, high]).fetchone()
        if int(count):
            found.append(Found(str(sid), _text(name), _when(active), int(count), 0.0, int(best)))
            if len(found) >= limit:
                return _broad(found)
    return None


def _newest_by_prefix(conn: sqlite3.Connection, match: _Match, scope: Scope, limit: int) -> Finding | None:
    """A query with a ``prefix*`` left to FTS5 (:attr:`_Match.merged`), in one pass over its
    hits: those of the newest sessions counted by session. Broad when they alone are more than
    :data:`EXACT_HITS` (the newest ``limit`` sessions with hits are then the answer); None
    (count them all) otherwise, or when those sessions do not hold ``limit`` with hits."""
    listed = _newest(conn, scope).fetchall()
    sql, params = _hits_sql(match)
    grouped = {
        int(seq): (int(count), int(best))
        for seq, count, best in conn.execute(
            f"SELECT id >> {ROW_BITS}, count(*), max(id) FROM ({sql}) "
            f"WHERE id >> {ROW_BITS} IN (SELECT value FROM json_each(?)) GROUP BY 1",
            [*params, json.dumps([int(session[3]) for session in listed])],
        )
    }
    if sum(count for count, _ in grouped.values()) <= EXACT_HITS:
        return None
    found: list[Found] = []
    for sid, name, active, seq in listed:
        count, best = grouped.get(int(seq), (0, 0))
        if count:
            found.append(Found(str(sid), _text(name), _when(active), count, 0.0, best))
            if len(found) >= limit:
                return _broad(found)
    return None


def rows_of(conn: sqlite3.Connection, query: SearchQuery, seqs: dict[str, int]) -> Iterator[tuple[str, int]]:
    """``(session, row)`` of every hit of these sessions (``session -> seq``), oldest first."""
    sql, params = _hits_sql(_match(conn, query), ranged=True)
    for session_id, seq in seqs.items():
        low, high = row_range(seq)
        for (row,) in conn.execute(f"SELECT id FROM ({sql}) ORDER BY id", [*params, low, high]):
            yield session_id, int(row)


def seqs_of(conn: sqlite3.Connection, session_ids: Sequence[str]) -> dict[str, int]:
    """``session -> seq`` of these indexed sessions."""
    rows = conn.execute(
        "SELECT session, seq FROM content_state WHERE session IN (SELECT value FROM json_each(?))",
        [json.dumps(list(session_ids))],
    )
    return {str(sid): int(seq) for sid, seq in rows}


def messages(conn: sqlite3.Connection, row_ids: list[int]) -> dict[int, tuple[int, str, datetime, str]]:
    """``row -> (message_index, role, timestamp, text)`` of these rows."""
    rows = conn.execute(
        "SELECT c.id, c.role, c.ts, coalesce(w.original, w.body) FROM content c "
        "JOIN content_words w ON w.rowid = c.id "
        "WHERE c.id IN (SELECT value FROM json_each(?))",
        [json.dumps(row_ids)],
    )
    mask = (1 << ROW_BITS) - 1
    return {
        int(row): (int(row) & mask, str(role), datetime.fromisoformat(str(ts)), str(body))
        for row, role, ts, body in rows
    }


def searched(conn: sqlite3.Connection, scope: Scope) -> int:
    """How many indexed sessions in ``scope`` a search covers: those in scope less the few not
    indexed (pending) or searched in their files (``scope.skip``), so that no row is scanned."""
    where, params = scope.where(with_skip=False)
    few = "SELECT session FROM content_pending UNION SELECT value FROM json_each(?)"
    sql = (
        f"SELECT (SELECT count(*) FROM sessions s WHERE {where}) - "
        f"(SELECT count(*) FROM sessions s WHERE s.id IN ({few}) AND {where})"
    )
    return int(conn.execute(sql, [*params, json.dumps(sorted(scope.skip)), *params]).fetchone()[0])


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _when(value: object) -> datetime:
    """A ``last_active`` column (fixed-width UTC text) as a datetime."""
    return datetime.fromisoformat(str(value))
