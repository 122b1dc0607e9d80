"""Read another tool's SQLite database without ever writing to it, and its values defensively.

:func:`open_readonly` opens a database file read-only. When no ``-wal`` file lies beside it (the
tool is not running and checkpointed on close), the file is opened ``immutable``: SQLite then takes
no locks and creates no ``-wal``/``-shm`` files next to it. When a ``-wal`` file exists, the
newest rows live there, so it is opened ``mode=ro`` to read them through SQLite's own locking;
if SQLite cannot do that (a folder it may not write the ``-shm`` file in), it falls back to
``immutable`` and reads what was checkpointed. Either way the database file is never modified.

The other helpers turn untrusted column values into Python values without raising: JSON objects
(:func:`json_object`), timestamps in seconds, milliseconds or ISO text (:func:`epoch_time`,
:func:`text_time`). A value over :data:`MAX_RECORD_BYTES` is never loaded: :func:`bounded` makes
SQLite return ``NULL`` for it, and the reader reports the record as too large.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatcli.session.errors import InputFileError
from chatcli.session.import_file import MAX_RECORD_BYTES, open_input

__all__ = [
    "MAX_RECORD_BYTES",
    "SourceError",
    "bounded",
    "columns",
    "epoch_time",
    "json_object",
    "open_readonly",
    "tables",
    "text_time",
]

#: The first bytes of every SQLite 3 database file.
_SQLITE_HEADER = b"SQLite format 3\x00"

#: Epoch values above this are taken as milliseconds (seconds would be past the year 5000).
_MILLISECONDS_FROM = 100_000_000_000


class SourceError(Exception):
    """A whole file cannot be read; the message says why in plain words."""


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open the SQLite database at ``path`` for reading only (see the module docstring).

    Raises :class:`SourceError` when the path is not a regular file (a FIFO never blocks), is not
    a SQLite database, or SQLite cannot open it. A record over :data:`MAX_RECORD_BYTES` (64 MiB,
    the limit of every import) is skipped by the readers.
    """
    try:
        with open_input(path) as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except InputFileError as exc:
        raise SourceError(f"cannot be opened: {exc.problem}") from exc
    except OSError as exc:
        raise SourceError(f"cannot be read ({exc.strerror or exc})") from exc
    if header != _SQLITE_HEADER:
        raise SourceError("is not a SQLite database")
    base = path.resolve().as_uri()
    if path.with_name(path.name + "-wal").exists():
        try:
            return _connect(f"{base}?mode=ro")
        except sqlite3.Error:
            pass  # e.g. a folder we may not write the -shm file in: read what is checkpointed
    try:
        return _connect(f"{base}?immutable=1")
    except sqlite3.Error as exc:
        raise SourceError(f"cannot be read as a SQLite database ({exc})") from exc


def _connect(uri: str) -> sqlite3.Connection:
    connection = sqlite3.connect(uri, uri=True)
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA query_only = ON")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        connection.close()
        raise
    return connection


def tables(connection: sqlite3.Connection) -> set[str]:
    """The names of the tables (and views) in the database."""
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    return {str(row[0]) for row in rows}


def columns(connection: sqlite3.Connection, table: str) -> set[str]:
    """The column names of ``table`` (empty when there is no such table)."""
    rows = connection.execute("SELECT name FROM pragma_table_info(?)", (table,))
    return {str(row[0]) for row in rows}


def bounded(column: str, alias: str | None = None) -> str:
    """SQL selecting ``column`` as ``alias``, or ``NULL`` when it is over the size limit, and its
    size in bytes as ``<alias>_size`` (to tell "too large" from "missing")."""
    name = alias or column.rsplit(".", maxsplit=1)[-1]
    size = f"length(CAST({column} AS BLOB))"
    return f"CASE WHEN {size} <= {MAX_RECORD_BYTES} THEN {column} END AS {name}, {size} AS {name}_size"


def json_object(value: object) -> dict[str, Any] | None:
    """``value`` (JSON text) parsed as an object, or ``None`` when it is not one."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def epoch_time(value: object) -> datetime | None:
    """A UTC time from epoch seconds or milliseconds; ``None`` for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def text_time(value: object) -> datetime | None:
    """A time from ISO 8601 text (``2025-01-02 03:04:05[.ffffff][+00:00|Z]``); naive means UTC."""
    if not isinstance(value, str):
        return epoch_time(value)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
