"""Shared test helpers: small factories, tree snapshots, and a worker run in child processes.

The worker half (``python -m tests.helpers <command> ...``) is what the multi-process and crash tests
start with :func:`spawn_worker`. It prints one line per acknowledged operation and flushes at once,
so whatever the parent read before a SIGKILL is exactly what the child saw succeed.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatcli.session.models import Message, SessionMetadata, new_session_id
from chatcli.session.store import FileRepository

REPO_ROOT = Path(__file__).resolve().parent.parent


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


def run_as_nobody(fn: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Run ``fn`` in a forked child that dropped to nobody:nogroup; return its JSON-able result.

    Root ignores file permissions, so permission-denied paths are only real for another user.
    """
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
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
