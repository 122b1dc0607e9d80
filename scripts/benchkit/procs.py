"""Running processes: timed runs, peak-RSS runs, build steps, and CPU time read from ``getrusage``."""

from __future__ import annotations

import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from benchkit.common import BenchError, Cmd, tail


def describe_cmd(cmd: Cmd) -> str:
    """A command line as the user could type it."""
    return shlex.join(str(part) for part in cmd)


def run_timed(cmd: Cmd, *, env: Mapping[str, str], cwd: Path, timeout: float) -> float:
    """Run ``cmd`` once (stdout to /dev/null) and return its wall time in milliseconds.

    A non-zero exit or a timeout raises :class:`BenchError` with the command's stderr.
    """
    with tempfile.TemporaryFile() as err:
        # No timeout on wait(): Popen polls with sleeps of up to 50 ms when given one, which
        # would quantise the timings. A timer kills the process instead.
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(part) for part in cmd],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=dict(env),
            cwd=cwd,
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            code: int | None = proc.wait()
        finally:
            timer.cancel()
        elapsed = (time.perf_counter() - start) * 1000.0
        if code == -signal.SIGKILL and elapsed >= timeout * 1000.0:
            code = None
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if code is None:
        raise BenchError(f"timed out after {timeout:.0f} s: {describe_cmd(cmd)}\n{tail(stderr)}")
    if code != 0:
        raise BenchError(f"exit code {code}: {describe_cmd(cmd)}\n{tail(stderr)}")
    return elapsed


class CpuTime(NamedTuple):
    """CPU seconds spent in user mode and in the kernel (``getrusage``'s ``ru_utime``, ``ru_stime``)."""

    user: float
    sys: float

    @property
    def total(self) -> float:
        """User plus system seconds: core-seconds."""
        return self.user + self.sys

    def since(self, before: CpuTime) -> CpuTime:
        """The CPU time spent between the reading ``before`` and this one."""
        return CpuTime(self.user - before.user, self.sys - before.sys)


def children_cpu() -> CpuTime:
    """CPU time of every child process waited for so far (and of their waited-for children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuTime(usage.ru_utime, usage.ru_stime)


def own_cpu() -> CpuTime:
    """CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return CpuTime(usage.ru_utime, usage.ru_stime)


#: Runs a command and prints its peak RSS in KiB. A child's ``ru_maxrss`` includes the size of
#: the process it was spawned from (Linux carries the high-water mark over fork/vfork and exec),
#: so the probe is spawned by something small: GNU time, else this few-megabyte Python helper.
_RSS_HELPER = (
    "import os,sys\n"
    "pid=os.posix_spawn(sys.argv[1],sys.argv[1:],os.environ,"
    "file_actions=[(os.POSIX_SPAWN_OPEN,1,os.devnull,os.O_WRONLY,0)])\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "print(ru.ru_maxrss)\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)
GNU_TIME = Path("/usr/bin/time")


def rss_method() -> str:
    """How peak RSS is read, for the report."""
    if GNU_TIME.is_file():
        return "`/usr/bin/time -f %M` (GNU time)"
    return "a small Python helper that spawns the command and reads `wait4`'s `ru_maxrss`"


def run_rss(cmd: Cmd, *, env: Mapping[str, str], cwd: Path, timeout: float) -> int:
    """Run ``cmd`` once and return its peak resident set size in bytes."""
    args = [str(part) for part in cmd]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rss"
        if GNU_TIME.is_file():
            probe = [str(GNU_TIME), "-f", "%M", "-o", str(out), *args]
        else:
            probe = [sys.executable, "-I", "-S", "-c", _RSS_HELPER, *args]
        try:
            text = run_checked(probe, env=env, cwd=cwd, timeout=timeout)
        except BenchError as exc:
            _, _, detail = str(exc).partition("\n")
            raise BenchError(f"failed in its peak-RSS run: {describe_cmd(cmd)}\n{detail}") from exc
        if out.exists():
            text = out.read_text()
    try:
        return int(text.strip().splitlines()[-1]) * 1024
    except (ValueError, IndexError) as exc:
        raise BenchError(f"could not read the peak RSS of {describe_cmd(cmd)}: {text!r}") from exc


def run_checked(
    cmd: Cmd,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float,
    stdout_path: Path | None = None,
) -> str:
    """Run a build step; returns its stdout (unless sent to ``stdout_path``); failures raise."""
    args = [str(part) for part in cmd]
    try:
        if stdout_path is not None:
            with stdout_path.open("wb") as out:
                done = subprocess.run(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.PIPE,
                    env=None if env is None else dict(env),
                    cwd=cwd,
                    timeout=timeout,
                    check=False,
                )
            stdout = ""
        else:
            done = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=None if env is None else dict(env),
                cwd=cwd,
                timeout=timeout,
                check=False,
            )
            stdout = done.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode("utf-8", "replace")
        raise BenchError(f"timed out after {timeout:.0f} s: {describe_cmd(args)}\n{tail(stderr)}") from exc
    except OSError as exc:
        raise BenchError(f"cannot run {describe_cmd(args)}: {exc}") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise BenchError(
            f"exit code {done.returncode}: {describe_cmd(args)}\n{tail(stderr + chr(10) + stdout)}"
        )
    return stdout
