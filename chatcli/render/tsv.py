"""Tab-separated values for scripts: ``sessions list|search|prune --tsv``.

One record a line, no heading, fields separated by one tab. Every field is one line of cleaned
text (tabs, newlines and control characters folded to spaces, :func:`chatcli.render.styles.one_line`),
so ``cut -f1`` and ``awk -F'\\t'`` always see the same columns. Ids are full, times ISO 8601 UTC:

* a session (list, prune): ``id  name  status  messages  last_active  first_message  pinned  tags``
  (``pinned`` is ``pinned`` or empty, ``tags`` comma-separated);
* a search, one record per session with hits: ``session_id  session_name  hit_count
  last_active  message_index  snippet`` (its best hit);
* a search with ``--messages``, one record per hit: ``session_id  session_name  role  timestamp
  message_index  snippet``.

A name that is not set is an empty field. Warnings (unreadable sessions, sessions a prune kept)
are not records: the command line prints them on stderr.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chatcli.render.styles import one_line
from chatcli.render.timefmt import iso_utc
from chatcli.session.fields import SessionView
from chatcli.session.outcomes import ListResult, PruneResult, SearchResult

__all__ = ["to_tsv"]


def _line(fields: Iterable[object]) -> str:
    return "\t".join(one_line(str(value)) for value in fields) + "\n"


def _session(meta: SessionView) -> str:
    return _line(
        (
            meta.id,
            meta.name or "",
            meta.status.value,
            meta.message_count,
            iso_utc(meta.last_active),
            meta.first_message,
            "pinned" if meta.pinned else "",
            ",".join(meta.tags),
        )
    )


def _sessions(sessions: Sequence[SessionView]) -> str:
    return "".join(_session(meta) for meta in sessions)


def to_tsv(result: ListResult | SearchResult | PruneResult) -> str:
    """The records of ``result``, one a line (see the module documentation for the fields)."""
    if isinstance(result, SearchResult) and not result.every_hit:
        return "".join(
            _line(
                (
                    found.session_id,
                    found.session_name or "",
                    found.hit_count,
                    iso_utc(found.last_active),
                    found.best.message_index,
                    found.best.snippet,
                )
            )
            for found in result.sessions
        )
    if isinstance(result, SearchResult):
        return "".join(
            _line(
                (
                    hit.session_id,
                    hit.session_name or "",
                    hit.role,
                    iso_utc(hit.timestamp),
                    hit.message_index,
                    hit.snippet,
                )
            )
            for hit in result.hits
        )
    return _sessions(result.sessions)
