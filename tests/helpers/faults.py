"""Injected faults (the N-th write-side system call fails with an errno) and the seeded template store
the fault tests start from: every message in it acknowledged."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatcli.session.models import Message, SessionMetadata, new_session_id
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE
from chatcli.session.transfer import export_json
from tests.helpers.factories import numbered, seed

# --------------------------------------------------------------------------- the injector

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
FAULT_CALLS = ("write", "pwrite", "fsync", "replace", "rename", "mkdir")


@dataclass
class Faults:
    """Counts write-side calls; the ``fail_at``-th (and, with ``persist``, every later one) fails."""

    fail_at: int | None = None
    err: int = errno.EIO
    persist: bool = False
    calls: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    def hit(self, what: str, target: Any) -> None:
        self.calls.append(what)
        n = len(self.calls)
        if self.fail_at is not None and (n == self.fail_at or (self.persist and n > self.fail_at)):
            self.fired.append(what)
            name = os.fsdecode(target) if isinstance(target, (str, bytes, os.PathLike)) else None
            raise OSError(self.err, os.strerror(self.err), name)


@contextmanager
def injected(faults: Faults) -> Iterator[Faults]:
    """Route the write-side ``os`` calls through ``faults`` while the block runs."""
    saved: dict[str, Callable[..., Any]] = {name: getattr(os, name) for name in (*FAULT_CALLS, "open")}

    def wrap(name: str) -> Callable[..., Any]:
        real = saved[name]

        def call(*args: Any, **kwargs: Any) -> Any:
            faults.hit(name, args[0] if args else None)
            return real(*args, **kwargs)

        return call

    real_open = saved["open"]

    def open_(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if flags & WRITE_FLAGS:
            faults.hit("open", path)
        return int(real_open(path, flags, mode, dir_fd=dir_fd))

    try:
        for name in FAULT_CALLS:
            setattr(os, name, wrap(name))
        os.open = open_
        yield faults
    finally:
        for name, fn in saved.items():
            setattr(os, name, fn)


# --------------------------------------------------------------------------- the seeded store


@dataclass
class Seeded:
    """What the template store holds: every message in it is acknowledged."""

    alpha: str
    beta: str
    torn: str
    torn_bytes: bytes
    acked: dict[str, list[str]]
    import_file: Path
    import_id: str


def make_template(root: Path, work: Path) -> Seeded:
    repo = FileRepository(root)
    alpha_msgs = numbered(3)
    alpha = seed(repo, messages=alpha_msgs, name="alpha").id
    beta_msgs = numbered(2)
    beta = seed(repo, messages=beta_msgs, archived=True).id
    torn_msgs = numbered(2)
    torn = seed(repo, messages=torn_msgs).id
    torn_bytes = b'{"role": "assistant", "content": "cut sh'
    with (root / torn / CONVERSATION_FILE).open("ab") as fh:
        fh.write(torn_bytes)
    incoming = SessionMetadata.new(new_session_id(), "imported")
    incoming_msgs = [Message(role="user", content="imported"), Message(role="assistant", content="ok")]
    incoming.message_count = 2
    import_file = work / "import.json"
    import_file.write_text(export_json(incoming, incoming_msgs))
    acked = {
        sid: [m.id for m in msgs] for sid, msgs in ((alpha, alpha_msgs), (beta, beta_msgs), (torn, torn_msgs))
    }
    return Seeded(alpha, beta, torn, torn_bytes, acked, import_file, incoming.id)
