"""Writing an export to a file the user named: atomic, never replacing without ``--force``, and
every failure told in words about the user's own path (never the sessions folder)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from chatcli.session.errors import OutputFileError, SessionAlreadyExists, StorageError
from chatcli.session.store import durable

__all__ = ["write_export"]


def write_export(path: Path, text: str, *, overwrite: bool) -> None:
    """Write an export file atomically; an existing entry (even a dangling link) is only replaced
    with ``--force``. Failures name the file the user gave, never the sessions folder."""
    folder = path.parent if str(path.parent) else Path(".")
    data = text.encode("utf-8")
    try:
        if overwrite:
            durable.replace_file(folder, path.name, data, mode=None, store_file=False)
            return
        durable.create_file(folder, path.name, data, mode=None)
    except FileExistsError:
        raise SessionAlreadyExists(
            f"the file {path}", "Choose another file name, or add --force to replace it."
        ) from None
    except StorageError as exc:
        cause = exc.__cause__
        raise OutputFileError(path, _output_problem(folder, cause)) from cause


def _output_problem(folder: Path, cause: BaseException | None) -> str:
    """What stopped an export file from being written, in words about the user's own path."""
    code = cause.errno if isinstance(cause, OSError) else None
    if code in (errno.ENOENT, errno.ENOTDIR):
        if not os.path.lexists(folder):
            return f"the folder {folder} does not exist"
        if not os.path.isdir(folder):
            return f"{folder} is not a folder"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied (you may not write to that folder)"
    if code == errno.EROFS:
        return "the file system is read-only"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device"
    if code == errno.EISDIR:
        return "it is a folder"
    if isinstance(cause, OSError):
        return cause.strerror or str(cause)
    return "it could not be written"
