"""The REPL test harness: a ChatApp driven through a pipe, scripted backends, completion snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from chatcli.repl.completion.snapshot import Snapshot, SnapshotEntry
from chatcli.session.models import SessionStatus
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers.factories import BASE

if TYPE_CHECKING:
    # Only annotations need these: the worker (``python -m tests.helpers``) imports this module in
    # child processes, which start faster without prompt_toolkit, rich and the REPL.
    from prompt_toolkit.input import PipeInput
    from rich.console import Console

    from chatcli.chat.backend import ChatBackend, ChatMessage, StreamReport, TokenUsage
    from chatcli.repl.app import ChatApp


#: Upper bound for one REPL run in a test (seconds).
RUN_TIMEOUT = 10.0

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
    usage: TokenUsage | None = None

    async def stream(
        self, messages: Sequence[ChatMessage], report: StreamReport | None = None
    ) -> AsyncIterator[str]:
        """Yield the chunks (then raise ``fail_with``, if set); ``usage``, when set, is reported
        once every chunk was sent (as a server's last chunk would)."""
        self.seen.append(list(messages))
        try:
            for index, chunk in enumerate(self.chunks):
                yield chunk
                if self.after_chunk is not None:
                    self.after_chunk(index)
                await asyncio.sleep(self.delay)
            if self.fail_with is not None:
                raise self.fail_with
            if report is not None and self.usage is not None:
                report.usage = self.usage
        finally:
            self.closed += 1


def entry(
    session_id: str,
    name: str | None = None,
    first: str = "",
    *,
    minutes_ago: float = 0.0,
    archived: bool = False,
    count: int = 2,
    now: datetime = BASE,
    pinned: bool = False,
    tags: tuple[str, ...] = (),
) -> SnapshotEntry:
    """A snapshot entry last active ``minutes_ago`` before ``now`` (default :data:`BASE`)."""
    return SnapshotEntry(
        session_id,
        name,
        first,
        now - timedelta(minutes=minutes_ago),
        SessionStatus.ARCHIVED if archived else SessionStatus.ACTIVE,
        count,
        pinned,
        tags,
    )


def snapshot_of(entries: Sequence[SnapshotEntry]) -> Snapshot:
    """A snapshot holding ``entries`` newest first (as the service orders them)."""
    ordered = sorted(entries, key=lambda e: (e.last_active, e.id), reverse=True)
    return Snapshot(tuple(ordered), (1,), BASE)


def only_session(r: Repl) -> str:
    """The id of the one session on disk (fails if there is not exactly one)."""
    dirs = r.session_dirs()
    assert len(dirs) == 1, dirs
    return dirs[0].name


def contents(r: Repl, session_id: str) -> list[tuple[str, str]]:
    """(role, content) of every saved message of a session."""
    return [(line["role"], line["content"]) for line in r.lines(session_id)]


def toolbar(r: Repl) -> str:
    """The bottom toolbar's text."""
    return "".join(text for _, text, *_ in r.app._toolbar())
