"""The log file: where tracebacks go (never to the screen)."""

from __future__ import annotations

import os
import traceback
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["log_exception", "log_path"]

ENV_LOG_DIR = "CHATCLI_LOG_DIR"


def log_path() -> Path:
    """``chatcli.log`` in ``$CHATCLI_LOG_DIR`` or the platform's user log folder."""
    override = os.environ.get(ENV_LOG_DIR)
    if override:
        return Path(override) / "chatcli.log"
    from platformdirs import user_log_dir

    return Path(user_log_dir("chatcli", appauthor=False)) / "chatcli.log"


def log_exception(exc: BaseException, context: str = "") -> Path | None:
    """Append ``exc``'s traceback to the log file; returns its path, or None if it cannot be written."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).isoformat()
        text = "".join(traceback.format_exception(exc))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(f"--- {stamp} {context}\n{text}\n")
    except OSError:
        return None
    return path
