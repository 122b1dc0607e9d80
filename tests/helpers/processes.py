"""Child processes running the worker (``python -m tests.helpers``), read line by line with deadlines."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

from tests.helpers.checkout import REPO_ROOT


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
