"""Fixtures for the end-to-end tests: ``spawn`` starts the real binary in a pseudo-terminal
(the root conftest's ``sessions_dir`` is where its sessions go)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.helpers.pty import CHATCLI, TIMEOUT, Spawn


@pytest.fixture
def spawn(tmp_path: Path, sessions_dir: Path) -> Iterator[Spawn]:
    """Start ``chatcli ARGS`` in a 40x120 terminal (or ``size=(rows, columns)``) with sessions,
    home and logs under tmp_path."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_")) and k != "NO_COLOR"
    }
    env.update(
        CHATCLI_SESSIONS_DIR=str(sessions_dir),
        CHATCLI_LOG_DIR=str(tmp_path / "logs"),
        TERM="xterm-256color",
        PYTHONUNBUFFERED="1",
        # pexpect is no terminal emulator: nobody answers prompt_toolkit's cursor position
        # request, which would cost a one-second wait each time a prompt closes.
        PROMPT_TOOLKIT_NO_CPR="1",
    )
    children: list[pexpect.spawn] = []

    def start(*args: str, size: tuple[int, int] = (40, 120), cpr: bool = False) -> pexpect.spawn:
        """``cpr``: the test answers prompt_toolkit's cursor position requests (a :class:`Terminal`
        does), so the bottom bar is drawn at the bottom of the window as in a real terminal."""
        child = pexpect.spawn(
            CHATCLI[0],
            [*CHATCLI[1:], "--backend", "offline", *args],
            env={k: v for k, v in env.items() if not (cpr and k == "PROMPT_TOOLKIT_NO_CPR")},
            cwd=str(tmp_path),
            dimensions=size,
            encoding="utf-8",
            timeout=TIMEOUT,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.isalive():
            child.close(force=True)
        elif not child.closed:
            child.close()
