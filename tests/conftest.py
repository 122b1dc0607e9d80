"""Shared fixtures: every test runs with its own HOME, XDG folders and no sessions-dir override."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chatcli.session.location import ENV_SESSIONS_DIR
from chatcli.session.store import FileRepository
from tests.helpers import TEST_LOCK_TIMEOUT
from tests.helpers.sessions_cli import Cli, Run, plain_env, run_chatcli


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point HOME and the XDG base folders into ``tmp_path`` and drop ``$CHATCLI_SESSIONS_DIR``.

    Child processes started by a test inherit this environment, so nothing touches the real home.
    Yields the fake home folder.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv(ENV_SESSIONS_DIR, raising=False)
    # The terminal of whoever runs the tests (CI has TERM=dumb) must not change what renders.
    for var in (
        "NO_COLOR",
        "FORCE_COLOR",
        "COLUMNS",
        "LINES",
        "COLORTERM",
        "CHATCLI_CONFIG",
        "CHATCLI_LOG_DIR",
        "CHATCLI_DATA_DIR",
        # what says whether the terminal shows OSC 8 links (chatcli.render.links)
        "FORCE_HYPERLINK",
        "TERM_PROGRAM",
        "VTE_VERSION",
        "TMUX",
        "STY",
        "KITTY_WINDOW_ID",
        "WT_SESSION",
    ):
        monkeypatch.delenv(var, raising=False)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHATCLI_MODEL", "CHATCLI_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    yield home


@pytest.fixture
def sessions_dir(tmp_path: Path) -> Path:
    """Where the ``repo`` fixture keeps its sessions (not created until the first write)."""
    return tmp_path / "sessions"


@pytest.fixture
def repo(sessions_dir: Path) -> FileRepository:
    """A FileRepository on ``tmp_path/'sessions'`` with a short lock timeout."""
    return FileRepository(sessions_dir, lock_timeout=TEST_LOCK_TIMEOUT)


@pytest.fixture
def cli(tmp_path: Path, sessions_dir: Path) -> Cli:
    """Run ``chatcli sessions ARGS…`` on the test's sessions folder (``folder=None`` for none)."""
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str, folder: Path | None = sessions_dir, env: Mapping[str, str] | None = None) -> Run:
        where = ["--sessions-dir", str(folder)] if folder is not None else []
        return run_chatcli(["sessions", *where, *args], plain_env(env), work)

    return run


@pytest.fixture
def cli_many(tmp_path: Path, sessions_dir: Path) -> Callable[[Sequence[Sequence[str]]], list[Run]]:
    """Run several independent ``chatcli sessions …`` calls in parallel (same folder, same env)."""
    work = tmp_path / "work-many"
    work.mkdir()

    def run_all(calls: Sequence[Sequence[str]], env: Mapping[str, str] | None = None) -> list[Run]:
        full_env = plain_env(env)
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [
                pool.submit(
                    run_chatcli, ["sessions", "--sessions-dir", str(sessions_dir), *c], full_env, work
                )
                for c in calls
            ]
            return [f.result() for f in futures]

    return run_all
