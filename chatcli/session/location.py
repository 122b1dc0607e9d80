"""Where the sessions folder is: ``--sessions-dir``, ``$CHATCLI_SESSIONS_DIR``, or the project's
``.amazonq/sessions`` (found from the current folder without creating anything)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["ENV_SESSIONS_DIR", "SessionsLocation", "Source", "discover_sessions_dir"]

ENV_SESSIONS_DIR = "CHATCLI_SESSIONS_DIR"

Source = Literal["flag", "env", "amazonq", "git", "cwd"]


@dataclass(frozen=True, slots=True)
class SessionsLocation:
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
    ancestor of ``cwd`` holding ``.amazonq/``, then the nearest holding ``.git``, then ``cwd``.
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
    chain = [here, *here.parents]
    for folder in chain:
        if os.path.lexists(folder / ".amazonq"):
            return _project_location(folder, "amazonq")
    for folder in chain:
        if os.path.lexists(folder / ".git"):
            return _project_location(folder, "git")
    return _project_location(here, "cwd")


def _project_location(project: Path, source: Source) -> SessionsLocation:
    amazonq = project / ".amazonq"
    sessions = amazonq / "sessions"
    return SessionsLocation(sessions, source, (amazonq, sessions))
