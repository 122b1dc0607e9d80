"""Ranking of session candidates for completion, over a search structure built once per snapshot.

The rules (see :func:`rank_linear`, the plain implementation they are defined by): the word is
lower-cased; rank 0 is an id starting with it, rank 1 a name starting with it, rank 2 a name
containing it, rank 3 a first message containing it (words of 3+ characters only); an empty word
offers every session. A rank 0 match inserts the id, any other the session's
:attr:`~chatcli.repl.completion.snapshot.SnapshotEntry.ref` (its name, unless that reads as an
id). Active sessions come before archived ones within a rank, newest first.

A :class:`CompletionIndex` gives exactly the same answer without looking at every session: per
status, ids and lower-case names are kept sorted in blocks of consecutive positions (a prefix is
two bisections per block, blocks visited newest first), and names and first messages are joined
into chunks of text searched with :meth:`str.find`; each chunk of first messages also keeps its
distinct whitespace-separated words, so a word that occurs in none of them skips the chunk. Each
(rank, status) class is collected in position order and the search stops as soon as ``limit``
rows are certain.

The structure is immutable and cached for the last snapshot's ``entries`` tuple: the REPL builds
it on its background thread right after refreshing the snapshot (:func:`warm_session_index`), so
no keystroke pays for it.
"""

from __future__ import annotations

import heapq
import sys
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate

from chatcli.repl.completion.snapshot import Snapshot, SnapshotEntry
from chatcli.session.fields import SessionStatus

__all__ = [
    "CompletionIndex",
    "PatchedIndex",
    "Ranker",
    "rank_indexed",
    "rank_linear",
    "session_index",
    "warm_session_index",
]

#: Entries per block of sorted ids or names (a prefix lookup bisects every block it visits).
PREFIX_BLOCK = 512
#: Entries per chunk of joined names or first messages (a chunk is skipped when its words
#: cannot contain the needle).
TEXT_CHUNK = 4096

#: Separator of the texts in a chunk: whitespace, which a searched needle never contains.
_SEP = "\n"

#: Whether a position is already taken by a better rank (and must be skipped).
Skip = Callable[[int], bool]
#: A ranked candidate: the entry and the text to insert.
Ranked = tuple[SnapshotEntry, str]


def rank_linear(entries: Iterable[SnapshotEntry], word: str, limit: int) -> list[Ranked]:
    """The ranking rules applied to every entry in turn (for any iterable, with no set-up).

    ``entries`` is newest first. Used for inputs that are not a snapshot's tuple, for words the
    index cannot search (words containing whitespace), and while another thread builds the index.
    """
    needle = word.lower()
    ranked: list[tuple[int, int, SnapshotEntry, str]] = []
    best = 0  # matches in the best class (active, rank 0): once there are ``limit``, stop
    for position, entry in enumerate(entries):
        match = _match(entry, needle)
        if match is None:
            continue
        key, insert = match
        ranked.append((key, position, entry, insert))
        if key == 0:
            best += 1
            if best >= limit:
                break
    top = heapq.nsmallest(limit, ranked, key=lambda item: (item[0], item[1]))
    return [(entry, insert) for _, _, entry, insert in top]


def _match(entry: SnapshotEntry, needle: str) -> tuple[int, str] | None:
    """The class of ``entry`` for the lower-cased ``needle`` (its rank times 2, plus 1 when it is
    archived: lower is better) and the text it inserts; None when it does not match."""
    name = entry.name
    if not needle:
        rank, insert = 0, entry.ref
    elif entry.id.startswith(needle):
        rank, insert = 0, entry.id
    elif name and entry.name_lower.startswith(needle):
        rank, insert = 1, entry.ref
    elif name and needle in entry.name_lower:
        rank, insert = 2, entry.ref
    elif len(needle) >= 3 and needle in entry.first_lower:
        rank, insert = 3, entry.ref
    else:
        return None
    return rank * 2 + (1 if entry.status is SessionStatus.ARCHIVED else 0), insert


def _class(entry: SnapshotEntry, needle: str) -> int:
    """The class of a matching entry (see :func:`_match`)."""
    match = _match(entry, needle)
    return 9 if match is None else match[0]


def _prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: there is none).

    Strings ``s`` with ``prefix <= s < _prefix_end(prefix)`` are exactly those starting with it.
    """
    while prefix:
        last = ord(prefix[-1])
        if last < sys.maxunicode:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


class _Prefixes:
    """Keys (ids or lower-case names) in blocks of consecutive positions, each block sorted by key."""

    __slots__ = ("_blocks",)

    def __init__(self, keys: Sequence[str], positions: Sequence[int], block: int) -> None:
        self._blocks: list[tuple[list[str], list[int]]] = []
        for start in range(0, len(keys), block):
            chunk_keys = keys[start : start + block]
            chunk_positions = positions[start : start + block]
            order = sorted(range(len(chunk_keys)), key=chunk_keys.__getitem__)
            self._blocks.append(([chunk_keys[i] for i in order], [chunk_positions[i] for i in order]))

    def first(self, prefix: str, count: int, skip: Skip | None) -> list[int]:
        """Up to ``count`` positions, ascending, whose key starts with ``prefix`` and not ``skip``."""
        end = _prefix_end(prefix)
        found: list[int] = []
        for keys, positions in self._blocks:
            lo = bisect_left(keys, prefix)
            hi = len(keys) if end is None else bisect_left(keys, end, lo)
            if lo == hi:
                continue
            for position in sorted(positions[lo:hi]):
                if skip is not None and skip(position):
                    continue
                found.append(position)
                if len(found) >= count:
                    return found
        return found


class _Chunk:
    """Texts of consecutive positions joined by :data:`_SEP`, with where each one starts."""

    __slots__ = ("positions", "starts", "text", "words")

    def __init__(self, texts: Sequence[str], positions: list[int], words: bool) -> None:
        self.text = _SEP.join(texts)
        self.starts = list(accumulate(map((1).__add__, map(len, texts[:-1])), initial=0))
        self.positions = positions
        # Every distinct whitespace-separated word: a needle without whitespace occurs in the
        # text only inside one of them, so when it is in none the chunk cannot match.
        self.words = _SEP.join(set(self.text.split())) if words else None


class _Texts:
    """Lower-case texts (names or first messages) in chunks of positions, for substring search."""

    __slots__ = ("_chunks",)

    def __init__(self, texts: Sequence[str], positions: Sequence[int], chunk: int, *, words: bool) -> None:
        self._chunks = [
            _Chunk(texts[start : start + chunk], list(positions[start : start + chunk]), words)
            for start in range(0, len(texts), chunk)
        ]

    def first(self, needle: str, count: int, skip: Skip) -> list[int]:
        """Up to ``count`` positions, ascending, whose text contains ``needle`` and not ``skip``.

        ``needle`` must contain no whitespace (so no match spans a separator).
        """
        found: list[int] = []
        for chunk in self._chunks:
            if chunk.words is not None and needle not in chunk.words:
                continue
            text, starts, positions = chunk.text, chunk.starts, chunk.positions
            last = len(starts) - 1
            at = text.find(needle)
            while at >= 0:
                k = bisect_right(starts, at) - 1
                position = positions[k]
                if not skip(position):
                    found.append(position)
                    if len(found) >= count:
                        return found
                if k == last:
                    break
                at = text.find(needle, starts[k + 1])
        return found


class _StatusIndex:
    """The search structure for the sessions of one status (active or archived)."""

    __slots__ = ("firsts", "ids", "name_prefixes", "names", "positions")

    def __init__(
        self, entries: Sequence[SnapshotEntry], positions: list[int], block: int, chunk: int
    ) -> None:
        self.positions = positions
        self.ids = _Prefixes([entries[p].id for p in positions], positions, block)
        named = [p for p in positions if entries[p].name]
        names = [entries[p].name_lower for p in named]
        self.name_prefixes = _Prefixes(names, named, block)
        self.names = _Texts(names, named, chunk, words=False)
        with_first = [p for p in positions if entries[p].first_lower]
        firsts = [entries[p].first_lower for p in with_first]
        self.firsts = _Texts(firsts, with_first, chunk, words=True)


class CompletionIndex:
    """An immutable search structure over one snapshot's entries, ranking like :func:`rank_linear`.

    ``block`` and ``chunk`` size the pieces (see :data:`PREFIX_BLOCK`, :data:`TEXT_CHUNK`); they
    change the speed, never the answer.
    """

    __slots__ = ("_statuses", "entries")

    def __init__(
        self, entries: tuple[SnapshotEntry, ...], *, block: int = PREFIX_BLOCK, chunk: int = TEXT_CHUNK
    ) -> None:
        self.entries = entries
        active: list[int] = []
        archived: list[int] = []
        for position, entry in enumerate(entries):
            (archived if entry.status is SessionStatus.ARCHIVED else active).append(position)
        self._statuses = (
            _StatusIndex(entries, active, block, chunk),
            _StatusIndex(entries, archived, block, chunk),
        )

    def rank(self, word: str, limit: int) -> list[Ranked]:
        """Sessions matching ``word``, best first, each with the text to insert (at most ``limit``)."""
        if limit <= 0:
            return []
        entries = self.entries
        needle = word.lower()
        if not needle:
            rows: list[Ranked] = []
            for status in self._statuses:
                for position in status.positions[: limit - len(rows)]:
                    entry = entries[position]
                    rows.append((entry, entry.ref))
            return rows
        if needle.split() != [needle]:  # whitespace: the joined texts cannot be searched for it
            return rank_linear(entries, word, limit)

        def id_match(position: int) -> bool:
            return entries[position].id.startswith(needle)

        def id_or_name_prefix(position: int) -> bool:
            entry = entries[position]
            return entry.id.startswith(needle) or entry.name_lower.startswith(needle)

        def id_or_name_match(position: int) -> bool:
            entry = entries[position]
            return entry.id.startswith(needle) or needle in entry.name_lower

        found: list[Ranked] = []
        for rank in range(4):
            if rank == 3 and len(needle) < 3:
                break
            for status in self._statuses:
                need = limit - len(found)
                if rank == 0:
                    positions = status.ids.first(needle, need, None)
                elif rank == 1:
                    positions = status.name_prefixes.first(needle, need, id_match)
                elif rank == 2:
                    positions = status.names.first(needle, need, id_or_name_prefix)
                else:
                    positions = status.firsts.first(needle, need, id_or_name_match)
                for position in positions:
                    entry = entries[position]
                    found.append((entry, entry.id if rank == 0 else entry.ref))
                if len(found) >= limit:
                    return found
        return found


class PatchedIndex:
    """The ranking of a patched snapshot (:func:`~chatcli.repl.completion.snapshot.patched`):
    its origin's index, less the sessions changed or gone since, merged with the few entries
    changed or added since, ranked by :func:`rank_linear`: the same answer as an index of the
    whole new tuple, without building one after every message."""

    __slots__ = ("added", "base", "dropped", "entries")

    def __init__(
        self,
        base: CompletionIndex,
        dropped: frozenset[str],
        added: tuple[SnapshotEntry, ...],
        entries: tuple[SnapshotEntry, ...],
    ) -> None:
        self.base = base
        self.dropped = dropped
        self.added = added
        self.entries = entries

    def rank(self, word: str, limit: int) -> list[Ranked]:
        """As :meth:`CompletionIndex.rank` over ``entries``."""
        if limit <= 0:
            return []
        needle = word.lower()
        kept = [r for r in self.base.rank(word, limit + len(self.dropped)) if r[0].id not in self.dropped]
        rows = [*kept, *rank_linear(self.added, word, limit)]
        rows.sort(key=lambda row: (row[0].last_active, row[0].id), reverse=True)  # newest first…
        rows.sort(key=lambda row: _class(row[0], needle))  # …within a class
        return rows[:limit]


#: What ranks a snapshot's entries: the index of the whole tuple, or of its origin and a patch.
Ranker = CompletionIndex | PatchedIndex


class _Cache:
    """The index of the most recent entries tuple (held strongly, so identity stays meaningful)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: CompletionIndex | None = None
        self._patched: PatchedIndex | None = None

    def built(self, entries: tuple[SnapshotEntry, ...]) -> Ranker | None:
        """The index of ``entries`` if it is built, else None (never waits)."""
        for index in (self._patched, self._index):
            if index is not None and index.entries is entries:
                return index
        return None

    def patch(self, snapshot: Snapshot, origin: tuple[SnapshotEntry, ...]) -> None:
        """Rank ``snapshot``, patched from ``origin``, with the index of ``origin`` and the patch."""
        with self._lock:
            base = self._index if self._index is not None and self._index.entries is origin else None
            if base is None:
                base = CompletionIndex(origin)
                self._index = base
            self._patched = PatchedIndex(base, snapshot.dropped, snapshot.added, snapshot.entries)

    def build(self, entries: tuple[SnapshotEntry, ...]) -> Ranker:
        """The index of ``entries``, built now if needed (waits while another thread builds)."""
        with self._lock:
            return self._build_locked(entries)

    def try_build(self, entries: tuple[SnapshotEntry, ...]) -> Ranker | None:
        """Like :meth:`build`, but None at once when another thread is building."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._build_locked(entries)
        finally:
            self._lock.release()

    def _build_locked(self, entries: tuple[SnapshotEntry, ...]) -> Ranker:
        index = self.built(entries)
        if index is None:
            index = CompletionIndex(entries)
            self._index = index
        return index


_CACHE = _Cache()


def session_index(entries: tuple[SnapshotEntry, ...]) -> Ranker:
    """The search structure of ``entries`` (a snapshot's tuple): built on first use, then cached."""
    return _CACHE.built(entries) or _CACHE.build(entries)


def warm_session_index(snapshot: Snapshot) -> None:
    """Build ``snapshot``'s search structure now (the REPL calls this off the event loop); a
    patched snapshot reuses its origin's (the work is then proportional to the patch)."""
    if snapshot.origin is None:
        session_index(snapshot.entries)
    elif _CACHE.built(snapshot.entries) is None:
        _CACHE.patch(snapshot, snapshot.origin)


def rank_indexed(entries: tuple[SnapshotEntry, ...], word: str, limit: int) -> list[Ranked]:
    """Rank with the cached index of ``entries``, building it if need be; while another thread is
    building one, rank linearly instead of making the keystroke wait."""
    index = _CACHE.built(entries) or _CACHE.try_build(entries)
    if index is None:
        return rank_linear(entries, word, limit)
    return index.rank(word, limit)
