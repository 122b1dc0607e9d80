"""``sessions search`` in the file store: served by the content index (:mod:`.content_index`)
when it can be, else by reading every transcript (:func:`chatcli.session.search.scan_all`).

The index is brought up to date first, as for a listing (:meth:`.IndexSync.synced`); sessions
never indexed are indexed then. Sessions a writer may still be changing (marked, their lock
held) are searched in their files, never from their rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from chatcli.session.errors import SessionError
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
from chatcli.session.store.index import IndexUnavailable

if TYPE_CHECKING:
    from chatcli.session.store.content_index import ContentIndex, Found
    from chatcli.session.store.index_sync import IndexSync, Synced

__all__ = ["NO_FTS5", "search_store"]

#: Said once with the results when this Python's SQLite cannot hold the content index.
NO_FTS5 = (
    "This Python's SQLite has no full-text search (FTS5): every transcript was read instead, "
    "which is slower with many sessions."
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
    changed = index.pending()
    index.index_pending([sid for sid in changed if sid not in untrusted], failed)
    warnings = [not_searched(sid, exc) for sid, exc in failed]
    warnings += [not_searched(getattr(exc, "session_id", "?") or "?", exc) for exc in synced.problems]
    scanned: list[SessionMatches] = []
    searched = 0
    for meta in synced.overrides:
        if (status is not None and meta.status is not status) or not options.wants(meta.tags):
            continue
        try:
            matches = scan_session(
                query, SessionBrief.of(meta), transcript(meta.id), every_hit=options.every_hit
            )
        except SessionError as exc:
            warnings.append(not_searched(meta.id, exc))
            continue
        searched += 1
        if matches is not None:
            scanned.append(matches)
    found = index.find(query, status, untrusted, options.tags)
    searched += index.searched(status, untrusted, options.tags)
    candidates: list[Found | SessionMatches] = [*found, *scanned]
    shown = order_sessions(candidates, options.sort)[: max(options.limit, 0)]
    complete = _complete(index, query, [f for f in shown if not isinstance(f, SessionMatches)], options)
    listed: list[SessionMatches] = []
    for f in shown:
        done = f if isinstance(f, SessionMatches) else complete.get(f.session_id)
        if done is not None:  # None: its rows went between two reads (deleted meanwhile)
            listed.append(done)
    total = sum(f.hit_count for f in found) + sum(m.hit_count for m in scanned)
    return SearchResult(
        query.text,
        listed,
        total,
        len(found) + len(scanned),
        searched,
        options.sort,
        options.every_hit,
        warnings,
    )


def _complete(
    index: ContentIndex, query: SearchQuery, found: list[Found], options: SearchOptions
) -> dict[str, SessionMatches]:
    """The sessions ``found`` by the index with their hits read back (each best, or all, oldest
    first)."""
    if not found:
        return {}
    rows: dict[str, list[int]] = {f.session_id: [f.best_row] for f in found}
    if options.every_hit:
        for session_id, row in index.rows_of(query, list(rows)):
            if row != rows[session_id][0]:
                rows[session_id].append(row)
    texts = index.messages([row for ids in rows.values() for row in ids])
    out: dict[str, SessionMatches] = {}
    for f in found:
        hits: dict[int, SearchHit] = {}
        for row in rows[f.session_id]:
            if row in texts:
                position, role, when, body = texts[row]
                hits[row] = SearchHit(f.session_id, f.session_name, role, when, query.snippet(body), position)
        if f.best_row in hits:
            every = sorted(hits.values(), key=lambda hit: hit.message_index)
            out[f.session_id] = SessionMatches(
                f.session_id, f.session_name, f.last_active, f.hit_count, hits[f.best_row], every, f.score
            )
    return out
