"""Repairs of one session, shared by the store (on load and append) and the doctor.

A repair never deletes data: a torn last line, unreadable lines, a corrupted metadata file and
the temporary files of interrupted writes are moved to ``.quarantine/``; metadata is rebuilt or
corrected from the transcript. Metadata of a newer version is left untouched. Every function
here expects the caller to hold the session's lock.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from chatcli.session.errors import CorruptedSession, SessionError, SessionNotFound, from_os_error
from chatcli.session.fields import TAGS_MAX, SessionStatus, utc_now, validate_session_name, validate_tag
from chatcli.session.health import RepairReport
from chatcli.session.store import durable, quarantine
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.layout import (
    CONVERSATION_FILE,
    MAX_METADATA_BYTES,
    METADATA_FILE,
    QUARANTINE_DIR,
    is_temp,
    stamp,
)
from chatcli.session.store.transcript_file import mend_torn_tail, read_transcript
from chatcli.session.transcript import Transcript, line_parser

if TYPE_CHECKING:
    from chatcli.session.models import Message, SessionMetadata

__all__ = [
    "rebuild_metadata",
    "repair_session",
    "set_aside_bad_metadata",
    "set_aside_temp_file",
    "stray_temp_files",
]


def repair_session(
    files: SessionFiles, session_id: str, *, quarantine_bad_lines: bool = False
) -> RepairReport:
    """Make one session loadable without losing data: set aside stale temporary files, mend a
    torn transcript tail, and rebuild missing or corrupted metadata from the transcript (or
    correct its count and activity). With ``quarantine_bad_lines`` unreadable transcript lines
    are moved to ``.quarantine/`` too (they are skipped on load either way).

    :class:`UnsupportedVersion` metadata is left untouched (the error propagates).
    """
    report = RepairReport(session_id)
    files.check_session_dir(session_id)
    _set_aside_temp_files(files.root, session_id, report)
    _mend_tail(files.root, session_id, report)
    transcript = read_transcript(files, session_id)
    if transcript.skipped_lines and quarantine_bad_lines:
        _quarantine_bad_lines(files, session_id, report)
        transcript = read_transcript(files, session_id)
    if transcript.skipped_lines:
        report.problems.append(transcript.warnings[0])
    try:
        current = files.read_metadata(session_id)
    except CorruptedSession as exc:
        _rebuild(files, session_id, transcript, exc, report)
    else:
        _correct(files, current, transcript, report)
    return report


# ------------------------------------------------------------------ temporary files


def stray_temp_files(folder: Path) -> list[str]:
    """Names of atomic writes' temporary files in a session folder, sorted (``OSError`` is left
    to the caller). Under the session's lock no write is running, so they are leftovers."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if is_temp(e.name) and not e.is_dir(follow_symlinks=False))


def set_aside_temp_file(root: Path, session_id: str, name: str) -> Path:
    """Move one leftover temporary file of a session to ``.quarantine/`` (never deleted)."""
    return quarantine.move(root, root / session_id / name, f"{session_id}-{name}")


def _set_aside_temp_files(root: Path, session_id: str, report: RepairReport) -> None:
    folder = root / session_id
    try:
        stray = stray_temp_files(folder)
    except OSError as exc:
        raise from_os_error(exc, folder) from exc
    for name in stray:
        set_aside_temp_file(root, session_id, name)
    if stray:
        report.actions.append(f"moved {len(stray)} unfinished temporary file(s) to {QUARANTINE_DIR}/")


# ------------------------------------------------------------------ the transcript


def _mend_tail(root: Path, session_id: str, report: RepairReport) -> None:
    mended = mend_torn_tail(root, session_id)
    if mended is None:
        return
    if mended.kept is None:
        report.actions.append("added the missing newline after the last message")
    else:
        report.actions.append(
            f"set aside an incomplete last line ({mended.old_size - mended.new_size} bytes) "
            f"in {QUARANTINE_DIR}/{mended.kept.name}"
        )


def _quarantine_bad_lines(files: SessionFiles, session_id: str, report: RepairReport) -> None:
    """Rewrite the transcript without its unreadable lines, which are kept in ``.quarantine/``."""
    folder = files.session_dir(session_id)
    path = folder / CONVERSATION_FILE
    try:
        data = durable.read_bytes(path)
    except OSError as exc:
        raise from_os_error(exc, path) from exc
    good: list[bytes] = []
    bad: list[bytes] = []
    parse = line_parser()
    for raw in data.splitlines():  # every line end the parser accepts (see LINE_ENDS)
        if not raw.strip():
            continue
        (good if parse(raw) is not None else bad).append(raw)
    if not bad:
        return
    kept = quarantine.keep(
        files.root, f"{session_id}-badlines-{stamp()}.jsonl", b"".join(line + b"\n" for line in bad)
    )
    durable.replace_file(folder, CONVERSATION_FILE, b"".join(line + b"\n" for line in good))
    report.actions.append(f"moved {len(bad)} unreadable line(s) to {kept}")


# ------------------------------------------------------------------ metadata


def _correct(
    files: SessionFiles, current: SessionMetadata, transcript: Transcript, report: RepairReport
) -> None:
    """Bring readable metadata in line with the transcript: a crash between the transcript
    append and the metadata write leaves the count (and the activity) behind."""
    changed = []
    messages = transcript.messages
    if current.message_count != len(messages):
        changed.append(f"the message count ({current.message_count} -> {len(messages)})")
        current.message_count = len(messages)
    if messages and current.last_active < messages[-1].timestamp:
        changed.append("last_active (it was older than the last message)")
        current.last_active = messages[-1].timestamp
    if changed:
        files.write_metadata(current)
        report.actions.append("corrected " + " and ".join(changed))


def _rebuild(
    files: SessionFiles, session_id: str, transcript: Transcript, exc: CorruptedSession, report: RepairReport
) -> None:
    """Replace missing or corrupted metadata with one rebuilt from the transcript, keeping what
    can be salvaged from the broken file (which goes to ``.quarantine/``)."""
    broken = exc.path if exc.path is not None and os.path.lexists(exc.path) else None
    salvaged: dict[str, object] = {}
    if broken is not None:
        with contextlib.suppress(OSError, ValueError, SessionError, RecursionError, MemoryError):
            raw = json.loads(durable.read_bytes(broken, MAX_METADATA_BYTES))
            if isinstance(raw, dict):
                salvaged = raw
    folder_time = _folder_time(files.root / session_id)
    # Built before the broken file is moved: whatever the broken file holds, the session is never
    # left without metadata (salvaging is best effort: any failure of it salvages nothing).
    try:
        meta = rebuild_metadata(session_id, transcript.messages, salvaged, fallback_time=folder_time)
    except Exception as failure:  # a salvaged value of a shape nobody foresaw
        from chatcli.logs import log_exception

        log_exception(failure, f"salvaging the metadata of session {session_id}")
        meta = rebuild_metadata(session_id, transcript.messages, {}, fallback_time=folder_time)
    if broken is not None:
        kept = quarantine.move(files.root, broken, f"{session_id}-metadata-{stamp()}.json")
        report.actions.append(f"moved the corrupted {METADATA_FILE} to {kept}")
    files.write_metadata(meta)
    report.actions.append(f"rebuilt {METADATA_FILE} from the transcript ({exc.reason})")


def set_aside_bad_metadata(files: SessionFiles, session_id: str) -> None:
    """Move a corrupted ``metadata.json`` to quarantine before it is replaced; a newer version
    raises :class:`UnsupportedVersion` and stays untouched."""
    try:
        files.read_metadata(session_id)
    except SessionNotFound:
        return
    except CorruptedSession as exc:
        if exc.path is not None and exc.path.name == METADATA_FILE and os.path.lexists(exc.path):
            quarantine.move(files.root, exc.path, f"{session_id}-metadata-{stamp()}.json")


def _folder_time(folder: Path) -> float:
    try:
        return os.lstat(folder).st_mtime
    except OSError:
        return 0.0


def rebuild_metadata(
    session_id: str,
    messages: Sequence[Message],
    salvaged: Mapping[str, object],
    *,
    fallback_time: float = 0.0,
) -> SessionMetadata:
    """Metadata derived from a transcript, keeping any still-valid name and status from ``salvaged``."""
    from pydantic import ValidationError

    from chatcli.session.models import SessionMetadata

    fallback = datetime.fromtimestamp(fallback_time, UTC) if fallback_time else utc_now()
    meta = SessionMetadata.from_messages(session_id, messages, when_empty=fallback)
    name = salvaged.get("name")
    if isinstance(name, str):
        with contextlib.suppress(SessionError):
            meta.name = validate_session_name(name, allow_id_like=True)
    status = salvaged.get("status")
    if isinstance(status, str) and status in {s.value for s in SessionStatus}:
        meta.status = SessionStatus(str(status))
    custom = salvaged.get("custom_fields")
    if isinstance(custom, dict):
        with contextlib.suppress(ValidationError):
            meta.custom_fields = dict(custom)
    _salvage_labels(meta, salvaged)
    return meta


def _salvage_labels(meta: SessionMetadata, salvaged: Mapping[str, object]) -> None:
    """Keep the pin and every valid tag of a broken file of metadata version 2 or later (in an
    older file those keys meant nothing, as when it is read)."""
    version = salvaged.get("version")
    if type(version) is not int or version < 2:
        return
    meta.pinned = salvaged.get("pinned") is True
    tags = salvaged.get("tags")
    valid: list[str] = []
    for tag in tags if isinstance(tags, list) else []:
        if not isinstance(tag, str):
            continue
        with contextlib.suppress(SessionError):
            valid.append(validate_tag(tag))
    meta.tags = list(dict.fromkeys(valid))[:TAGS_MAX]
