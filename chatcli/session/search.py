"""Full-text search: what a query means, the reference matcher, and the grouping of hits.

A query is words (all must match), ``"exact phrases"`` and ``prefix*`` terms, matched ignoring
case and accents. A word matches whole words of a message (``token`` does not match ``tokens``;
``token*`` does). A term written in a script without spaces between words (Chinese, Japanese,
Korean, Thai…) matches anywhere inside the text instead.

The content index (:mod:`chatcli.session.store.content_index`) answers queries with SQLite FTS5;
:meth:`SearchQuery.matches` is the reference it is tested against, and what a search uses when
there is no index (it streams every transcript). What the user typed never reaches FTS5 as
syntax: every term is quoted by :meth:`SearchQuery.fts_match`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol, TypeVar

from chatcli.session.errors import SessionError, SessionNotFound
from chatcli.session.fields import SessionBrief
from chatcli.session.outcomes import SearchHit, SearchResult, SessionMatches
from chatcli.session.transcript import line_parser

if TYPE_CHECKING:
    from chatcli.session.models import Message

__all__ = [
    "InvalidQuery",
    "SearchOptions",
    "SearchQuery",
    "SearchSort",
    "fold",
    "has_unspaced",
    "not_searched",
    "order_sessions",
    "result_of",
    "scan_all",
    "scan_session",
]

SearchSort = Literal["recent", "relevance"]

#: Characters around a match that a snippet keeps.
SNIPPET_WIDTH = 100
#: Scripts written without spaces between words: a term holding one of these is a substring.
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x9FFF),  # CJK radicals, punctuation, kana, Bopomofo, Hangul compatibility, Han
    (0xA960, 0xA97F),  # Hangul Jamo extended
    (0xAC00, 0xD7FF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # Han extensions
)
_TOKEN = re.compile(r"[^\W_]+")


def words_in(folded: str) -> list[str]:
    """The words of a folded text as the matcher reads them: runs of letters and digits."""
    return _TOKEN.findall(folded)


class InvalidQuery(ValueError):
    """The search text cannot be read as a query (an unclosed quote, nothing to look for)."""


def has_unspaced(text: str) -> bool:
    """True when ``text`` holds a character of a script written without spaces."""
    return not text.isascii() and any(lo <= ord(ch) <= hi for ch in text for lo, hi in _UNSPACED)


def fold(text: str) -> str:
    """``text`` lower-cased with its accents removed (as the index's tokenizer sees it)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _fold_mapped(text: str) -> tuple[str, list[int]]:
    """:func:`fold` of ``text`` and, for each character of the result, its position in ``text``."""
    if text.isascii():  # one character for one: the positions are the same
        return text.lower(), list(range(len(text)))
    out: list[str] = []
    where: list[int] = []
    for pos, ch in enumerate(text):
        for part in fold(ch):
            out.append(part)
            where.append(pos)
    return "".join(out), where


class _Term(NamedTuple):
    """One term: a phrase of ``tokens`` (the last one a prefix when ``prefix``), or, for text in
    a script without spaces, a ``substring`` of the folded text."""

    tokens: tuple[str, ...]
    prefix: bool
    substring: str | None

    def matches(self, folded: str, tokens: Sequence[str]) -> bool:
        if self.substring is not None:
            return self.substring in folded
        want = self.tokens
        last = len(want) - 1
        for start in range(len(tokens) - last):
            if tokens[start : start + last] == list(want[:last]) and (
                tokens[start + last].startswith(want[last])
                if self.prefix
                else tokens[start + last] == want[last]
            ):
                return True
        return False

    def first_at(self, folded: str) -> tuple[int, int]:
        """Where this term first occurs in ``folded`` (start, length); (-1, 0) when it does not."""
        if self.substring is not None:
            return folded.find(self.substring), len(self.substring)
        pattern = r"\W+".join(re.escape(t) for t in self.tokens)
        found = re.search(rf"(?<![^\W_]){pattern}" + ("" if self.prefix else r"(?![^\W_])"), folded)
        return (found.start(), found.end() - found.start()) if found else (-1, 0)


def _term(raw: str, *, prefix: bool) -> _Term:
    folded = " ".join(fold(raw).split())
    if has_unspaced(folded):
        return _Term((), prefix, folded)
    tokens = tuple(words_in(folded))
    if not tokens:
        raise InvalidQuery(f"{raw!r} has no letters or digits to look for")
    return _Term(tokens, prefix, None)


def _split(text: str) -> Iterable[tuple[str, bool]]:
    """The terms of ``text``: ``(text, prefix)`` for each word or quoted phrase."""
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        if text[pos] == '"':
            end = text.find('"', pos + 1)
            if end < 0:
                raise InvalidQuery('a quote is not closed (phrases are written "like this")')
            raw, pos = text[pos + 1 : end], end + 1
        else:
            end = pos
            while end < len(text) and not text[end].isspace() and text[end] != '"':
                end += 1
            raw, pos = text[pos:end], end
        prefix = raw.endswith("*")
        raw = raw.rstrip("*")
        if pos < len(text) and text[pos] == "*":  # "a phrase"*
            prefix, pos = True, pos + 1
        if raw.strip():
            yield raw, prefix
        elif prefix:
            raise InvalidQuery("a * must follow the start of a word (as in retr*)")


class SearchQuery(NamedTuple):
    """A parsed query: every term must match a message for it to be a hit."""

    text: str
    terms: tuple[_Term, ...]

    @classmethod
    def parse(cls, text: str) -> SearchQuery:
        """The query for what the user typed; :class:`InvalidQuery` when it cannot be one."""
        terms = tuple(_term(raw, prefix=prefix) for raw, prefix in _split(text))
        if not terms:
            raise InvalidQuery("the search text is empty")
        return cls(" ".join(text.split()), terms)

    @property
    def has_prefix(self) -> bool:
        """True when a term is a ``prefix*``."""
        return any(t.prefix for t in self.terms)

    def fts_match(self) -> str | None:
        """The FTS5 ``MATCH`` expression of the word terms (each quoted: never raw syntax), or
        None when every term is a substring."""
        phrases = [
            '"' + " ".join(t.tokens).replace('"', '""') + '"' + (" *" if t.prefix else "")
            for t in self.terms
            if t.substring is None
        ]
        return " AND ".join(phrases) or None

    def substrings(self) -> list[str]:
        """The folded substring terms (text in scripts without spaces)."""
        return [t.substring for t in self.terms if t.substring is not None]

    def matches(self, content: str) -> bool:
        """True when every term matches ``content`` (the reference the index is tested against)."""
        folded = fold(content)
        tokens = words_in(folded)
        return all(term.matches(folded, tokens) for term in self.terms)

    def ascii_needles(self) -> list[bytes] | None:
        """Bytes that an ASCII transcript chunk must hold for a message of it to match (a quick
        pre-check before parsing); None when the query is not plain ASCII."""
        if any(t.substring is not None for t in self.terms):
            return None
        needles = [token.encode("ascii") for t in self.terms for token in t.tokens if token.isascii()]
        return needles if len(needles) == sum(len(t.tokens) for t in self.terms) else None

    def snippet(self, content: str) -> str:
        """About :data:`SNIPPET_WIDTH` characters of ``content`` around its first match."""
        folded, where = _fold_mapped(content)
        found = [t.first_at(folded) for t in self.terms]
        starts = [(pos, size) for pos, size in found if pos >= 0]
        if not starts:
            return _cut(content, 0, 0)
        pos, size = min(starts)
        begin = where[pos]
        end = where[min(pos + size, len(where)) - 1] + 1 if size else begin
        return _cut(content, begin, end - begin)


def _cut(text: str, start: int, length: int) -> str:
    """A one-line excerpt of ``text`` around ``start`` (whitespace folded, ellipses at cuts)."""
    pad = max((SNIPPET_WIDTH - length) // 2, 10)
    lo = max(start - pad, 0)
    hi = min(start + length + pad, len(text))
    body = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


def hit_of(brief: SessionBrief, message: Message, index: int, query: SearchQuery) -> SearchHit:
    """The hit of ``message`` (the ``index``-th of its session) for ``query``."""
    return SearchHit(
        brief.id, brief.name, message.role, message.timestamp, query.snippet(message.content), index
    )


def scan_session(
    query: SearchQuery, brief: SessionBrief, chunks: Iterable[bytes], *, every_hit: bool
) -> SessionMatches | None:
    """The hits of one session's transcript (streamed in ``chunks`` of whole lines), or None.

    A hit's ``message_index`` counts the non-blank lines before it. The best hit of a scan is
    its newest; with ``every_hit`` every hit is kept (else only the best).
    """
    parse = line_parser()
    needles = query.ascii_needles()
    index, count = 0, 0
    kept: list[SearchHit] = []
    for chunk in chunks:
        if needles is not None and chunk.isascii() and b"\\u" not in chunk:
            lowered = chunk.lower()
            if not all(needle in lowered for needle in needles):
                index += sum(1 for raw in chunk.split(b"\n") if raw.strip())
                continue
        for raw in chunk.split(b"\n"):
            if not raw.strip():
                continue
            message = parse(raw)
            index += 1
            if message is not None and query.matches(message.content):
                count += 1
                hit = hit_of(brief, message, index - 1, query)
                if every_hit:
                    kept.append(hit)
                else:
                    kept = [hit]
    if not count:
        return None
    return SessionMatches(brief.id, brief.name, brief.last_active, count, kept[-1], kept, float(-count))


class _Ranked(Protocol):
    @property
    def session_id(self) -> str: ...
    @property
    def last_active(self) -> datetime: ...
    @property
    def hit_count(self) -> int: ...
    @property
    def score(self) -> float: ...


_R = TypeVar("_R", bound=_Ranked)


def order_sessions(found: Iterable[_R], sort: SearchSort) -> list[_R]:
    """Sessions with hits, newest first (``recent``) or best match first (``relevance``: the
    lowest score, then the most hits, then the newest)."""
    if sort == "relevance":
        return sorted(found, key=lambda s: (s.score, -s.hit_count, -s.last_active.timestamp(), s.session_id))
    return sorted(found, key=lambda s: (s.last_active, s.session_id), reverse=True)


class SearchOptions(NamedTuple):
    """How a search is run: which order, how many sessions, whether to keep every hit, and
    which tags a session must all have to be searched."""

    sort: SearchSort = "recent"
    limit: int = 20
    every_hit: bool = False
    should_stop: Callable[[], bool] | None = None
    tags: tuple[str, ...] = ()

    def wants(self, tags: Sequence[str]) -> bool:
        """Whether a session with ``tags`` is searched (it has every tag asked for)."""
        return all(tag in tags for tag in self.tags)


def result_of(
    query: SearchQuery,
    found: Sequence[SessionMatches],
    searched: int,
    options: SearchOptions,
    warnings: list[str],
    *,
    notice: str | None = None,
    stopped: bool = False,
) -> SearchResult:
    """The result of a search that found ``found`` in ``searched`` sessions."""
    shown = order_sessions(found, options.sort)[: max(options.limit, 0)]
    total = sum(s.hit_count for s in found)
    return SearchResult(
        query.text,
        shown,
        total,
        len(found),
        searched,
        options.sort,
        options.every_hit,
        warnings,
        notice,
        stopped,
    )


def not_searched(session_id: str, exc: BaseException) -> str:
    """The warning of a session that could not be searched, saying why in one line."""
    if isinstance(exc, SessionError):
        why = exc.user_message().splitlines()[0]
    else:
        why = f"its transcript holds a value chatcli cannot read ({type(exc).__name__})"
    return f"session {session_id} was not searched: {why}"


def scan_all(
    query: SearchQuery,
    briefs: Iterable[SessionBrief],
    transcript: Callable[[str], Iterable[bytes]],
    options: SearchOptions,
    *,
    notice: str | None = None,
) -> SearchResult:
    """A search made by reading every transcript (no content index): the reference the index
    is measured against. A transcript that cannot be read is named in the warnings."""
    found: list[SessionMatches] = []
    warnings: list[str] = []
    searched = 0
    for brief in briefs:
        if options.should_stop is not None and options.should_stop():
            return result_of(query, found, searched, options, warnings, notice=notice, stopped=True)
        if not options.wants(brief.tags):
            continue
        try:
            matches = scan_session(query, brief, transcript(brief.id), every_hit=options.every_hit)
        except SessionNotFound:
            continue
        except (SessionError, ArithmeticError, ValueError, RecursionError, MemoryError) as exc:
            warnings.append(not_searched(brief.id, exc))
            continue
        searched += 1
        if matches is not None:
            found.append(matches)
    return result_of(query, found, searched, options, warnings, notice=notice)
