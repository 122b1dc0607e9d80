"""File-system snapshots, a jail for writes outside a folder, and raw transcript lines."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatcli.session.store import FileRepository
from chatcli.session.store.layout import INDEX_DIR


def snapshot(root: Path, *, skip: Path | None = None) -> dict[str, bytes | str]:
    """Everything under ``root`` (not following links): file bytes, ``"<dir>"`` or ``"-> target"``.

    ``skip`` leaves one subtree out (e.g. the sessions folder, whose content is expected to change).
    """
    found: dict[str, bytes | str] = {}
    if not os.path.lexists(root):
        return found
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = here / name
            if skip is not None and path == skip:
                continue
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = f"-> {os.readlink(path)}"
            elif path.is_dir():
                found[rel] = "<dir>"
            elif name.endswith(("-shm", "-wal")):
                continue  # SQLite's transient files: an open connection creates and updates them
            else:
                found[rel] = path.read_bytes()
    return found


def tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """Everything under ``root`` without following links: kind, permission bits, content digest.

    The metadata index (``.index/``) is left out: it is a cache that readers may refresh, and its
    agreement with the files is checked on its own (``index_problems``).
    """
    found: dict[str, tuple[str, int, str]] = {}
    if not os.path.lexists(root):
        return found
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != INDEX_DIR]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            rel = str(path.relative_to(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", mode, "")
            elif stat.S_ISREG(st.st_mode):
                found[rel] = ("file", mode, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[rel] = ("special", mode, "")
    return found


#: What the ``os`` functions that change the disk take: one path, or a source and a destination.
_ONE_PATH = ("mkdir", "rmdir", "unlink", "remove", "chmod", "truncate")
_TWO_PATHS = ("rename", "replace", "link", "symlink")


class _Jail:
    """Checks paths against one allowed folder and records every refused operation."""

    def __init__(self, allowed: Path) -> None:
        self.base = os.path.abspath(allowed)
        self.refused: list[str] = []

    def check(self, path: str | bytes | os.PathLike[str] | int, op: str) -> None:
        """Refuse (and record) ``op`` on ``path`` if it is outside the allowed folder."""
        if isinstance(path, int):
            return
        where = os.path.abspath(os.fsdecode(path))
        if where != self.base and not where.startswith(self.base + os.sep):
            self.refused.append(f"{op} {where}")
            raise PermissionError(errno.EPERM, f"test jail: {op} outside {self.base}", where)

    def one(self, name: str) -> Callable[..., Any]:
        """``os.<name>`` checking its one path (unless it is relative to a folder descriptor)."""
        real = getattr(os, name)

        def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("dir_fd") is None:
                self.check(path, name)
            return real(path, *args, **kwargs)

        return guarded

    def two(self, name: str) -> Callable[..., Any]:
        """``os.<name>`` checking its source and its destination."""
        real = getattr(os, name)

        def guarded(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("src_dir_fd") is None:
                self.check(src, name)
            if kwargs.get("dst_dir_fd") is None:
                self.check(dst, name)
            return real(src, dst, *args, **kwargs)

        return guarded

    def open(self) -> Callable[..., int]:
        """``os.open`` checking the path it opens for writing."""
        real_open = os.open
        writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

        def guarded_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
            if dir_fd is None and flags & writing:
                self.check(path, "open")
            return real_open(path, flags, mode, dir_fd=dir_fd)

        return guarded_open

    def rmtree(self) -> Callable[..., None]:
        """``shutil.rmtree`` checking the tree it removes."""
        real_rmtree = shutil.rmtree

        def guarded_rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
            self.check(path, "rmtree")
            real_rmtree(path, *args, **kwargs)

        return guarded_rmtree


@contextmanager
def confined_writes(allowed: Path) -> Iterator[list[str]]:
    """Refuse (``PermissionError``) and record any attempt to create, change or remove a path outside
    ``allowed`` while the block runs.

    A safety net for tests that feed hostile paths to the store: if path validation ever regresses,
    the test fails instead of littering the real file system (tests run as root in CI). Yields the
    list of refused operations, which the test asserts is empty.
    """
    jail = _Jail(allowed)
    real_rmtree = shutil.rmtree
    replacements: dict[str, Callable[..., Any]] = {
        "open": jail.open(),
        **{name: jail.one(name) for name in _ONE_PATH},
        **{name: jail.two(name) for name in _TWO_PATHS},
    }
    saved = {name: getattr(os, name) for name in replacements}
    try:
        for name, fn in replacements.items():
            setattr(os, name, fn)
        shutil.rmtree = jail.rmtree()  # type: ignore[assignment]
        yield jail.refused
    finally:
        for name, fn in saved.items():
            setattr(os, name, fn)
        shutil.rmtree = real_rmtree


def transcript_lines(repo: FileRepository, session_id: str) -> list[bytes]:
    """The raw lines of a session's ``conversation.jsonl`` (newline-terminated lines only)."""
    data = (repo.root / session_id / "conversation.jsonl").read_bytes()
    return data.split(b"\n")[:-1]
