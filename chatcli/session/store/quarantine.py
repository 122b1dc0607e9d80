"""``.quarantine/``: where repairs set aside what they take out of a session. Nothing in it is
ever deleted by chatcli; the user can inspect it and remove it when they choose."""

from __future__ import annotations

import os
from pathlib import Path

from chatcli.session.errors import from_os_error
from chatcli.session.store import durable
from chatcli.session.store.layout import QUARANTINE_DIR

__all__ = ["keep", "move"]


def move(root: Path, path: Path, new_name: str) -> Path:
    """Move ``path`` (a file or folder inside the sessions tree) to ``.quarantine/new_name``."""
    target_dir = root / QUARANTINE_DIR
    try:
        durable.make_dir(target_dir)
        target = target_dir / new_name
        os.rename(path, target)
        durable.fsync_dir(target_dir)
        durable.fsync_dir(path.parent)
    except OSError as exc:
        raise from_os_error(exc, path) from exc
    return target


def keep(root: Path, new_name: str, data: bytes) -> Path:
    """Keep ``data`` (bytes cut out of a file) as ``.quarantine/new_name``, replaced atomically."""
    target_dir = root / QUARANTINE_DIR
    try:
        durable.make_dir(target_dir)
    except OSError as exc:
        raise from_os_error(exc, root) from exc
    durable.replace_file(target_dir, new_name, data)
    return target_dir / new_name
