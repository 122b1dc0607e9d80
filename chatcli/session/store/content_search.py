"""``sessions search`` in the file store: served by the content index (:mod:`.content_index`)
when it can be, else by reading every transcript (:func:`chatcli.session.search.scan_all`).

The index is brought up to date first, as for a listing (:meth:`.IndexSync.synced`); sessions
never indexed are indexed then. Sessions a writer may still be changing (marked, their lock
held) are searched in their files, never from their rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from chatcli.session.errors import SessionError, SessionNotFound
from chatcli.session.fields import SessionBrief, SessionStatus
from chatcli.session.outcomes import SearchHit, SearchResult, SessionMatches
from chatcli.session.search import (
    SearchOptions,
    SearchQuery,
    not_searched,
    order_sessions,
    scan_all,
    scan_session,
)
from chatcli.session.store import content_query
from chatcli.session.store.content_query import Found, Scope
from chatcli.session.store.index import IndexUnavailable

if TYPE_CHECKING:
    import sqlite3

    from chatcli.session.store.content_index import ContentIndex
    from chatcli.session.store.index_sync import IndexSync, Synced

__all__ = ["BROAD_RELEVANCE", "NO_FTS5", "search_store"]

#: Said once with the results when this Python's SQLite cannot hold the content index.
NO_FTS5 = (
    "This Python's SQLite has no full-text search (FTS5): every transcript was read instead, "
    "which is slower with many sessions."
)

#: Said when a search asked to be ranked by relevance had too many hits to rank.
BROAD_RELEVANCE = (
    f"More than {content_query.EXACT_HITS:,} messages match: too many to rank by relevance, so the "
    "newest sessions with a match are shown. Add words to narrow the search."
)


def search_store(
    sync: IndexSync,
    query: SearchQuery,
    status: SessionStatus | None,
    options: SearchOptions,
    *,
    briefs: Callable[[SessionStatus | None], Iterable[SessionBrief]],
    transcript: Callable[[str], Iterable[bytes]],
) -> SearchResult:
    """Search the store: through the content index when there is one, else every transcript
    (``briefs`` and ``transcript`` read them), saying once why when FTS5 is what is missing."""
    synced = sync.synced()
    if synced is not None:
        index = synced.sessions_index
        try:
            if index.searchable():
                return _indexed(synced, index, query, status, options=options, transcript=transcript)
            return scan_all(query, briefs(status), transcript, options, notice=NO_FTS5)
        except IndexUnavailable:
            sync.replace_damaged()
    return scan_all(query, briefs(status), transcript, options)


def _indexed(
    synced: Synced,
    index: ContentIndex,
    query: SearchQuery,
    status: SessionStatus | None,
    *,
    options: SearchOptions,
    transcript: Callable[[str], Iterable[bytes]],
) -> SearchResult:
    untrusted = synced.untrusted
    failed: list[tuple[str, SessionError]] = []
    # What chatcli's own writes changed (marked by the index protocol). A transcript edited by
    # hand is found by `doctor` (stale) and re-indexed by `doctor --repair`: checking every
    # transcript's stamp here would cost a stat per session on every search.
    index.index_pending([sid for sid in index.pending() if sid not in untrusted], failed)
    # A session deleted meanwhile (by another process) is not there to search: no warning.
    warnings = [not_searched(sid, exc) for sid, exc in failed if not isinstance(exc, SessionNotFound)]
    warnings += [not_searched(getattr(exc, "session_id", "?") or "?", exc) for exc in synced.problems]
    scanned, searched = _scan_overrides(
        synced, query, status, options, transcript=transcript, warnings=warnings
    )
    scope = Scope(status, options.tags, frozenset(untrusted))
    with index.reading() as conn:
        finding = content_query.find(conn, query, scope, sort=options.sort, limit=max(options.limit, 0))
        searched += content_query.searched(conn, scope)
        candidates: list[Found | SessionMatches] = [*finding.found, *scanned]
        sort = options.sort if finding.counted else "recent"
        shown = order_sessions(candidates, sort)[: max(options.limit, 0)]
        complete = _complete(conn, query, [f for f in shown if not isinstance(f, SessionMatches)], options)
    listed = [f if isinstance(f, SessionMatches) else complete[f.session_id] for f in shown]
    total = finding.total_hits + sum(m.hit_count for m in scanned)
    notice = None if finding.counted or options.sort != "relevance" else BROAD_RELEVANCE
    return SearchResult(
        query.text,
        listed,
        total,
        finding.sessions_matched + len(scanned),
        searched,
        sort,
        options.every_hit,
        warnings,
        notice,
        counted=finding.counted,
    )


def _scan_overrides(
    synced: Synced,
    query: SearchQuery,
    status: SessionStatus | None,
    options: SearchOptions,
    *,
    transcript: Callable[[str], Iterable[bytes]],
    warnings: list[str],
) -> tuple[list[SessionMatches], int]:
    """Search the sessions a writer may be changing in their files (never from their rows)."""
    scanned: list[SessionMatches] = []
    searched = 0
    for meta in synced.overrides:
        if (status is not None and meta.status is not status) or not options.wants(meta.tags):
            continue
        try:
            matches = scan_session(
                query, SessionBrief.of(meta), transcript(meta.id), every_hit=options.every_hit
            )
        except SessionNotFound:  # deleted meanwhile (by another process)
            continue
        except SessionError as exc:
            warnings.append(not_searched(meta.id, exc))
            continue
        searched += 1
        if matches is not None:
            scanned.append(matches)
    return scanned, searched


def _complete(
    conn: sqlite3.Connection, query: SearchQuery, found: list[Found], options: SearchOptions
) -> dict[str, SessionMatches]:
    """The sessions ``found`` by the index with their hits read back (each best, or all, oldest
    first), in the same read transaction as the search."""
    if not found:
        return {}
    rows: dict[str, list[int]] = {f.session_id: [f.best_row] for f in found}
    if options.every_hit:
        for session_id, row in content_query.rows_of(conn, query, content_query.seqs_of(conn, list(rows))):
            if row != rows[session_id][0]:
                rows[session_id].append(row)
    texts = content_query.messages(conn, [row for ids in rows.values() for row in ids])
    if len(texts) < sum(len(ids) for ids in rows.values()):  # a hit without its message row
        raise IndexUnavailable("the content index holds words of messages it does not list")
    out: dict[str, SessionMatches] = {}
    for f in found:
        hits: dict[int, SearchHit] = {}
        for row in rows[f.session_id]:
            position, role, when, body = texts[row]
            hits[row] = SearchHit(f.session_id, f.session_name, role, when, query.snippet(body), position)
        every = sorted(hits.values(), key=lambda hit: hit.message_index)
        out[f.session_id] = SessionMatches(
            f.session_id, f.session_name, f.last_active, f.hit_count, hits[f.best_row], every, f.score
        )
    return out
