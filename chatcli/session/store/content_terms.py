"""The words of the content index (:mod:`.content_index`), so that a ``prefix*`` is searched as
the words it starts.

FTS5 without a prefix index answers ``kub*`` by merging the lists of every word ``kub`` starts,
whole, on each statement: a prefix of a common word costs hundreds of milliseconds at 100,000
sessions, where the word itself costs a few (its list is read only where a statement seeks).
So every word of every message indexed is also kept in ``content_terms`` (one row a word, never
removed: a word no message holds any more matches nothing), and a prefix becomes the ``OR`` of
the words it starts (:func:`expand`). The words are those :func:`chatcli.session.search.fold`
and the reference matcher see (runs of letters and digits of the folded text), which for
ASCII text are exactly FTS5's ``unicode61`` tokens.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from chatcli.session.search import words_in

__all__ = ["MAX_WORDS", "add_words", "expand", "words_of"]

#: Words a prefix may start and still be searched as those words; one that starts more (a
#: letter or two of a large vocabulary) is left to FTS5's own prefix search.
MAX_WORDS = 64
#: A letter or digit of an ASCII text, lower-cased; anything else a space.
_ASCII = bytes(c + 32 * (65 <= c <= 90) if chr(c).isalnum() and c < 128 else 32 for c in range(256))


def words_of(bodies: Iterable[str]) -> set[str]:
    """The words of these texts as ``content_words.body`` holds them (ASCII as written, any
    other text folded): lower-cased runs of letters and digits."""
    plain: list[str] = []
    words: set[str] = set()
    for body in bodies:
        if body.isascii():
            plain.append(body)
        else:
            words.update(words_in(body))
    if plain:  # one translation of the whole batch: a few microseconds a message
        found = set(" ".join(plain).encode("ascii").translate(_ASCII).split())
        words.update(word.decode("ascii") for word in found)
    return words


def add_words(conn: sqlite3.Connection, bodies: Iterable[str]) -> None:
    """Keep the words of these message texts (see :func:`words_of`) in ``content_terms``."""
    words = words_of(bodies)
    if words:
        conn.execute(
            "INSERT OR IGNORE INTO content_terms (term) SELECT value FROM json_each(?)",
            (json.dumps(sorted(words), ensure_ascii=False),),
        )


def expand(conn: sqlite3.Connection, prefix: str) -> list[str] | None:
    """The indexed words that start with ``prefix`` (folded), or None when there are more
    than :data:`MAX_WORDS`."""
    words: list[str] = []
    # Words that start with a text are one run in the table's (UTF-8 byte) order, from it on.
    for (word,) in conn.execute(
        "SELECT term FROM content_terms WHERE term >= ? ORDER BY term LIMIT ?", (prefix, MAX_WORDS + 1)
    ):
        if not str(word).startswith(prefix):
            return words
        words.append(str(word))
    return None if len(words) > MAX_WORDS else words
