"""The durable file primitives, in one place: every byte the store (and ``sessions export``)
writes goes through here, and every ``OSError`` is translated here.

* :func:`replace_file`: atomic write WITH overwrite (temp file, fsync, rename, fsync of the folder).
* :func:`create_file`: atomic write WITHOUT overwrite (temp file, fsync, ``link`` to the final
  name, which fails if it exists, unlink of the temp file, fsync of the folder): no
  check-then-replace race, and a reader never sees a half-written file.
* :func:`write_new`: create a file that must not exist yet (``O_EXCL``), written and fsynced
  (or left for one :func:`sync_filesystem` of many new files).
* :func:`open_regular` / :func:`read_bytes`: a read that never follows a final link, refuses
  anything but a regular file (a planted FIFO must not hang) and stops at a size limit.
* :func:`append_synced`: one write plus an fsync, cut back if either fails.
* :func:`make_dir`, :func:`real_dir_exists`, :func:`fsync_dir`.
* :func:`storage_error` / :func:`translated`: the one translation of an ``OSError`` met at a
  path: a symbolic link there is :class:`UnsafePath`, anything else :func:`from_os_error`.
* :func:`unsafe_reason` / :func:`check_existing` / :func:`open_store_file` /
  :func:`chmod_store_file`: the one check made before the store writes, truncates, appends to
  or chmods a file that already exists: it must be a regular file with no other name (a hard
  link would carry the change to a file outside the store) owned by us. Anything else is
  :class:`UnsafePath` and the file is left exactly as it was. Files are opened ``O_NONBLOCK``,
  so a FIFO planted in place of one never hangs a write.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

from chatcli.session.errors import SessionError, UnsafePath, from_os_error
from chatcli.session.store.layout import DIR_MODE, FILE_MODE, temp_name

__all__ = [
    "O_CLOEXEC",
    "O_NOFOLLOW",
    "FileTooLarge",
    "append_synced",
    "can_sync_filesystem",
    "check_existing",
    "chmod_store_file",
    "create_file",
    "fsync_dir",
    "make_dir",
    "open_regular",
    "open_store_file",
    "read_bytes",
    "real_dir_exists",
    "replace_file",
    "storage_error",
    "sync_filesystem",
    "translated",
    "unsafe_reason",
    "write_all",
    "write_new",
]

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC
#: ``link`` fails with these where the file system has no hard links (FAT, some network mounts).
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP}


#: What to do about a file the store refuses to write (a hard link, a FIFO, another user's file).
_SET_ASIDE_HINT = (
    "chatcli only writes to regular files it owns that have no other name, so nothing outside "
    "the sessions folder can be changed through them. 'chatcli sessions doctor --repair' moves "
    "a planted .changes or lock file aside; replace a session's own file with a copy."
)


class FileTooLarge(OSError):
    """:func:`read_bytes` met a file larger than its limit (``size`` is what was seen)."""

    def __init__(self, path: Path, size: int | None) -> None:
        super().__init__(errno.EFBIG, "file too large", str(path))
        self.size = size


def storage_error(exc: OSError, path: Path) -> SessionError:
    """The one translation of an ``OSError`` at ``path``: a link there is :class:`UnsafePath`
    (``O_NOFOLLOW`` refused it), anything else the matching :class:`StorageError`."""
    if exc.errno == errno.ELOOP or os.path.islink(path):
        return UnsafePath(path, "is a symbolic link")
    if exc.errno == errno.ENXIO:  # opening a FIFO for writing without blocking, nobody reading
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if stat.S_ISFIFO(st.st_mode):
                return UnsafePath(path, "is a FIFO (named pipe), not a regular file", _SET_ASIDE_HINT)
    return from_os_error(exc, path)


@contextlib.contextmanager
def translated(path: Path) -> Iterator[None]:
    """Raise :func:`storage_error` for any ``OSError`` of the block (session errors pass through)."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, path) from exc


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(path: str | Path) -> None:
    """Make the entries of folder ``path`` (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | _O_DIRECTORY | O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unsafe_reason(st: os.stat_result) -> str | None:
    """Why an existing file with status ``st`` (an ``lstat``/``fstat``) must not be written,
    truncated, appended to or chmodded by the store; None when it may."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a socket or a device)"
    if st.st_nlink > 1:
        return f"has {st.st_nlink} hard links (the same file has another name, maybe outside the store)"
    if st.st_uid != os.geteuid():
        return f"is owned by another user (uid {st.st_uid})"
    return None


def _refuse(path: Path, st: os.stat_result) -> None:
    reason = unsafe_reason(st)
    if reason is not None:
        hint = None if stat.S_ISLNK(st.st_mode) else _SET_ASIDE_HINT
        raise UnsafePath(path, reason, hint)


def check_existing(path: Path) -> bool:
    """Refuse (:class:`UnsafePath`) an existing ``path`` the store must not write; False if absent.

    ``OSError`` other than "missing" is left to the caller.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    _refuse(path, st)
    return True


def open_store_file(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """Open a store file to write to it (``flags`` such as ``O_WRONLY | O_APPEND | O_CREAT``),
    never through a link and never blocking; :class:`UnsafePath` unless it passes
    :func:`unsafe_reason`. ``OSError`` is left to the caller (``ENXIO``: a FIFO nobody reads)."""
    fd = os.open(path, flags | O_NOFOLLOW | O_CLOEXEC | _O_NONBLOCK, mode)
    try:
        _refuse(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def chmod_store_file(path: Path, mode: int) -> None:
    """Set the permissions of an existing store file or folder (never through a link); a file that
    fails :func:`unsafe_reason` (or a folder of another user) is :class:`UnsafePath`."""
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        if st.st_uid != os.geteuid():
            raise UnsafePath(path, f"is owned by another user (uid {st.st_uid})", _SET_ASIDE_HINT)
    else:
        _refuse(path, st)
    os.chmod(path, mode, follow_symlinks=False)


def real_dir_exists(folder: Path) -> bool:
    """True if ``folder`` is a real folder, False if absent; a link or a file raises UnsafePath."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise from_os_error(exc, folder) from exc
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(folder, "is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(folder, "is not a folder")
    return True


def make_dir(path: str | Path) -> bool:
    """Create ``path`` with mode 0700 (whatever the umask); False if it already existed.

    ``OSError`` is left to the caller; an existing link or file raises :class:`UnsafePath`.
    """
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        real_dir_exists(Path(path))
        return False
    os.chmod(path, DIR_MODE)
    return True


def write_new(
    path: str | Path, data: bytes, *, mode: int | None = FILE_MODE, flush: bool = True
) -> os.stat_result:
    """Create ``path`` holding ``data`` (written and fsynced); ``FileExistsError`` if it exists.
    Returns the new file's status.

    Never through a link; ``mode`` None lets the umask decide. On failure no half-written file
    is left behind. ``OSError`` is left to the caller. ``flush`` False leaves the fsync to the
    caller (one :func:`sync_filesystem` after writing many files).
    """
    fd = os.open(path, _CREATE, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        write_all(fd, data)
        if flush:
            os.fsync(fd)
        written = os.fstat(fd)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)
    return written


def can_sync_filesystem() -> bool:
    """True where :func:`sync_filesystem` can be used (Linux)."""
    return _syncfs() is not None


def sync_filesystem(folder: Path) -> None:
    """Flush everything written to the file system that holds ``folder`` (Linux ``syncfs``):
    one call in place of a flush per file, for a batch of many new files. ``OSError`` if the
    flush fails (Linux reports write-back errors to ``syncfs`` since 5.8) or where there is no
    ``syncfs`` (see :func:`can_sync_filesystem`)."""
    syncfs = _syncfs()
    if syncfs is None:
        raise OSError(errno.ENOSYS, "this system cannot flush a whole file system", str(folder))
    fd = os.open(folder, os.O_RDONLY | _O_DIRECTORY | O_CLOEXEC)
    try:
        if syncfs(fd) != 0:
            import ctypes

            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(folder))
    finally:
        os.close(fd)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """The C library's ``syncfs`` (it runs without the interpreter lock), or None without one."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    syncfs.argtypes = [ctypes.c_int]
    syncfs.restype = ctypes.c_int
    return cast("Callable[[int], int]", syncfs)


def _write_temp(folder: Path, name: str, data: bytes, mode: int | None) -> Path:
    """A fsynced temporary copy of ``data`` beside ``folder/name`` (StorageError on failure)."""
    tmp = folder / temp_name(name)
    try:
        write_new(tmp, data, mode=mode)
    except OSError as exc:
        raise from_os_error(exc, folder / name) from exc
    return tmp


def _sync_folder(folder: Path) -> None:
    try:
        fsync_dir(folder)
    except OSError as exc:
        raise from_os_error(exc, folder) from exc


def replace_file(
    folder: Path, name: str, data: bytes, *, mode: int | None = FILE_MODE, store_file: bool = True
) -> None:
    """Atomically replace (or create) ``folder/name`` with ``data``: temp file, fsync, rename,
    fsync of the folder. Readers see the old content or the new, never a mix.

    A store file (``store_file``, the default) that exists must pass :func:`check_existing`
    first; ``sessions export --force`` replaces whatever the user named.
    """
    if store_file:
        with translated(folder / name):
            check_existing(folder / name)
    tmp = _write_temp(folder, name, data, mode)
    try:
        os.replace(tmp, folder / name)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise from_os_error(exc, folder / name) from exc
    _sync_folder(folder)


def create_file(folder: Path, name: str, data: bytes, *, mode: int | None = FILE_MODE) -> None:
    """Atomically create ``folder/name`` holding ``data``, never replacing anything.

    Raises ``FileExistsError`` (and leaves the existing entry intact) if the name is taken,
    :class:`StorageError` for any other failure. Where the file system has no hard links the file
    is created in place with ``O_EXCL`` instead (still never overwriting).
    """
    target = folder / name
    tmp = _write_temp(folder, name, data, mode)
    try:
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise from_os_error(exc, target) from exc
        try:
            write_new(target, data, mode=mode)
        except FileExistsError:
            raise
        except OSError as fallback:
            raise from_os_error(fallback, target) from fallback
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _sync_folder(folder)


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """Open a regular file for reading (the descriptor and its ``fstat``), never through a final
    link and never blocking on a FIFO; ``OSError`` is left to the caller: ``ELOOP`` for a link,
    ``IsADirectoryError`` for anything but a regular file (a FIFO, a device, a folder)."""
    # O_NONBLOCK: a FIFO planted in place of a file must not hang the listing.
    fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | O_CLOEXEC | _O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IsADirectoryError(f"{path} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """Read a regular file without following a final link.

    ``OSError`` is left to the caller: ``ELOOP`` for a link, ``IsADirectoryError`` for anything
    but a regular file, :class:`FileTooLarge` past ``limit`` bytes.
    """
    fd, st = open_regular(path)
    try:
        if limit is not None and st.st_size > limit:
            raise FileTooLarge(path, st.st_size)
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, max(st.st_size + 1, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise FileTooLarge(path, None)
        return b"".join(chunks)
    finally:
        os.close(fd)


def append_synced(fd: int, data: bytes, size: int) -> None:
    """Write ``data`` at the end of ``fd`` (opened for append, ``size`` bytes long) and fsync.

    If either fails the file is cut back to ``size``: no partial line is left behind.
    """
    try:
        write_all(fd, data)
        os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
            os.fsync(fd)
        raise
