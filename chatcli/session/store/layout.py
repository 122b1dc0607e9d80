"""Every name and mode the store puts on disk, and how to recognise the leftovers of interrupted writes.

Layout, under ``<project>/.amazonq/sessions/``::

    .gitignore                  "*": transcripts are never committed by accident
    .changes                    one byte appended per write: the change token other processes poll
    .index/sessions.sqlite3     the rebuildable metadata index (see :mod:`.index`)
    .locks/<id>.lock            one lock file per session (filelock), plus names.lock
    .quarantine/                files set aside by repairs; never deleted by chatcli
    .trash/<id>.<stamp>/        a deleted session: <id>/ (moved whole) and trashed.json (see :mod:`.trash`)
    <id>/metadata.json          SessionMetadata, replaced atomically
    <id>/conversation.jsonl     one Message per line, append-only

Interrupted writes leave three kinds of leftovers: ``.staging-<id>-<hex>`` (a creation, import or
fork), ``.deleted-<id>-<hex>`` (a deletion) in the sessions folder, and ``.<name>.<pid>.<hex>.tmp``
(an atomic write) beside the file it was replacing. The store and the doctor both recognise them
with the predicates below.
"""

from __future__ import annotations

import os

from chatcli.session.fields import is_session_id, utc_now

__all__ = [
    "CHANGES_FILE",
    "CHANGES_MAX",
    "CONVERSATION_FILE",
    "DELETED_PREFIX",
    "DIR_MODE",
    "FILE_MODE",
    "GITIGNORE",
    "INDEX_DIR",
    "INDEX_FILE",
    "LOCKS_DIR",
    "LOCK_SUFFIX",
    "MAX_METADATA_BYTES",
    "METADATA_FILE",
    "NAMES_LOCK",
    "QUARANTINE_DIR",
    "STAGING_PREFIX",
    "TEMP_SUFFIX",
    "TRASH_DIR",
    "TRASH_RECORD",
    "deleted_name",
    "is_leftover",
    "is_temp",
    "leftover_session_id",
    "lock_name",
    "staging_name",
    "stamp",
    "temp_name",
]

METADATA_FILE = "metadata.json"
CONVERSATION_FILE = "conversation.jsonl"
GITIGNORE = ".gitignore"
LOCKS_DIR = ".locks"
LOCK_SUFFIX = ".lock"
QUARANTINE_DIR = ".quarantine"
NAMES_LOCK = "names.lock"
#: Deleted sessions, restorable until the trash is emptied; ``trashed.json`` is each one's record.
TRASH_DIR = ".trash"
TRASH_RECORD = "trashed.json"
CHANGES_FILE = ".changes"
#: The index lives in its own folder: SQLite creates and removes ``-wal``/``-shm`` files beside it,
#: which must not change the sessions folder's mtime (readers watch that for outside changes).
INDEX_DIR = ".index"
INDEX_FILE = "sessions.sqlite3"
#: The change journal is cut back to empty past this size (its size and mtime are the token).
CHANGES_MAX = 1 << 16
DIR_MODE = 0o700
FILE_MODE = 0o600
#: Metadata files larger than this are not metadata (it is a few hundred bytes normally).
MAX_METADATA_BYTES = 1 << 20

STAGING_PREFIX = ".staging-"
DELETED_PREFIX = ".deleted-"
TEMP_SUFFIX = ".tmp"


def _unique() -> str:
    return os.urandom(4).hex()


def temp_name(name: str) -> str:
    """The name of a temporary file written before it replaces (or becomes) ``name``."""
    return f".{name}.{os.getpid()}.{_unique()}{TEMP_SUFFIX}"


def staging_name(session_id: str, unique: str | None = None) -> str:
    """The hidden folder a whole session is assembled in before it is renamed into place
    (``unique``: a random part shared by a batch, whose ids already differ)."""
    return f"{STAGING_PREFIX}{session_id}-{unique or _unique()}"


def deleted_name(session_id: str) -> str:
    """The hidden name a session folder is renamed to before it is erased."""
    return f"{DELETED_PREFIX}{session_id}-{_unique()}"


def lock_name(session_id: str) -> str:
    """The lock file of a session, inside :data:`LOCKS_DIR`."""
    return f"{session_id}{LOCK_SUFFIX}"


def is_temp(name: str) -> bool:
    """True for the name of an atomic write's temporary file (a leftover if no write is running)."""
    return name.endswith(TEMP_SUFFIX)


def is_leftover(name: str) -> bool:
    """True for an entry of the sessions folder left by an interrupted creation or deletion."""
    return name.startswith((STAGING_PREFIX, DELETED_PREFIX))


def leftover_session_id(name: str) -> str | None:
    """The session a ``.staging-<id>-…`` / ``.deleted-<id>-…`` entry belongs to, if it names one."""
    for prefix in (STAGING_PREFIX, DELETED_PREFIX):
        if name.startswith(prefix):
            session_id = name.removeprefix(prefix)[:36]
            return session_id if is_session_id(session_id) else None
    return None


def stamp() -> str:
    """A UTC timestamp for file names, e.g. ``20260101T120000123456Z``."""
    return utc_now().strftime("%Y%m%dT%H%M%S%fZ")
