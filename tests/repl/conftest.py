"""Fixtures for the REPL tests: a ChatApp wired to a pipe input, a dummy output and a text console.

The loop runs in-process with prompt_toolkit's ``create_pipe_input()``: keys sent to the pipe are
typed into the prompt (``\\r`` is Enter, ``\\x04`` Ctrl-D, ``\\x03`` Ctrl-C, ``\\x1b\\r`` Esc+Enter).
:meth:`Repl.run` sends everything up front; :meth:`Repl.drive` runs the loop as a task while a
scenario types step by step and waits for the app's state in between. Every run is bounded by a
timeout, so a loop that hangs fails the test instead of blocking the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatcli.chat.backend import ChatBackend, ChatMessage
from chatcli.chat.offline import OfflineBackend
from chatcli.repl.app import ChatApp
from chatcli.repl.completion.snapshot import Snapshot, SnapshotEntry
from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository

#: Upper bound for one REPL run in a test (seconds).
RUN_TIMEOUT = 10.0

#: A fixed point in time for seeded sessions and snapshot entries.
BASE = datetime(2025, 1, 1, tzinfo=UTC)

CTRL_C = "\x03"
CTRL_D = "\x04"
ENTER = "\r"
ESC_ENTER = "\x1b\r"


async def until(condition: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Wait (yielding to the loop) until ``condition()`` is true; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(0.01)


@dataclass
class Repl:
    """One ChatApp under test and everything around it."""

    app: ChatApp
    service: SessionService
    repo: FileRepository
    root: Path
    pipe: PipeInput
    out: io.StringIO

    @property
    def output(self) -> str:
        """Everything printed on the console so far."""
        return self.out.getvalue()

    def type(self, *keys: str) -> None:
        """Send keys to the prompt."""
        for text in keys:
            self.pipe.send_text(text)

    def run(self, *keys: str, timeout: float = RUN_TIMEOUT) -> int:
        """Type ``keys`` then Ctrl-D, run the loop to its end and return its exit code."""
        self.type(*keys, CTRL_D)
        return asyncio.run(asyncio.wait_for(self.app.run(), timeout))

    def drive(self, scenario: Callable[[Repl], Awaitable[None]], timeout: float = RUN_TIMEOUT) -> int:
        """Run the loop as a task while ``scenario`` types and checks; then Ctrl-D ends it.

        A loop that ends (or crashes) before the scenario is done fails the test at once.
        """

        async def main() -> int:
            loop_task = asyncio.ensure_future(self.app.run())
            steps = asyncio.ensure_future(asyncio.wait_for(scenario(self), timeout))
            try:
                await asyncio.wait({loop_task, steps}, return_when=asyncio.FIRST_COMPLETED)
                if not steps.done():
                    loop_task.result()  # re-raises a crash of the loop
                    raise AssertionError(f"the REPL loop ended early; output:\n{self.output}")
                steps.result()
                self.type(CTRL_D)
                return await asyncio.wait_for(loop_task, timeout)
            finally:
                for task in (steps, loop_task):
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task

        return asyncio.run(main())

    def session_dirs(self) -> list[Path]:
        """The session folders on disk (hidden folders excluded)."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def lines(self, session_id: str) -> list[dict[str, Any]]:
        """The parsed lines of a session's ``conversation.jsonl``."""
        raw = (self.root / session_id / "conversation.jsonl").read_bytes()
        assert raw.endswith(b"\n"), raw[-80:]
        return [json.loads(line) for line in raw.splitlines()]


class MakeRepl(Protocol):
    """The ``make_repl`` fixture: build a Repl, optionally with another backend."""

    def __call__(self, backend: ChatBackend | None = None, *, console: Console | None = None) -> Repl: ...


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


# --------------------------------------------------------------------------- test backends


@dataclass
class ScriptedBackend:
    """A backend that streams ``chunks`` with ``delay`` seconds between them.

    ``after_chunk(i)`` runs right after chunk ``i`` was yielded (e.g. to cancel the reply);
    ``fail_with`` is raised after the chunks; ``closed`` counts streams closed by the consumer.
    """

    chunks: Sequence[str] = ("one ", "two ", "three ", "four")
    delay: float = 0.01
    after_chunk: Callable[[int], object] | None = None
    fail_with: BaseException | None = None
    name: str = "scripted"
    model: str = "test-model"
    seen: list[list[ChatMessage]] = field(default_factory=list)
    closed: int = 0

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """Yield the chunks (then raise ``fail_with``, if set)."""
        self.seen.append(list(messages))
        try:
            for index, chunk in enumerate(self.chunks):
                yield chunk
                if self.after_chunk is not None:
                    self.after_chunk(index)
                await asyncio.sleep(self.delay)
            if self.fail_with is not None:
                raise self.fail_with
        finally:
            self.closed += 1


# --------------------------------------------------------------------------- seeding


def seed(
    repo: FileRepository,
    first: str = "hello",
    *,
    reply: str | None = "hi there",
    name: str | None = None,
    archived: bool = False,
    minutes_ago: float = 60.0,
    session_id: str | None = None,
    now: datetime | None = None,
) -> SessionMetadata:
    """Create a session through the repository: ``first`` (and ``reply``) at a chosen age."""
    when = (now or datetime.now(UTC)) - timedelta(minutes=minutes_ago)
    messages = [Message(role="user", content=first, timestamp=when)]
    if reply is not None:
        messages.append(Message(role="assistant", content=reply, timestamp=when + timedelta(seconds=1)))
    meta = SessionMetadata(
        id=session_id or new_session_id(),
        name=name,
        status=SessionStatus.ARCHIVED if archived else SessionStatus.ACTIVE,
        created=when,
        last_active=messages[-1].timestamp,
        first_message=first,
        message_count=len(messages),
    )
    repo.create(meta, messages)
    return meta


def entry(
    session_id: str,
    name: str | None = None,
    first: str = "",
    *,
    minutes_ago: float = 0.0,
    archived: bool = False,
    count: int = 2,
    now: datetime = BASE,
) -> SnapshotEntry:
    """A snapshot entry last active ``minutes_ago`` before ``now`` (default :data:`BASE`)."""
    return SnapshotEntry(
        session_id,
        name,
        first,
        now - timedelta(minutes=minutes_ago),
        SessionStatus.ARCHIVED if archived else SessionStatus.ACTIVE,
        count,
    )


def snapshot_of(entries: Sequence[SnapshotEntry]) -> Snapshot:
    """A snapshot holding ``entries`` newest first (as the service orders them)."""
    ordered = sorted(entries, key=lambda e: (e.last_active, e.id), reverse=True)
    return Snapshot(tuple(ordered), (1,), BASE)
