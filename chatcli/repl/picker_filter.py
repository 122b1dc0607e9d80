"""The session browser's name filter: names, tags, first messages and ids, at 100,000 sessions.

A keystroke must cost milliseconds, so nothing here looks at every session twice or ranks every
match: :class:`SnapshotFilter` keeps one lower-cased line per session (pinned sessions first, then
newest first) joined into one string, finds plain substrings in it with ``str.find`` (C speed) and
stops after :data:`MATCH_LIMIT` matches. Only when fewer than that many sessions hold the text as
written does it look for the letters in order (fuzzy), one compiled pattern per session line. A
query that extends the previous one searches only the previous matches when those were all of
them. :func:`filter_entries` is the reference: every entry scored, the same order for small lists.
"""

from __future__ import annotations

import bisect
import itertools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from chatcli.repl.completion.snapshot import SnapshotEntry

__all__ = ["MATCH_LIMIT", "Found", "Scan", "SnapshotFilter", "filter_entries", "fuzzy_score"]

#: The browser lists at most this many matches of a query (best first among them).
MATCH_LIMIT = 200
#: How much of a first message the filter looks at (what a row can show, and some).
FIRST_CHARS = 200


def fuzzy_score(query: str, text: str) -> int | None:
    """Score ``text`` against ``query`` (lower is better); None if the letters are not all there in order.

    A plain substring scores by its position; otherwise the letters must appear in order and the
    score grows with the gaps between them.
    """
    if not query:
        return 0
    hay = text.lower()
    needle = query.lower()
    pos = hay.find(needle)
    if pos >= 0:
        return pos
    score = 1000
    at = -1
    for ch in needle:
        nxt = hay.find(ch, at + 1)
        if nxt < 0:
            return None
        score += nxt - at - 1
        at = nxt
    return score


def _score(entry: SnapshotEntry, query: str) -> int | None:
    fields = [entry.name or "", entry.first_message[:FIRST_CHARS], entry.id, *entry.tags]
    scores = [s for s in (fuzzy_score(query, f) for f in fields) if s is not None]
    return min(scores) if scores else None


def _ranked(entries: Sequence[SnapshotEntry], positions: Sequence[int], query: str) -> list[SnapshotEntry]:
    """The entries at ``positions`` that match ``query``: pinned first, best match, then newest."""
    scored: list[tuple[bool, int, int, SnapshotEntry]] = []
    for position in positions:
        entry = entries[position]
        score = _score(entry, query)
        if score is not None:
            scored.append((not entry.pinned, score, position, entry))
    scored.sort(key=lambda item: item[:3])
    return [item[3] for item in scored]


def filter_entries(entries: Sequence[SnapshotEntry], query: str) -> list[SnapshotEntry]:
    """Entries matching ``query`` over name, tags, first message and id: pinned sessions first,
    then best match first, then newest (every entry scored: the reference for small lists)."""
    return _ranked(entries, range(len(entries)), query)


@dataclass(frozen=True, slots=True)
class Found:
    """What a query found: ``entries`` in display order; ``complete`` when no match was left out
    by :data:`MATCH_LIMIT`; ``positions`` the matches' places in the filter (for narrowing)."""

    query: str
    entries: Sequence[SnapshotEntry]
    complete: bool
    positions: tuple[int, ...] | None


def _line(entry: SnapshotEntry) -> str:
    # A tab or newline inside a name or message must not split or join lines.
    text = "\t".join((entry.name_lower, entry.first_lower[:FIRST_CHARS], entry.id, *entry.tags))
    return text.replace("\n", " ")


def _fuzzy_pattern(needle: str) -> re.Pattern[str]:
    """Letters of ``needle`` in order from the start of a line, each found at its first place (no
    backtracking): a quick test that every match passes (the fields are checked one by one after)."""
    return re.compile("".join(f"[^{re.escape(c)}]*+{re.escape(c)}" for c in needle))


class SnapshotFilter:
    """Filters one list of entries by query, lazily and with a limit (see the module docstring)."""

    def __init__(self, entries: Sequence[SnapshotEntry], limit: int = MATCH_LIMIT) -> None:
        pinned = [e for e in entries if e.pinned]
        self.entries: list[SnapshotEntry] = (
            pinned + [e for e in entries if not e.pinned] if pinned else list(entries)
        )
        self.limit = limit
        self._lines: list[str] | None = None
        self._text = ""
        self._starts: list[int] = []
        self._last: Found | None = None
        self._by_id: dict[str, SnapshotEntry] | None = None
        self._building = threading.Lock()

    def prepare(self) -> None:
        """Build the search text (about 50 ms at 100,000 sessions; done once, on a worker thread
        after the first paint, or by the first query if that comes sooner)."""
        with self._building:
            if self._lines is not None:
                return
            lines = [_line(e) for e in self.entries]
            self._text = "\n".join(lines)
            self._starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
            self._lines = lines

    def by_id(self, session_id: str) -> SnapshotEntry | None:
        """The entry of ``session_id``, if listed."""
        if self._by_id is None:
            self._by_id = {e.id: e for e in self.entries}
        return self._by_id.get(session_id)

    def find(self, query: str) -> Found:
        """The entries matching ``query`` (all of them for an empty query), filtered to the end."""
        scan = self.begin(query)
        scan.advance(None)
        return scan.found()

    def begin(self, query: str) -> Scan:
        """Start filtering by ``query``: the plain substrings are found at once (milliseconds), the
        letters-in-order matches by :meth:`Scan.advance`, a slice of the sessions at a time."""
        if not query:
            return Scan(self, query, (), None, True)
        self.prepare()
        needle = query.lower()
        last = self._last
        narrow = (
            last is not None
            and last.complete
            and last.positions is not None
            and needle.startswith(last.query)
        )
        candidates = last.positions if narrow and last is not None else None
        positions, complete = self._substring(needle, candidates)
        if not complete or len(positions) >= self.limit or len(needle) == 1:  # one letter: fuzzy is substring
            return Scan(self, query, positions, None, complete)
        return Scan(
            self, query, positions, range(len(self.entries)) if candidates is None else candidates, True
        )

    def _substring(self, needle: str, candidates: Sequence[int] | None) -> tuple[list[int], bool]:
        assert self._lines is not None
        found: list[int] = []
        if candidates is not None:
            lines = self._lines
            found = [i for i in candidates if needle in lines[i]]
            return found[: self.limit], len(found) <= self.limit
        text, starts, pos = self._text, self._starts, 0
        while len(found) < self.limit:
            at = text.find(needle, pos)
            if at < 0:
                return found, True
            line = bisect.bisect_right(starts, at) - 1
            found.append(line)
            pos = starts[line + 1]
        return found, text.find(needle, pos) < 0


class Scan:
    """One query being filtered by a :class:`SnapshotFilter`: the substring matches, then the
    letters-in-order (fuzzy) ones, found :meth:`advance` by :meth:`advance` over ``pending``."""

    def __init__(
        self,
        owner: SnapshotFilter,
        query: str,
        positions: Sequence[int],
        pending: Sequence[int] | None,
        complete: bool,
    ) -> None:
        self.owner = owner
        self.query = query
        self.positions = list(positions)
        self._pending = pending
        self._next = 0
        self._complete = complete
        self._seen = set(positions)
        self._match = _fuzzy_pattern(query.lower()).match if pending is not None else None
        self._found: Found | None = None
        if pending is None:
            self._done()

    @property
    def finished(self) -> bool:
        """True once every session was looked at (or the limit was reached)."""
        return self._pending is None

    def advance(self, count: int | None) -> None:
        """Look at ``count`` more sessions for letters in order (None: all the rest)."""
        pending, match, lines = self._pending, self._match, self.owner._lines
        if pending is None or match is None or lines is None:
            return
        end = len(pending) if count is None else min(len(pending), self._next + count)
        entries, limit, query = self.owner.entries, self.owner.limit, self.query
        for k in range(self._next, end):
            i = pending[k]
            # The pattern may join letters across fields: a match is kept when one field has them.
            if match(lines[i]) and i not in self._seen and _score(entries[i], query) is not None:
                self.positions.append(i)
                self._seen.add(i)
                if len(self.positions) > limit:
                    self.positions.pop()
                    self._complete = False
                    end = len(pending)
                    break
        self._next = end
        self._found = None
        if end >= len(pending):
            self._pending = None
            self._done()

    def _done(self) -> None:
        if self.query:
            self.owner._last = Found(self.query.lower(), (), self._complete, tuple(sorted(self.positions)))

    def found(self) -> Found:
        """What is found so far, best first (``complete`` only once finished and not cut short)."""
        if not self.query:
            return Found(self.query, self.owner.entries, True, None)
        if self._found is None:
            entries = _ranked(self.owner.entries, self.positions, self.query)
            self._found = Found(self.query, entries, self._complete and self.finished, None)
        return self._found
