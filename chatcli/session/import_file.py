"""Reading a file to import, streamed: one record at a time, each bounded in size.

``sessions import`` reads a JSON export, a JSON array of them, or JSON Lines (one session a line).
None of them is ever read whole: JSON Lines a line at a time, a JSON document or array one value
at a time (:class:`_ValueStream`). Limits: a record (a line, an array item, a whole export
document) may be up to :data:`MAX_RECORD_BYTES`; the file itself has no limit. A record past the
limit, not valid JSON or nested too deeply is yielded as a :class:`SerializationError` (the import
skips it with that reason and goes on where it can). Only a regular file is read: a device
(``/dev/zero``), a FIFO or a kernel pseudo-file (``/proc/self/mem``) is an :class:`InputFileError`.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from chatcli.session.errors import InputFileError, SerializationError

__all__ = ["MAX_RECORD_BYTES", "open_input", "read_records"]

#: The largest record read: one JSON Lines line, one item of a JSON array, or one export document.
MAX_RECORD_BYTES = 64 * 1024 * 1024
_BLOCK = 1 << 16
_NOT_REGULAR = "it is not a regular file (a device, a pipe or a system file); save it to a file first"
#: What a JSON value fails to parse with when it only needs more text (the buffer ends mid-value).
_TRUNCATED = ("Expecting", "Invalid \\uXXXX escape")
_SPACE = re.compile(r"[ \t\n\r]*")


def open_input(path: Path) -> BinaryIO:
    """Open the file to import; every failure, and any file that is not a regular one, is an
    :class:`InputFileError` (a FIFO never blocks the open)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as exc:
        raise InputFileError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise InputFileError(path, "it is a folder, not a file") from exc
    except PermissionError as exc:
        raise InputFileError(path, "permission denied") from exc
    except OSError as exc:
        raise InputFileError(path, f"it cannot be opened ({exc.strerror or exc})") from exc
    try:
        _check_regular(fd, path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_regular(fd: int, path: Path) -> None:
    """Refuse anything but a regular file; an empty-looking file with content (``/proc``) too."""
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(path, "it is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(path, _NOT_REGULAR)
    if info.st_size:
        return
    # Kernel pseudo-files (/proc, /sys) say they are empty regular files, yet can be read (or
    # fail to be): a real empty file reads nothing.
    try:
        content = os.pread(fd, 1, 0)
    except OSError:
        content = b"?"
    if content:
        raise InputFileError(path, _NOT_REGULAR)


def read_records(handle: BinaryIO, path: Path) -> Iterator[tuple[int, object]]:
    """Yield (position, parsed record or :class:`SerializationError`) from an import file.

    A file whose first non-blank line is a whole session object is read as JSON Lines (the
    position is the line number); anything else as one JSON document, whose array items are
    read one by one (the position is the item number). A read failure mid-file is an
    :class:`InputFileError`.
    """
    try:
        yield from _records(handle, path)
    except OSError as exc:
        raise InputFileError(path, f"it could not be read to the end ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"it is not UTF-8 text (at byte {exc.start})") from exc


def _records(handle: BinaryIO, path: Path) -> Iterator[tuple[int, object]]:
    consumed: list[bytes] = []
    first = b""
    while True:
        line = handle.readline(MAX_RECORD_BYTES + 1)
        if not line:
            break
        consumed.append(line)
        if line.strip():
            first = line
            break
    if not first:
        yield 1, SerializationError(f"{path.name} is empty")
        return
    head = _loads(first) if first.endswith(b"\n") or len(first) <= MAX_RECORD_BYTES else None
    if isinstance(head, dict) and "messages" in head:
        yield len(consumed), head
        yield from _json_lines(handle, start=len(consumed) + 1)
        return
    yield from _ValueStream(handle, b"".join(consumed), path).records()


def _loads(raw: bytes | str) -> object:
    """One JSON value, or a :class:`SerializationError` saying why it is not one."""
    try:
        return json.loads(raw)
    except (RecursionError, MemoryError):
        return SerializationError("it is nested too deeply to read")
    except (ValueError, UnicodeDecodeError) as exc:
        return SerializationError(f"not valid JSON ({exc})")


def _too_large(what: str) -> SerializationError:
    return SerializationError(
        f"{what} is larger than {MAX_RECORD_BYTES // (1024 * 1024)} MiB, the limit per record"
    )


def _json_lines(handle: BinaryIO, *, start: int) -> Iterator[tuple[int, object]]:
    """The rest of a JSON-Lines file, one record (or SerializationError) a non-blank line."""
    number = start
    while True:
        line = handle.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of it, a block at a time
                line = handle.readline(_BLOCK)
            yield number, _too_large(f"line {number}")
        elif line.strip():
            record = _loads(line)
            if isinstance(record, SerializationError):
                record = SerializationError(f"line {number}: {record.detail}")
            yield number, record
        number += 1


class _ValueStream:
    """A JSON document (one export, or an array of them) decoded one value at a time."""

    def __init__(self, handle: BinaryIO, head: bytes, path: Path) -> None:
        self.handle = handle
        self.path = path
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.text = self.decoder.decode(head)
        self.pos = 0
        self.eof = False
        self.json = json.JSONDecoder()

    def records(self) -> Iterator[tuple[int, object]]:
        """Each item of a top-level array, or the document itself, as (position, record)."""
        try:
            if self._next_char() != "[":
                yield 1, self._value("the document")
                if self._next_char() != "":
                    yield 1, SerializationError(f"{self.path.name} has more after its JSON document")
                return
            self.pos += 1
            yield from self._items()
        except _Unreadable as exc:
            yield exc.position, SerializationError(f"{exc.reason}; the rest of {self.path.name} was not read")

    def _items(self) -> Iterator[tuple[int, object]]:
        position = 1
        if self._next_char() == "]":
            return
        while True:
            yield position, self._value(f"record {position}", position)
            separator = self._next_char()
            self.pos += 1
            if separator == "]":
                return
            if separator != "," or not self._next_char():
                found = repr(separator) if separator not in ("", ",") else "the end of the file"
                raise _Unreadable(position + 1, f"not valid JSON: expected ',' or ']' but found {found}")
            position += 1

    def _next_char(self) -> str:
        """The next character that is not white space ("" at the end); ``pos`` moves to it."""
        while True:
            match = _SPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return ""

    def _value(self, what: str, position: int = 1) -> object:
        """The JSON value at ``pos`` (read further as needed, up to the record limit); a value
        too large or too deep is skipped and returned as a :class:`SerializationError`."""
        while True:
            try:
                value, end = self.json.raw_decode(self.text, self.pos)
                if end < len(self.text) or self.eof:  # a number at the very end may continue
                    start, self.pos = self.pos, end
                    return _too_large(what) if end - start > MAX_RECORD_BYTES else value
            except json.JSONDecodeError as exc:
                if self.eof or not _truncated(exc, len(self.text)):
                    raise _Unreadable(position, f"{what} is not valid JSON ({exc})") from None
            except (RecursionError, MemoryError):
                return self._skipped(position, f"{what} is nested too deeply to read")
            if len(self.text) - self.pos > MAX_RECORD_BYTES:
                return self._skipped(position, _too_large(what).detail)
            self._more(len(self.text) - self.pos)

    def _skipped(self, position: int, reason: str) -> SerializationError:
        """Move past the value at ``pos`` without parsing it; ``reason`` says why it is skipped."""
        if not self._skip_value():
            raise _Unreadable(position, f"{reason}, and the file ends inside it")
        return SerializationError(reason)

    def _skip_value(self) -> bool:
        """Scan past the value at ``pos`` a block at a time, keeping nothing; False if the file
        ends first."""
        depth, in_string, escaped = 0, False, False
        while True:
            text, i, n = self.text, self.pos, len(self.text)
            while i < n:
                ch = text[i]
                i += 1
                if in_string:
                    if escaped:
                        escaped = False
                    elif ch == "\\":
                        escaped = True
                    elif ch == '"':
                        in_string = False
                        if depth == 0:
                            self.pos = i
                            return True
                elif ch == '"':
                    in_string = True
                elif ch in "[{":
                    depth += 1
                elif ch in "]},":
                    if depth == 0:  # the end of a number or literal, and of its array
                        self.pos = i - 1
                        return True
                    if ch != ",":
                        depth -= 1
                        if depth == 0:
                            self.pos = i
                            return True
            self.pos = n
            if not self._more():
                return False

    def _more(self, wanted: int = 0) -> bool:
        """Read another block (at least ``wanted`` characters' worth); False at the end of the file."""
        if self.eof:
            return False
        if self.pos > _BLOCK and self.pos * 2 > len(self.text):
            self.text, self.pos = self.text[self.pos :], 0  # drop what was consumed
        block = self.handle.read(max(_BLOCK, wanted))
        self.eof = not block
        self.text += self.decoder.decode(block, final=self.eof)
        return not self.eof or self.pos < len(self.text)


def _truncated(exc: json.JSONDecodeError, length: int) -> bool:
    """True when ``exc`` only says the text ended mid-value (reading more may complete it)."""
    if exc.msg.startswith("Unterminated string"):
        return True
    return exc.msg.startswith(_TRUNCATED) and exc.pos + 16 >= length


class _Unreadable(Exception):
    """The document cannot be read past ``position``: ``reason`` says why."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason
