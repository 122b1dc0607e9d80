"""Where the sessions folder is: ``--sessions-dir``, ``$CHATCLI_SESSIONS_DIR``, or the project's
``.amazonq/sessions`` (found from the current folder without creating anything).

A discovered folder is only used if it is safe, like git's ``safe.directory``: the upward search
stops at the project root (the nearest folder holding ``.git``), so an ``.amazonq`` planted in a
shared parent folder is never picked up by a project below it, and a discovered ``.amazonq`` (or
its ``sessions``) owned by another user or writable by group or others is refused
(:class:`UnsafePath`). A folder named outright (``--sessions-dir``, ``$CHATCLI_SESSIONS_DIR``) is
trusted as given: that is the override.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, NamedTuple

from chatcli.session.errors import UnsafePath

__all__ = ["ENV_SESSIONS_DIR", "SessionsLocation", "Source", "discover_sessions_dir"]

ENV_SESSIONS_DIR = "CHATCLI_SESSIONS_DIR"

Source = Literal["flag", "env", "amazonq", "git", "cwd"]


class SessionsLocation(NamedTuple):
    """Where sessions live and how that was decided.

    ``guarded`` lists the folders, from the project down, that must not be symbolic links
    (``.amazonq`` and ``.amazonq/sessions``, or the explicit folder itself).
    """

    path: Path
    source: Source
    guarded: tuple[Path, ...]

    @classmethod
    def explicit(cls, path: Path | str) -> SessionsLocation:
        """A folder given outright (``--sessions-dir``, or a path handed to the store)."""
        folder = Path(path).absolute()
        return cls(folder, "flag", (folder,))

    def describe(self) -> str:
        """One line saying where sessions are stored and why."""
        why = {
            "flag": "from --sessions-dir",
            "env": f"from ${ENV_SESSIONS_DIR}",
            "amazonq": "nearest folder holding .amazonq/",
            "git": "nearest folder holding .git",
            "cwd": "current folder",
        }[self.source]
        return f"{self.path} ({why})"


def discover_sessions_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> SessionsLocation:
    """Find the sessions folder without creating anything.

    Order: ``explicit`` (``--sessions-dir``), then ``$CHATCLI_SESSIONS_DIR``, then the nearest
    ancestor of ``cwd`` holding ``.amazonq/`` or ``.git`` (an ``.amazonq`` above the nearest
    ``.git`` is not used), then ``cwd``. A discovered folder owned by another user or writable by
    others raises :class:`UnsafePath` (see the module's docstring).
    """
    env = os.environ if environ is None else environ
    here = Path(cwd if cwd is not None else Path.cwd()).absolute()
    if explicit is not None and str(explicit) != "":
        path = (here / Path(explicit).expanduser()).absolute()
        return SessionsLocation(path, "flag", (path,))
    from_env = env.get(ENV_SESSIONS_DIR, "")
    if from_env:
        path = (here / Path(from_env).expanduser()).absolute()
        return SessionsLocation(path, "env", (path,))
    for folder in [here, *here.parents]:
        if os.path.lexists(folder / ".amazonq"):
            return _project_location(folder, "amazonq")
        if os.path.lexists(folder / ".git"):
            return _project_location(folder, "git")  # the project root bounds the search
    return _project_location(here, "cwd")


def _project_location(project: Path, source: Source) -> SessionsLocation:
    amazonq = project / ".amazonq"
    sessions = amazonq / "sessions"
    for folder in (amazonq, sessions):
        _refuse_untrusted(folder, sessions)
    return SessionsLocation(sessions, source, (amazonq, sessions))


def _refuse_untrusted(folder: Path, sessions: Path) -> None:
    """Refuse a discovered folder owned by another user or writable by group or others (absent
    folders and links pass: the store refuses links itself)."""
    try:
        st = os.lstat(folder)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode):
        return
    if st.st_uid != os.geteuid():
        problem = f"is owned by another user (uid {st.st_uid})"
    elif st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"is writable by other users (permissions {stat.S_IMODE(st.st_mode):o})"
    else:
        return
    raise UnsafePath(
        folder,
        problem,
        "Another user could read or change your conversations there, so chatcli does not use a "
        "sessions folder it found this way (like git's safe.directory). If you trust it, name it "
        f"outright: --sessions-dir {sessions} (or set ${ENV_SESSIONS_DIR}); otherwise fix its "
        "owner and permissions (chmod 700).",
    )
