"""Fixtures for the REPL tests: a ChatApp wired to a pipe input, a dummy output and a text console.

The harness itself (:class:`~tests.helpers.Repl`, keys, :func:`~tests.helpers.until`, scripted
backends) lives in ``tests/helpers/``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatcli.chat.backend import ChatBackend
from chatcli.chat.offline import OfflineBackend
from chatcli.repl.app import ChatApp
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import MakeRepl, Repl


@pytest.fixture
def sessions_root(tmp_path: Path) -> Path:
    """Where the REPL under test stores its sessions (created on the first message)."""
    return tmp_path / "sessions"


@pytest.fixture
def make_repl(sessions_root: Path) -> Iterator[MakeRepl]:
    """A factory of :class:`Repl` objects; their pipes are closed at the end of the test."""
    with ExitStack() as stack:

        def make(backend: ChatBackend | None = None, *, console: Console | None = None) -> Repl:
            pipe = stack.enter_context(create_pipe_input())
            out = io.StringIO()
            if console is None:
                console = Console(file=out, width=100)
            else:
                console.file = out
            repo = FileRepository(sessions_root, lock_timeout=2.0)
            service = SessionService(repo)
            app = ChatApp(service, backend or OfflineBackend(), console, input=pipe, output=DummyOutput())
            return Repl(app, service, repo, sessions_root, pipe, out)

        yield make


@pytest.fixture
def repl(make_repl: MakeRepl) -> Repl:
    """A Repl on the offline backend."""
    return make_repl()
