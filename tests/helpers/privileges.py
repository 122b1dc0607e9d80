"""Unprivileged children: permission tests drop root's powers in a forked child."""

from __future__ import annotations

import json
import os
import pwd
import select
import signal
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
