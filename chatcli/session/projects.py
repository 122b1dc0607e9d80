"""Known projects: every sessions folder chatcli has saved a session in, remembered in one small
file, so that ``--all-projects`` can list, search and resume the sessions of every project.

The registry is ``projects.json`` in chatcli's user data folder (``$CHATCLI_DATA_DIR``, else
platformdirs' ``user_data_dir("chatcli")``)::

    {"version": 1, "projects": [{"sessions": "/home/me/app/.amazonq/sessions",
                                 "last_write": "2026-12-03T06:00:00Z"}, …]}

It is keyed by the sessions folder's real path and written only when a session is written (the
first write of a process, and at most once a day per project), atomically (a temporary file
renamed over it) under ``projects.lock``. It holds at most :data:`MAX_PROJECTS` entries (the
most recently written kept) and is read only up to :data:`MAX_REGISTRY_BYTES`: a file that is
larger, or that is not a project list, is set aside as ``projects.json.unreadable`` and started
afresh, and the caller is told so (never a traceback). A project whose folder is gone is
forgotten once reported (:meth:`ProjectRegistry.forget`); it comes back when chatcli next saves
a session in it, wherever it then is.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from chatcli.errors import ChatcliError
from chatcli.session.store.durable import FileTooLarge, read_bytes, replace_file

if TYPE_CHECKING:
    from filelock import FileLock

__all__ = [
    "ENV_DATA_DIR",
    "MAX_PROJECTS",
    "MAX_REGISTRY_BYTES",
    "KnownProject",
    "ProjectRegistry",
    "RegistryRead",
    "data_dir",
    "project_folder",
    "project_label",
]

#: Overrides where chatcli keeps its own data (the project registry).
ENV_DATA_DIR = "CHATCLI_DATA_DIR"
REGISTRY_NAME = "projects.json"
LOCK_NAME = "projects.lock"
SET_ASIDE_SUFFIX = ".unreadable"
#: The registry keeps this many projects, the most recently written ones.
MAX_PROJECTS = 500
#: A registry file larger than this is not read (500 entries take about 60 KB).
MAX_REGISTRY_BYTES = 1 << 20
#: How long a write waits for another process's registry lock (seconds).
LOCK_TIMEOUT = 5.0
_VERSION = 1


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """chatcli's user data folder: ``$CHATCLI_DATA_DIR``, else the platform's (not created here)."""
    env = os.environ if environ is None else environ
    given = env.get(ENV_DATA_DIR, "")
    if given:
        return Path(given).expanduser().absolute()
    from platformdirs import user_data_dir

    return Path(user_data_dir("chatcli", appauthor=False))


def project_folder(sessions_dir: Path) -> Path:
    """The project a sessions folder belongs to: the folder holding ``.amazonq/sessions``, else
    the sessions folder itself (one named with ``--sessions-dir``)."""
    if sessions_dir.parts[-2:] == (".amazonq", "sessions"):
        return sessions_dir.parent.parent
    return sessions_dir


def project_label(sessions_dir: Path, home: Path | None = None) -> str:
    """The project folder as shown in tables: under the home folder as ``~/…``."""
    folder = project_folder(sessions_dir)
    try:
        base = home if home is not None else Path.home()
        inside = folder.relative_to(base)
    except (ValueError, RuntimeError):
        return str(folder)
    return "~" if inside == Path() else f"~/{inside}"


def _key(sessions_dir: Path) -> Path:
    """What the registry is keyed by: the real path (a link to the same folder is one project)."""
    return Path(os.path.realpath(sessions_dir))


class KnownProject(NamedTuple):
    """One remembered sessions folder and when chatcli last recorded a write in it."""

    sessions_dir: Path
    last_write: str

    @property
    def label(self) -> str:
        """The project folder, shortened with ``~``."""
        return project_label(self.sessions_dir)


class RegistryRead(NamedTuple):
    """The known projects, and what went wrong reading them (a sentence to show, or None)."""

    projects: list[KnownProject]
    problem: str | None = None


def _parse(data: bytes) -> list[KnownProject]:
    """The projects in a registry file; ``ValueError`` when it is not one."""
    doc = json.loads(data.decode("utf-8"))
    listed = doc.get("projects") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("version") != _VERSION or not isinstance(listed, list):
        raise ValueError("it is not a chatcli project list")
    found: list[KnownProject] = []
    for item in listed:
        if not isinstance(item, dict):
            continue
        path, when = item.get("sessions"), item.get("last_write")
        if isinstance(path, str) and isinstance(when, str) and os.path.isabs(path) and "\x00" not in path:
            found.append(KnownProject(Path(path), when))
    return found[:MAX_PROJECTS]


def _render(projects: Iterable[KnownProject]) -> bytes:
    entries = [{"sessions": str(p.sessions_dir), "last_write": p.last_write} for p in projects]
    return (json.dumps({"version": _VERSION, "projects": entries}, indent=1) + "\n").encode("utf-8")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ChatcliError):
        return exc.user_message().splitlines()[0]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


class ProjectRegistry:
    """The file of known projects in ``folder`` (see the module's docstring). ``folder`` may be a
    function that finds it (:func:`data_dir`), called on first use: a command that never reads
    the registry never loads platformdirs."""

    def __init__(
        self, folder: Path | Callable[[], Path], *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._folder = folder
        self._now = now
        self._lock: FileLock | None = None
        #: Sessions folders this process has already remembered (or failed to): once each.
        self._remembered: set[Path] = set()

    @functools.cached_property
    def folder(self) -> Path:
        """The user data folder that holds the registry."""
        return self._folder if isinstance(self._folder, Path) else self._folder()

    @property
    def path(self) -> Path:
        """The registry file."""
        return self.folder / REGISTRY_NAME

    def _locked(self) -> FileLock:
        if self._lock is None:
            from filelock import FileLock  # imported on first write: reads never need it

            self._lock = FileLock(str(self.folder / LOCK_NAME), timeout=LOCK_TIMEOUT, mode=0o600)
        return self._lock

    def read(self) -> RegistryRead:
        """The known projects, most recently written first. A file that cannot be used is
        reported in :attr:`RegistryRead.problem` (an unreadable or oversized one is also set
        aside, so the next write starts afresh); a missing file is no problem."""
        try:
            return RegistryRead(_parse(read_bytes(self.path, MAX_REGISTRY_BYTES)))
        except FileNotFoundError:
            return RegistryRead([])
        except FileTooLarge:
            return RegistryRead([], self._set_aside(f"it is larger than {MAX_REGISTRY_BYTES // 1024} KB"))
        except OSError as exc:
            return RegistryRead(
                [], f"The list of known projects ({self.path}) could not be read: {_reason(exc)}."
            )
        except ValueError as exc:  # UnicodeDecodeError and json's errors are ValueErrors
            return RegistryRead([], self._set_aside(f"it is not a project list ({_reason(exc)})"))

    def _set_aside(self, why: str) -> str:
        """Move the unusable registry out of the way (kept, never deleted) and say so."""
        aside = self.path.with_name(REGISTRY_NAME + SET_ASIDE_SUFFIX)
        told = f"The list of known projects ({self.path}) could not be used: {why}."
        try:
            with self._locked():
                os.replace(self.path, aside)
        except FileNotFoundError:
            return told
        except OSError as exc:
            return f"{told} Delete it to start afresh ({_reason(exc)} setting it aside)."
        return (
            f"{told} It was set aside as {aside.name} and is rebuilt as chatcli saves sessions "
            "in each project again."
        )

    def remember(self, sessions_dir: Path) -> str | None:
        """Record that a session was written in ``sessions_dir``; what went wrong, if anything
        (a sentence to show once). Once per process per folder, and the file is rewritten only
        when the folder is new to it or was last recorded on another day."""
        key = _key(sessions_dir)
        if key in self._remembered:
            return None
        self._remembered.add(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self._locked():
                found = self.read()
                now = self._now().strftime("%Y-%m-%dT%H:%M:%SZ")
                mine = [p for p in found.projects if p.sessions_dir == key]
                if mine and mine[0].last_write[:10] == now[:10]:
                    return found.problem
                others = [p for p in found.projects if p.sessions_dir != key]
                kept = sorted(others, key=lambda p: p.last_write, reverse=True)[: MAX_PROJECTS - 1]
                data = _render([KnownProject(key, now), *kept])
                replace_file(self.folder, REGISTRY_NAME, data, store_file=False)
                return found.problem
        except (OSError, ChatcliError) as exc:
            return (
                f"chatcli could not remember this project in {self.path} ({_reason(exc)}): "
                "'sessions list --all-projects' in other projects will not show it."
            )

    def forget(self, sessions_dirs: Iterable[Path]) -> str | None:
        """Drop these folders (as :meth:`read` gave them) from the registry; what went wrong, if
        anything."""
        gone = set(sessions_dirs)
        try:
            with self._locked():
                found = self.read()
                kept = [p for p in found.projects if p.sessions_dir not in gone]
                if len(kept) != len(found.projects):
                    replace_file(self.folder, REGISTRY_NAME, _render(kept), store_file=False)
        except (OSError, ChatcliError) as exc:
            return f"chatcli could not update the list of known projects ({self.path}): {_reason(exc)}."
        return None
