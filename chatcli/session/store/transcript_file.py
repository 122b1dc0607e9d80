"""``conversation.jsonl`` on disk: durable appends, the mending of a torn last line, reads.

An append is one write plus an fsync; a failed append is cut back, so no partial line is left.
A last line without its line end (a crash mid-append) is mended before the next append: a complete
message only gets its newline, anything else is set aside in ``.quarantine/`` and cut off.
Complete lines are never touched; ``\r`` and ``\r\n`` end a line too (see
:data:`~chatcli.session.transcript.LINE_ENDS`). The format itself is :mod:`chatcli.session.transcript`.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from chatcli.session.errors import SessionError, SessionNotFound, UnsafePath
from chatcli.session.store import durable, quarantine
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.layout import CONVERSATION_FILE, FILE_MODE, METADATA_FILE, stamp
from chatcli.session.transcript import LINE_ENDS, Transcript, TranscriptTail, line_parser, parse_transcript

__all__ = [
    "Mended",
    "append_line",
    "cut_back",
    "iter_chunks",
    "last_line_end",
    "mend_torn_tail",
    "open_for_reading",
    "read_tail",
    "read_transcript",
    "transcript_bytes",
]

#: Reads stream a transcript in blocks of this size.
BLOCK = 1 << 18
#: A line longer than this is never held in memory by ``show`` or ``search``: it is skipped as
#: unreadable (no message chatcli writes comes near it).
MAX_LINE = 64 * 1024 * 1024

_APPEND = os.O_RDWR | os.O_APPEND | os.O_CREAT


def append_line(root: Path, session_id: str, line: bytes) -> int:
    """Append ``line`` (write + fsync), mending a torn tail first; returns the offset it starts at."""
    path = root / session_id / CONVERSATION_FILE
    with durable.translated(path):
        fd = durable.open_store_file(path, _APPEND, FILE_MODE)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                os.fchmod(fd, FILE_MODE)
            elif os.pread(fd, 1, size - 1) not in LINE_ENDS:
                size = _mend_tail(root, session_id, fd, size).new_size
            durable.append_synced(fd, line, size)
        finally:
            os.close(fd)
    return size


def cut_back(path: Path, size: int) -> bool:
    """Truncate the transcript back to ``size`` bytes (undoing this process's last append).

    True when the file no longer holds more than ``size`` bytes (or is gone); False when it
    could not be cut (or is no longer a file the store may write), and what was appended is
    still there.
    """
    try:
        fd = durable.open_store_file(path, os.O_WRONLY)
    except FileNotFoundError:
        return True
    except (OSError, SessionError):
        return False
    try:
        if os.fstat(fd).st_size > size:
            os.ftruncate(fd, size)
            with contextlib.suppress(OSError):
                os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


class Mended(NamedTuple):
    """What :func:`mend_torn_tail` did: the sizes before and after, and where the cut-off bytes
    (``old_size - new_size`` of them) were kept, if any were cut."""

    old_size: int
    new_size: int
    kept: Path | None


def mend_torn_tail(root: Path, session_id: str) -> Mended | None:
    """Mend the transcript's last line if it lacks its newline; None when there was nothing to
    mend (no transcript, or it ends with a newline)."""
    path = root / session_id / CONVERSATION_FILE
    if not os.path.lexists(path):
        return None
    with durable.translated(path):
        fd = durable.open_store_file(path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            if not size or os.pread(fd, 1, size - 1) in LINE_ENDS:
                return None
            return _mend_tail(root, session_id, fd, size)
        finally:
            os.close(fd)


def _pread_all(fd: int, size: int, offset: int) -> bytes:
    """Exactly ``size`` bytes at ``offset``: one ``pread`` returns at most 0x7ffff000 bytes on
    Linux, so read until all are in (``EIO`` if the file ends first)."""
    chunks: list[bytes] = []
    done = 0
    while done < size:
        chunk = os.pread(fd, size - done, offset + done)
        if not chunk:
            raise OSError(errno.EIO, f"the file ended {size - done} bytes early while reading it")
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)


def _mend_tail(root: Path, session_id: str, fd: int, size: int) -> Mended:
    """Fix a last line that lacks its newline.

    A complete message missing only the newline gets it; anything else (a torn write) is
    copied to ``.quarantine/`` and cut off, only once every byte of it has been kept.
    """
    start = last_line_end(fd, size) + 1
    tail = _pread_all(fd, size - start, start)
    if line_parser()(tail) is not None:
        # pwrite: ``fd`` may not be in append mode (repair opens it plainly), and a write at the
        # current offset would overwrite the first byte of the file.
        if os.pwrite(fd, b"\n", size) != 1:
            raise OSError(errno.EIO, "short write", str(root / session_id / CONVERSATION_FILE))
        os.fsync(fd)
        return Mended(size, size + 1, None)
    kept = quarantine.keep(root, f"{session_id}-torn-{stamp()}.jsonl", tail)
    os.ftruncate(fd, start)
    os.fsync(fd)
    return Mended(size, start, kept)


def last_line_end(fd: int, size: int) -> int:
    """Offset of the last line end (``\\n`` or ``\\r``, see :data:`LINE_ENDS`) before ``size``
    (-1 if none), reading backwards in blocks."""
    block = 65536
    end = size
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        idx = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if idx >= 0:
            return start + idx
        end = start
    return -1


def transcript_bytes(files: SessionFiles, session_id: str) -> bytes:
    """The raw transcript (empty if the session has none yet); links are never followed."""
    folder = files.check_session_dir(session_id)
    path = folder / CONVERSATION_FILE
    try:
        return durable.read_bytes(path)
    except FileNotFoundError:
        if not os.path.lexists(folder / METADATA_FILE):
            raise SessionNotFound(session_id) from None
        return b""
    except OSError as exc:
        raise durable.storage_error(exc, path) from exc


def read_transcript(files: SessionFiles, session_id: str) -> Transcript:
    """Every readable message, oldest first; bad lines are skipped and reported, never fatal."""
    folder = files.check_session_dir(session_id)
    if not os.path.lexists(folder / METADATA_FILE) and not os.path.lexists(folder / CONVERSATION_FILE):
        raise SessionNotFound(session_id)
    path = folder / CONVERSATION_FILE
    try:
        data = durable.read_bytes(path)
    except FileNotFoundError:
        return Transcript()
    except OSError as exc:
        raise durable.storage_error(exc, path) from exc
    return parse_transcript(data)


def open_for_reading(files: SessionFiles, session_id: str) -> int | None:
    """A descriptor on the session's transcript (None when it has none yet): only a regular
    file, never through a link; :class:`SessionNotFound`, :class:`UnsafePath` or another
    :class:`StorageError` otherwise."""
    folder = files.check_session_dir(session_id)
    path = folder / CONVERSATION_FILE
    try:
        fd, _ = durable.open_regular(path)
    except FileNotFoundError:
        if not os.path.lexists(folder / METADATA_FILE):
            raise SessionNotFound(session_id) from None
        return None
    except IsADirectoryError as exc:
        raise UnsafePath(path, "is not a regular file") from exc
    except OSError as exc:
        raise durable.storage_error(exc, path) from exc
    return fd


def iter_chunks(files: SessionFiles, session_id: str) -> Iterator[bytes]:
    """The raw transcript in chunks of whole lines (about :data:`BLOCK` bytes each; a torn last
    line comes last), read as they are consumed: memory stays bounded whatever the file's size.

    A line longer than :data:`MAX_LINE` is left out (replaced by an empty line).
    """
    fd = open_for_reading(files, session_id)
    if fd is None:
        return
    path = files.root / session_id / CONVERSATION_FILE
    try:
        carry = b""
        skipping = False
        while True:
            with durable.translated(path):
                # A JSON line never holds a raw CR: every ``\r`` is a line end (see LINE_ENDS).
                data = os.read(fd, BLOCK).replace(b"\r", b"\n")
            if not data:
                if carry and not skipping:
                    yield carry
                return
            cut = data.rfind(b"\n") + 1
            if skipping:
                if cut:
                    skipping, data = False, b"\n" + data[data.find(b"\n") + 1 :]
                    cut = data.rfind(b"\n") + 1
                else:
                    continue
            if cut:
                yield carry + data[:cut]
                carry = data[cut:]
            else:
                carry += data
            if len(carry) > MAX_LINE:
                carry, skipping = b"", True
    finally:
        os.close(fd)


def read_tail(files: SessionFiles, session_id: str, count: int) -> TranscriptTail:
    """The last ``count`` readable messages, read backwards a block at a time, and the number of
    messages in the whole transcript (its lines, counted a block at a time): memory stays
    bounded whatever the file's size."""
    fd = open_for_reading(files, session_id)
    if fd is None:
        return TranscriptTail()
    try:
        with durable.translated(files.root / session_id / CONVERSATION_FILE):
            size = os.fstat(fd).st_size
            lines = _count_lines(fd, size)
            tail = TranscriptTail(total=lines)
            open_end = size > 0 and os.pread(fd, 1, size - 1) not in LINE_ENDS
            _read_backwards(fd, size, count, lines, tail)
    finally:
        os.close(fd)
    if open_end and tail.skipped_lines[:1] == [lines]:
        # A last line without its end that is not a message is a torn write, not a bad line.
        tail.skipped_lines.pop(0)
        tail.torn_tail, tail.total = True, tail.total - 1
    else:
        tail.open_end = open_end and bool(tail.messages)
    tail.messages.reverse()
    tail.skipped_lines.reverse()
    tail.total -= len(tail.skipped_lines)
    return tail


def _count_lines(fd: int, size: int) -> int:
    """The number of non-empty lines of the file (a last line without its newline included)."""
    lines = 0
    previous = b"\n"
    offset = 0
    while offset < size:
        block = os.pread(fd, min(BLOCK, size - offset), offset).replace(b"\r", b"\n")
        if not block:
            break
        # A line is non-empty where a newline follows something other than a newline.
        lines += block.count(b"\n") - block.count(b"\n\n") - (block[:1] == b"\n" and previous == b"\n")
        previous = block[-1:]
        offset += len(block)
    return lines + (previous != b"\n")


def _read_backwards(fd: int, size: int, count: int, lines: int, tail: TranscriptTail) -> None:
    """Parse lines from the end of the file until ``count`` messages are in ``tail`` (newest
    first); ``lines`` numbers the last one. Unreadable lines go to ``tail.skipped_lines``."""
    parse = line_parser()
    end = size
    pending = b""  # the start of the line the previous block began inside
    number = lines
    while end > 0 and len(tail.messages) < count:
        start = max(0, end - BLOCK)
        chunk = os.pread(fd, end - start, start).replace(b"\r", b"\n") + pending
        end = start
        pieces = chunk.split(b"\n")
        pending = pieces.pop(0) if end > 0 else b""
        for raw in reversed(pieces):
            if not raw.strip() or len(tail.messages) >= count:
                number -= bool(raw.strip())
                continue
            message = parse(raw)
            if message is None:
                tail.skipped_lines.append(number)
            else:
                tail.messages.append(message)
            number -= 1
        if len(pending) > MAX_LINE:  # too long to keep: unreadable (the rest of it is skipped)
            end = last_line_end(fd, end) + 1
            pending = b""
            tail.skipped_lines.append(number)
            number -= 1
