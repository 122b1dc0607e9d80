"""Measurements made in this process (``import chatcli``): completion per keystroke, appends and
resume (load + render)."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from benchkit.common import APPEND_WARMUP, COMPLETION_TARGETS, BenchError
from benchkit.results import Stats

if TYPE_CHECKING:
    from chatcli.repl.completion.snapshot import SnapshotEntry

#: A text typed at the prompt, and whether the keystroke that made it was in a session argument.
Keystroke = tuple[str, bool]


def _keystrokes(entries: Sequence[SnapshotEntry], rng: random.Random) -> list[Keystroke]:
    """``/sessions show `` then 8 characters of an id, for sessions spread over the list, and
    then whole names of shuffled named sessions, a character at a time."""
    step = max(1, len(entries) // COMPLETION_TARGETS)
    targets = list(entries[::step][:COMPLETION_TARGETS])
    named = [e for e in entries if e.name]
    rng.shuffle(named)
    head = "/sessions show "
    typed: list[Keystroke] = []
    for entry in targets:
        typed += [(head[:k], False) for k in range(1, len(head) + 1)]
        typed += [(head + entry.id[:k], True) for k in range(1, 9)]
    for entry in named[:COMPLETION_TARGETS]:
        assert entry.name is not None
        typed += [(head + entry.name[:k], True) for k in range(1, len(entry.name) + 1)]
    return typed


def measure_completion(store: Path, rng: random.Random) -> tuple[Stats, Stats, float, float]:
    """Keystrokes of ``/sessions show <id prefix>`` and ``… <name prefix>`` through the completer.

    As in the REPL, the snapshot is refreshed and then its search structure built (both on the
    REPL's background thread) before any keystroke. Returns (every keystroke, session-argument
    keystrokes only, snapshot build ms, search structure build ms).
    """
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from chatcli.commands.catalog import build_registry
    from chatcli.repl.completion.completer import SessionCompleter
    from chatcli.repl.completion.ranking import warm_session_index
    from chatcli.repl.completion.snapshot import SnapshotCache
    from chatcli.session.service import SessionService
    from chatcli.session.store import FileRepository

    snapshots = SnapshotCache(SessionService(FileRepository(store)))
    start = time.perf_counter()
    snapshot = snapshots.refresh(force=True)
    snapshot_ms = (time.perf_counter() - start) * 1000.0
    start = time.perf_counter()
    warm_session_index(snapshot)
    index_ms = (time.perf_counter() - start) * 1000.0
    completer = SessionCompleter(build_registry(), snapshots.current)
    if not snapshot.entries:
        raise BenchError(f"the snapshot of {store} is empty")
    typed = _keystrokes(snapshot.entries, rng)
    event = CompleteEvent(text_inserted=True)
    every: list[float] = []
    argument: list[float] = []
    for text, _ in typed[:50]:  # warm-up
        list(completer.get_completions(Document(text, len(text)), event))
    for text, is_argument in typed:
        doc = Document(text, len(text))
        start = time.perf_counter()
        list(completer.get_completions(doc, event))
        ms = (time.perf_counter() - start) * 1000.0
        every.append(ms)
        if is_argument:
            argument.append(ms)
    return Stats(tuple(every)), Stats(tuple(argument)), snapshot_ms, index_ms


def measure_append(store: Path, session_id: str, appends: int) -> Stats:
    """``FileRepository.append_message`` on one session, ``appends`` times (after a warm-up)."""
    from chatcli.session.models import Message
    from chatcli.session.store import FileRepository

    repo = FileRepository(store)
    rng = random.Random(11)
    words = ("append", "benchmark", "message", "durable", "fsync", "session", "metadata", "atomic")
    times: list[float] = []
    for i in range(APPEND_WARMUP + appends):
        content = " ".join(rng.choice(words) for _ in range(rng.randint(20, 60)))
        message = Message(role="user" if i % 2 == 0 else "assistant", content=content)
        start = time.perf_counter()
        repo.append_message(session_id, message)
        if i >= APPEND_WARMUP:
            times.append((time.perf_counter() - start) * 1000.0)
    return Stats(tuple(times))


def measure_resume_inprocess(store: Path, session_id: str, runs: int) -> Stats:
    """``SessionService.load`` plus ``render_resumed`` into an in-memory terminal console."""
    from chatcli.render.console import make_console
    from chatcli.render.transcript import render_resumed
    from chatcli.session.service import SessionService
    from chatcli.session.store import FileRepository

    service = SessionService(FileRepository(store))
    env = {"TERM": "xterm-256color", "COLUMNS": "100"}
    times: list[float] = []
    for i in range(runs + 1):
        console = make_console(file=io.StringIO(), force_plain=False, env=env)
        start = time.perf_counter()
        loaded = service.load(session_id)
        render_resumed(loaded, console)
        if i > 0:
            times.append((time.perf_counter() - start) * 1000.0)
    return Stats(tuple(times))
