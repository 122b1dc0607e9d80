"""The floor under ``sessions import``: FTS5 alone, with no chatcli code.

The corpus's messages are inserted, in this process with the standard library's ``sqlite3``,
into an FTS5 table like chatcli's ``content_words`` (``body``, ``original UNINDEXED``,
``unicode61 remove_diacritics 2``; ``original`` NULL for ASCII text, as chatcli stores it), one
transaction per :data:`BATCH` messages with ``executemany``, in a new database file in the
scratch folder (WAL, ``synchronous = NORMAL``, as chatcli's index). The CPU time of those
inserts and commits is what indexing the words costs on one core: the import cannot go under it.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import NamedTuple

from benchkit.procs import CpuTime, own_cpu
from benchkit.workspace import corpus_contents

#: Messages per transaction.
BATCH = 3_000
#: Runs (the median is reported).
RUNS = 3
_SCHEMA = (
    "CREATE VIRTUAL TABLE content_words USING fts5("
    "body, original UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')"
)
_INSERT = "INSERT INTO content_words (rowid, body, original) VALUES (?, ?, ?)"

#: A row of ``content_words``: rowid, body, original.
WordsRow = tuple[int, str, str | None]


class FloorRun(NamedTuple):
    """One run: the CPU time of this process and the wall time of the inserts and commits."""

    cpu: CpuTime
    wall_seconds: float


def _insert_all(path: Path, rows: list[WordsRow]) -> FloorRun:
    """A new database at ``path``, its table, then every row in transactions of :data:`BATCH`."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(_SCHEMA)
        before = own_cpu()
        start = time.perf_counter()
        for first in range(0, len(rows), BATCH):
            conn.execute("BEGIN")
            conn.executemany(_INSERT, rows[first : first + BATCH])
            conn.execute("COMMIT")
        wall = time.perf_counter() - start
        cpu = own_cpu().since(before)
    finally:
        conn.close()
    return FloorRun(cpu, wall)


def measure_fts5_floor(corpus: Path, scratch: Path, runs: int = RUNS) -> tuple[list[FloorRun], int]:
    """``runs`` runs over the messages of the JSON Lines ``corpus`` (read before any is timed),
    each into a database of its own in ``scratch``, removed afterwards; and the number of messages."""
    contents = corpus_contents(corpus)
    rows: list[WordsRow] = [
        (rowid, text, None if text.isascii() else text) for rowid, text in enumerate(contents, 1)
    ]
    done: list[FloorRun] = []
    for i in range(runs):
        path = scratch / f"fts5-floor-{i}.sqlite3"
        try:
            done.append(_insert_all(path, rows))
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    return done, len(rows)
