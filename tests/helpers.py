"""Shared test helpers: the one home of everything more than one test module uses.

Factories and seeding (:func:`seed` builds every stored session the tests start from), a
deterministic import corpus, file-system snapshots, the REPL test harness, unprivileged children,
and a worker run in child processes. Test modules import from here and never from each other;
``conftest.py`` files hold only fixtures (``tests/test_layout.py`` keeps it so).

The worker half (``python -m tests.helpers <command> ...``) is what the multi-process and crash tests
start with :func:`spawn_worker`. It prints one line per acknowledged operation and flushes at once,
so whatever the parent read before a SIGKILL is exactly what the child saw succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import io
import itertools
import json
import os
import pwd
import random
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from chatcli.repl.completion.snapshot import Snapshot, SnapshotEntry
from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.repository import SessionRepository
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import INDEX_DIR

if TYPE_CHECKING:
    # Only annotations need these: the worker below runs this module in child processes, which
    # start faster without prompt_toolkit, rich and the REPL.
    from prompt_toolkit.input import PipeInput
    from rich.console import Console

    from chatcli.chat.backend import ChatBackend, ChatMessage, StreamReport, TokenUsage
    from chatcli.repl.app import ChatApp

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Lock timeout for test repositories: long enough for real contention, short enough to fail fast.
TEST_LOCK_TIMEOUT = 2.0

#: A fixed point in time the factories count from (all timestamps are UTC).
BASE = datetime(2025, 1, 1, tzinfo=UTC)

#: Every ``sessions`` subcommand the issues ask for, in the order the README lists them.
SESSION_SUBCOMMANDS = (
    "list",
    "show",
    "name",
    "archive",
    "unarchive",
    "delete",
    "search",
    "export",
    "import",
    "fork",
    "prune",
    "trash",
    "restore",
    "doctor",
    "pin",
    "unpin",
    "tag",
    "untag",
)


# --------------------------------------------------------------------------- factories


def make_meta(
    first_message: str = "hello",
    *,
    session_id: str | None = None,
    name: str | None = None,
    archived: bool = False,
) -> SessionMetadata:
    """A fresh session (canonical UUID id unless given), optionally named and archived."""
    meta = SessionMetadata.new(session_id or new_session_id(), first_message)
    if name is not None:
        meta.set_name(name)
    if archived:
        meta.archive()
    return meta


def user(content: str, msg_id: str | None = None) -> Message:
    """A user message (with a given id when the test needs to find it again)."""
    if msg_id is None:
        return Message(role="user", content=content)
    return Message(role="user", content=content, id=msg_id)


def assistant(content: str) -> Message:
    """An assistant message."""
    return Message(role="assistant", content=content)


def at(minutes: float) -> datetime:
    """:data:`BASE` plus ``minutes``: an easy way to order sessions and messages."""
    return BASE + timedelta(minutes=minutes)


def ago(minutes: float) -> datetime:
    """``minutes`` before now (for what shows an age, like the picker and the completion menu)."""
    return datetime.now(UTC) - timedelta(minutes=minutes)


def numbered(count: int, *, start: datetime = BASE) -> list[Message]:
    """``count`` messages ``"message 0"``, ``"message 1"``, … one second apart, user and assistant
    in turn, each with a recognisable unique id (``m<i>-…``)."""
    return [
        Message(
            role="user" if i % 2 == 0 else "assistant",
            content=f"message {i}",
            timestamp=start + timedelta(seconds=i),
            id=f"m{i}-{new_session_id()[:8]}",
        )
        for i in range(count)
    ]


# --------------------------------------------------------------------------- seeding


def seed(
    repo: SessionRepository,
    first: str = "hello",
    *,
    replies: Sequence[str] = (),
    when: datetime = BASE,
    messages: Sequence[Message] | None = None,
    name: str | None = None,
    archived: bool = False,
    session_id: str | None = None,
) -> SessionMetadata:
    """Create a consistent session through ``repo.create`` and return its metadata.

    The transcript is ``first`` (a user message sent at ``when``) followed by ``replies``
    (assistant messages one second apart), or exactly ``messages`` when given (e.g.
    :func:`numbered`). ``created`` is the first message's time, ``last_active`` the last one's,
    ``first_message`` the first message's text.
    """
    if messages is None:
        messages = [Message(role="user", content=first, timestamp=when)]
        for offset, text in enumerate(replies, start=1):
            sent = when + timedelta(seconds=offset)
            messages.append(Message(role="assistant", content=text, timestamp=sent))
    assert messages, "a seeded session has at least one message"
    meta = SessionMetadata(
        id=session_id or new_session_id(),
        name=name,
        status=SessionStatus.ARCHIVED if archived else SessionStatus.ACTIVE,
        created=messages[0].timestamp,
        last_active=messages[-1].timestamp,
        first_message=messages[0].content,
        message_count=len(messages),
    )
    repo.create(meta, list(messages))
    return meta


# --------------------------------------------------------------------------- an import corpus

#: The vocabulary of the corpus texts.
_VOCABULARY = (
    "session archive resume lock index cache stream token model prompt retry timeout queue worker "
    "terminal markdown render panel history search docker deploy fixture schema vector embedding"
)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def corpus_records(sessions: int, turns: int, *, rng_seed: int = 7) -> list[dict[str, Any]]:
    """A deterministic corpus of ``sessions`` records in the JSON Lines import format.

    Each record: ``id`` (UUID4), ``name`` (every third session, else null), ``status`` (every
    fifth archived), ``created``, ``last_active`` and ``turns`` user/assistant pairs of
    ``messages`` with pseudo-random text and ISO 8601 UTC timestamps (``…Z``).
    """
    assert turns > 0, "every session has at least one exchange"
    rng = random.Random(rng_seed)
    vocabulary = _VOCABULARY.split()

    def text(words: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(words)).capitalize() + "."

    records: list[dict[str, Any]] = []
    for i in range(sessions):
        created = clock = BASE + timedelta(minutes=37 * i + rng.randint(0, 30))
        messages: list[dict[str, str]] = []
        for _ in range(turns):
            for role, words in (("user", rng.randint(8, 40)), ("assistant", rng.randint(20, 120))):
                messages.append({"role": role, "content": text(words), "timestamp": _iso(clock)})
                clock += timedelta(seconds=rng.randint(2, 600))
        records.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "name": f"task-{i}-{rng.choice(vocabulary)}" if i % 3 == 0 else None,
                "status": "archived" if i % 5 == 4 else "active",
                "created": _iso(created),
                "last_active": messages[-1]["timestamp"],
                "messages": messages,
            }
        )
    return records


def write_corpus(path: Path, sessions: int, turns: int) -> list[dict[str, Any]]:
    """Write :func:`corpus_records` to ``path`` as JSON Lines (one session a line); return them."""
    records = corpus_records(sessions, turns)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return records


# --------------------------------------------------------------------------- file-system snapshots


def snapshot(root: Path, *, skip: Path | None = None) -> dict[str, bytes | str]:
    """Everything under ``root`` (not following links): file bytes, ``"<dir>"`` or ``"-> target"``.

    ``skip`` leaves one subtree out (e.g. the sessions folder, whose content is expected to change).
    """
    found: dict[str, bytes | str] = {}
    if not os.path.lexists(root):
        return found
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = here / name
            if skip is not None and path == skip:
                continue
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = f"-> {os.readlink(path)}"
            elif path.is_dir():
                found[rel] = "<dir>"
            elif name.endswith(("-shm", "-wal")):
                continue  # SQLite's transient files: an open connection creates and updates them
            else:
                found[rel] = path.read_bytes()
    return found


def tree(root: Path) -> dict[str, tuple[str, int, str]]:
    """Everything under ``root`` without following links: kind, permission bits, content digest.

    The metadata index (``.index/``) is left out: it is a cache that readers may refresh, and its
    agreement with the files is checked on its own (``index_problems``).
    """
    found: dict[str, tuple[str, int, str]] = {}
    if not os.path.lexists(root):
        return found
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != INDEX_DIR]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            rel = str(path.relative_to(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", mode, "")
            elif stat.S_ISREG(st.st_mode):
                found[rel] = ("file", mode, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[rel] = ("special", mode, "")
    return found


@contextmanager
def confined_writes(allowed: Path) -> Iterator[list[str]]:
    """Refuse (``PermissionError``) and record any attempt to create, change or remove a path outside
    ``allowed`` while the block runs.

    A safety net for tests that feed hostile paths to the store: if path validation ever regresses,
    the test fails instead of littering the real file system (tests run as root in CI). Yields the
    list of refused operations, which the test asserts is empty.
    """
    base = os.path.abspath(allowed)
    refused: list[str] = []

    def check(path: str | bytes | os.PathLike[str] | int, op: str) -> None:
        if isinstance(path, int):
            return
        where = os.path.abspath(os.fsdecode(path))
        if where != base and not where.startswith(base + os.sep):
            refused.append(f"{op} {where}")
            raise PermissionError(errno.EPERM, f"test jail: {op} outside {base}", where)

    def one(name: str) -> Callable[..., Any]:
        real = getattr(os, name)

        def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("dir_fd") is None:
                check(path, name)
            return real(path, *args, **kwargs)

        return guarded

    def two(name: str) -> Callable[..., Any]:
        real = getattr(os, name)

        def guarded(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("src_dir_fd") is None:
                check(src, name)
            if kwargs.get("dst_dir_fd") is None:
                check(dst, name)
            return real(src, dst, *args, **kwargs)

        return guarded

    real_open = os.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guarded_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if dir_fd is None and flags & writing:
            check(path, "open")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    real_rmtree = shutil.rmtree

    def guarded_rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        check(path, "rmtree")
        real_rmtree(path, *args, **kwargs)

    replacements: dict[str, Callable[..., Any]] = {
        "open": guarded_open,
        **{name: one(name) for name in ("mkdir", "rmdir", "unlink", "remove", "chmod", "truncate")},
        **{name: two(name) for name in ("rename", "replace", "link", "symlink")},
    }
    saved = {name: getattr(os, name) for name in replacements}
    try:
        for name, fn in replacements.items():
            setattr(os, name, fn)
        shutil.rmtree = guarded_rmtree  # type: ignore[assignment]
        yield refused
    finally:
        for name, fn in saved.items():
            setattr(os, name, fn)
        shutil.rmtree = real_rmtree


def transcript_lines(repo: FileRepository, session_id: str) -> list[bytes]:
    """The raw lines of a session's ``conversation.jsonl`` (newline-terminated lines only)."""
    data = (repo.root / session_id / "conversation.jsonl").read_bytes()
    return data.split(b"\n")[:-1]


# --------------------------------------------------------------------------- the REPL harness


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


# --------------------------------------------------------------------------- child processes


def spawn_worker(*args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """Start ``python -m tests.helpers <args>`` with this checkout importable and the current env."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers", *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


class LineReader:
    """Reads a child's stdout line by line with a deadline (never blocks past it)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buffer = b""
        self.lines: list[str] = []
        self.eof = False

    def _pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.eof = True
            return
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\n")
        self.lines.extend(line.decode() for line in complete)

    def wait_for(self, count: int, timeout: float) -> list[str]:
        """Block until at least ``count`` complete lines were read; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                err = self.proc.stderr.read().decode() if self.eof and self.proc.stderr else ""
                raise AssertionError(f"worker gave {len(self.lines)}/{count} lines: {self.lines[-5:]} {err}")
            self._pump(left)
        return self.lines

    def finish(self, timeout: float = 20.0) -> tuple[list[str], str]:
        """Wait for the child to end; return every complete stdout line and its stderr."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError(f"worker did not finish in {timeout}s; last lines {self.lines[-5:]}")
            self._pump(left)
        self.proc.wait(max(deadline - time.monotonic(), 1.0))
        err = self.proc.stderr.read().decode() if self.proc.stderr else ""
        self.close()
        return self.lines, err

    def close(self) -> None:
        """Close the pipes to the child (kill it first if it is still running)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


# --------------------------------------------------------------------------- worker entry point


def _bump(key: str) -> Callable[[SessionMetadata], None]:
    def change(meta: SessionMetadata) -> None:
        meta.custom_fields[key] = int(meta.custom_fields.get(key, 0)) + 1

    return change


def _armed(method: Callable[..., Any], step: int) -> Callable[..., Any]:
    """``method``, which first arms :func:`_kill_at` (so only the calls it makes are counted)."""

    def arming(*args: Any, **kwargs: Any) -> Any:
        _kill_at(step, ("fsync", "mkdir", "rename", "replace", "unlink", "rmdir", "write"))
        return method(*args, **kwargs)

    return arming


def _kill_at(step: int, names: Sequence[str], also: Sequence[tuple[Any, str]] = ()) -> None:
    """From now on, the ``step``-th call of any of the ``os`` functions ``names`` (or of the
    functions ``also`` names: (module, name) pairs) kills this process with SIGKILL before it
    happens (a crash at exactly that point)."""
    calls = [0]

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def killing(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] == step:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return killing

    for owner, name in [*((os, name) for name in names), *also]:
        setattr(owner, name, wrap(getattr(owner, name)))


def _worker(argv: Sequence[str]) -> int:
    command, root, session_id, *rest = argv
    repo = FileRepository(Path(root), lock_timeout=30.0)
    if command == "append":
        # append ROOT ID TAG COUNT: wait for "go" on stdin, then append COUNT messages, acking each.
        tag, count = rest[0], int(rest[1])
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(count):
            msg_id = f"{tag}-{i}"
            repo.append_message(session_id, user(f"{tag} says {i}", msg_id))
            print(msg_id, flush=True)
        return 0
    if command == "bump":
        # bump ROOT ID KEY COUNT: wait for "go", then COUNT read-modify-write increments (+ archive toggles).
        key, count = rest[0], int(rest[1])
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(count):
            repo.update(session_id, _bump("n"))
            repo.update(session_id, _bump(key))
            repo.update(session_id, (lambda m: m.archive()) if i % 2 else (lambda m: m.unarchive()))
            print(f"{key}-{i}", flush=True)
        return 0
    if command == "crash-loop":
        # crash-loop ROOT ID TAG: append forever (with an update every 3rd message) until killed.
        tag = rest[0]
        print("ready", flush=True)
        i = 0
        while True:
            msg_id = f"{tag}-{i}"
            repo.append_message(session_id, user(f"{tag} says {i} " + "x" * (i % 7) * 100, msg_id))
            print(msg_id, flush=True)
            if i % 3 == 2:
                repo.update(session_id, _bump("n"))
            i += 1
    if command == "trash-kill":
        # trash-kill ROOT TARGET trash|restore STEP: SIGKILL itself at the STEP-th call that
        # changes the disk (fsync, mkdir, rename, replace, unlink, rmdir) while trashing the
        # session TARGET or restoring the trash entry TARGET; "done" if it ran through.
        operation, step = rest[0], int(rest[1])
        print("ready", flush=True)
        moves = repo.trash_bin
        for method in ("move_in", "move_out"):  # counting starts where the trash's own steps do
            setattr(moves, method, _armed(getattr(moves, method), step))
        if operation == "trash":
            repo.trash(session_id, "deleted")
        else:
            repo.restore(session_id)
        print("done", flush=True)
        return 0
    if command == "import-kill":
        # import-kill ROOT FILE STEP: import FILE (8 sessions a batch), SIGKILLed at the STEP-th
        # call that changes the disk (a flush of the whole file system included); "done" if it
        # ran through.
        from chatcli.session import transfer
        from chatcli.session.store import durable

        transfer.BATCH = 8
        print("ready", flush=True)
        _kill_at(
            int(rest[0]),
            ("fsync", "mkdir", "rename", "replace", "unlink", "rmdir", "write"),
            also=[(durable, "sync_filesystem")],
        )
        transfer.import_sessions(repo, Path(session_id))
        print("done", flush=True)
        return 0
    if command == "hold":
        # hold ROOT ID: take the session lock, say "locked", keep it until stdin closes.
        with repo.session_lock(session_id):
            print("locked", flush=True)
            sys.stdin.read()
        return 0
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))


# --------------------------------------------------------------------------- privileges


#: Whether the tests run as root (as in CI). Root ignores file permissions, so the permission
#: tests then act as "nobody" (or as root without its file powers); as any other user, the user
#: itself is already the unprivileged side.
AS_ROOT = os.geteuid() == 0


def unprivileged_ids() -> tuple[int, int]:
    """The (uid, gid) of :func:`run_unprivileged`'s children: nobody:nogroup as root, else ours."""
    if AS_ROOT:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid
    return os.getuid(), os.getgid()


@contextmanager
def locked_out(folder: Path) -> Iterator[None]:
    """While the block runs, ``folder`` is closed to the unprivileged side, as another user's
    0700 folder is.

    As root nothing needs to change: a folder root owns (or gave away) is already someone else's
    to nobody (or to root without its file powers). As any other user, the folder's permission
    bits are cleared for the block and restored after it.
    """
    if AS_ROOT:
        yield
        return
    mode = stat.S_IMODE(folder.stat().st_mode)
    folder.chmod(0)
    try:
        yield
    finally:
        folder.chmod(mode)


def run_unprivileged(fn: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Run ``fn`` in a forked child without root's powers; return its JSON-able result.

    As root the child drops to nobody:nogroup (root ignores file permissions, so permission-denied
    paths are only real for another user); as any other user it keeps the user's identity.
    """
    uid, gid = unprivileged_ids()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            if AS_ROOT:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            payload = json.dumps(fn()).encode()
            while payload:
                payload = payload[os.write(write_end, payload) :]
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([read_end], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError("the unprivileged child did not answer in time")
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged child failed"
    return json.loads(data)


#: Raw control characters that must never reach the terminal from untrusted text.
RAW_CONTROLS = ("\x1b", "\x07", "\x00", "\x9b")


@dataclass(frozen=True)
class Run:
    """One finished ``chatcli`` process."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str


def chatcli(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> Run:
    """``python -m chatcli ARGS…`` without a terminal (stdin /dev/null unless ``stdin`` bytes are
    given, output piped, NO_COLOR); a hang fails the test (timeout), and so do a traceback,
    "Unexpected error" or a raw control."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    full_env.update(NO_COLOR="1", COLUMNS="250")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    run = Run(tuple(args), proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    text = run.out + run.err
    assert "Traceback" not in text and "Unexpected error" not in text, run
    for ch in RAW_CONTROLS:
        assert ch not in text, (ch, run)
    return run


# --------------------------------------------------------------------------- llmock (a real server)

#: llmock's command, installed from PyPI with the ``test`` extra next to this interpreter.
LLMOCK = Path(sys.executable).with_name("llmock")


@dataclass
class Llmock:
    """A running llmock server: queue behaviours (faults, scripted replies), read what it received."""

    url: str

    def call(self, method: str, path: str, payload: object | None = None) -> Any:
        """One admin API call; the decoded JSON answer."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def queue(self, *behaviors: dict[str, Any]) -> None:
        """Queue ``behaviors`` (``{"type": "fail", "status": 401, "times": 1}`` …) for the next requests."""
        self.call("POST", "/_llmock/scenario", {"behaviors": list(behaviors)})

    def bodies(self) -> list[list[tuple[str, str]]]:
        """(role, content) of the messages of every chat request received, oldest first."""
        return [[(m["role"], m["content"]) for m in body["messages"]] for body in self.raw_bodies()]

    def raw_bodies(self) -> list[dict[str, Any]]:
        """The JSON body of every chat request received, oldest first."""
        records = self.call("GET", "/_llmock/requests")["requests"]
        return [r["body"] for r in records if r["path"].endswith("/chat/completions")]

    def usage_for(self, body: dict[str, Any]) -> dict[str, int]:
        """The usage llmock reports in its stream for ``body`` (sent again, as chatcli sent it)."""
        request = urllib.request.Request(
            self.url + "/v1/chat/completions",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            lines = response.read().decode().splitlines()
        chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
        usage: dict[str, int] = chunks[-1]["usage"]
        return usage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_llmock(workdir: Path) -> Iterator[Llmock]:
    """Start llmock on a free port of 127.0.0.1 (its log in ``workdir/llmock.log``), stop it after.

    The caller drops any proxy variables first (the clients must reach 127.0.0.1 directly).
    """
    port = _free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    command = [str(LLMOCK), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with (workdir / "llmock.log").open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    server = Llmock(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.call("GET", "/health")
                break
            except OSError:
                assert process.poll() is None, (workdir / "llmock.log").read_text()
                assert time.monotonic() < deadline, "llmock did not start"
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(10)


def assert_well_formed(messages: list[tuple[str, str]]) -> None:
    """A request's messages alternate user/assistant from a user message, none of them empty."""
    roles = [role for role, _ in messages]
    assert roles and roles[0] == "user", messages
    assert all(a != b for a, b in itertools.pairwise(roles)), messages
    assert all(content.strip() for _, content in messages), messages


# --------------------------------------------------------------------------- imports from other tools


def assert_imports_through_the_binary(tool: str, source: Path, work: Path) -> None:
    """``chatcli sessions import --from TOOL SOURCE --all-projects`` imports at least one session
    (shown by ``sessions show``), leaves ``source`` byte for byte as it was, and a second run
    changes nothing."""
    import hashlib

    before = hashlib.sha256(source.read_bytes()).hexdigest()
    args = ["sessions", "import", "--from", tool, str(source), "--all-projects", "--json"]
    run = chatcli(args, cwd=work)
    assert run.code in (0, 1) and "Traceback" not in run.err, run
    imported = [s for s in json.loads(run.out)["sessions"] if s["action"] == "imported"]
    assert imported, run.out
    shown = chatcli(["sessions", "show", imported[0]["session_id"]], cwd=work)
    assert shown.code == 0, shown
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    again = chatcli(args, cwd=work)
    assert {s["action"] for s in json.loads(again.out)["sessions"]} == {"unchanged"}, again
