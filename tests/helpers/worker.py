"""The worker run in child processes (``python -m tests.helpers <command> ...``).

The multi-process and crash tests start it with :func:`tests.helpers.spawn_worker`. It prints one
line per acknowledged operation and flushes at once, so whatever the parent read before a SIGKILL
is exactly what the child saw succeed."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from tests.helpers.factories import user


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


def _append(repo: FileRepository, session_id: str, tag: str, count: str) -> int:
    """append ROOT ID TAG COUNT: wait for "go" on stdin, then append COUNT messages, acking each."""
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(int(count)):
        msg_id = f"{tag}-{i}"
        repo.append_message(session_id, user(f"{tag} says {i}", msg_id))
        print(msg_id, flush=True)
    return 0


def _bump_many(repo: FileRepository, session_id: str, key: str, count: str) -> int:
    """bump ROOT ID KEY COUNT: wait for "go", then COUNT read-modify-write increments (+ archive toggles)."""
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(int(count)):
        repo.update(session_id, _bump("n"))
        repo.update(session_id, _bump(key))
        repo.update(session_id, (lambda m: m.archive()) if i % 2 else (lambda m: m.unarchive()))
        print(f"{key}-{i}", flush=True)
    return 0


def _crash_loop(repo: FileRepository, session_id: str, tag: str) -> int:
    """crash-loop ROOT ID TAG: append forever (with an update every 3rd message) until killed."""
    print("ready", flush=True)
    i = 0
    while True:
        msg_id = f"{tag}-{i}"
        repo.append_message(session_id, user(f"{tag} says {i} " + "x" * (i % 7) * 100, msg_id))
        print(msg_id, flush=True)
        if i % 3 == 2:
            repo.update(session_id, _bump("n"))
        i += 1


def _trash_kill(repo: FileRepository, target: str, operation: str, step: str) -> int:
    """trash-kill ROOT TARGET trash|restore STEP: SIGKILL itself at the STEP-th call that
    changes the disk (fsync, mkdir, rename, replace, unlink, rmdir) while trashing the
    session TARGET or restoring the trash entry TARGET; "done" if it ran through."""
    print("ready", flush=True)
    moves = repo.trash_bin
    for method in ("move_in", "move_out"):  # counting starts where the trash's own steps do
        setattr(moves, method, _armed(getattr(moves, method), int(step)))
    if operation == "trash":
        repo.trash(target, "deleted")
    else:
        repo.restore(target)
    print("done", flush=True)
    return 0


def _import_kill(repo: FileRepository, source: str, step: str) -> int:
    """import-kill ROOT FILE STEP: import FILE (8 sessions a batch), SIGKILLed at the STEP-th
    call that changes the disk (a flush of the whole file system included); "done" if it
    ran through."""
    from chatcli.session import transfer
    from chatcli.session.store import durable

    transfer.BATCH = 8
    print("ready", flush=True)
    _kill_at(
        int(step),
        ("fsync", "mkdir", "rename", "replace", "unlink", "rmdir", "write"),
        also=[(durable, "sync_filesystem")],
    )
    transfer.import_sessions(repo, Path(source))
    print("done", flush=True)
    return 0


def _hold(repo: FileRepository, session_id: str) -> int:
    """hold ROOT ID: take the session lock, say "locked", keep it until stdin closes."""
    with repo.session_lock(session_id):
        print("locked", flush=True)
        sys.stdin.read()
    return 0


#: The worker's commands: each takes the repository of ROOT and the arguments after it.
COMMANDS: dict[str, Callable[..., int]] = {
    "append": _append,
    "bump": _bump_many,
    "crash-loop": _crash_loop,
    "trash-kill": _trash_kill,
    "import-kill": _import_kill,
    "hold": _hold,
}


def main(argv: Sequence[str]) -> int:
    """Run one worker command: ``COMMAND ROOT ARG...`` (see :data:`COMMANDS`); 2 if unknown."""
    command, root, *rest = argv
    run = COMMANDS.get(command)
    if run is None:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    return run(FileRepository(Path(root), lock_timeout=30.0), *rest)
