"""Ctrl-C while chatcli waits on something: it cancels that one thing, never the program.

Shared by the front ends: the REPL (which also owns SIGINT through :func:`sigint_guard`) and
``chatcli -p`` (where :func:`sigint_cancels` alone stops the reply streaming).

At the prompt, Ctrl-C is a key (the terminal is in raw mode) and the REPL loop handles it. Anywhere
else (a reply streaming, a command running, the moments in between) it is a SIGINT signal. While
the REPL runs, :func:`sigint_guard` owns SIGINT: a signal cancels the innermost job registered
with :func:`sigint_cancels` and is ignored when there is none, so a second quick Ctrl-C (after the
first has stopped a reply, before the prompt is back) does not end the program.

The guard is a Python-level handler on purpose: prompt_toolkit adds and removes its own *loop*
signal handler around each prompt and then restores the Python-level one, which is this.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["sigint_cancels", "sigint_guard", "sigint_interrupts", "sigint_stops", "stop_on_first_sigint"]

#: The jobs Ctrl-C cancels, innermost last, per event loop that runs under :func:`sigint_guard`.
_GUARDED: dict[asyncio.AbstractEventLoop, list[asyncio.Future[Any]]] = {}


@contextlib.contextmanager
def sigint_guard() -> Iterator[None]:
    """While the REPL runs: SIGINT cancels the innermost :func:`sigint_cancels` job, else nothing.

    The handler in place before (asyncio's, or the caller's) is restored afterwards.
    """
    loop = asyncio.get_running_loop()
    jobs: list[asyncio.Future[Any]] = []

    def cancel_innermost() -> None:
        for job in reversed(jobs):
            if not job.done():
                job.cancel()
                return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(cancel_innermost)

    with _sigint_handler(on_sigint) as installed:
        if not installed:
            yield
            return
        _GUARDED[loop] = jobs
        try:
            yield
        finally:
            _GUARDED.pop(loop, None)


@contextlib.contextmanager
def sigint_cancels(task: asyncio.Future[Any]) -> Iterator[None]:
    """While streaming a reply or running a command, Ctrl-C cancels ``task`` instead of ending the program.

    Under :func:`sigint_guard` the task is registered with it; otherwise a loop signal handler is
    installed for the duration, and the SIGINT handler in place before (asyncio's, prompt_toolkit's
    or the caller's) is restored afterwards: ``remove_signal_handler`` alone would reset it to
    Python's default.
    """
    loop = asyncio.get_running_loop()
    jobs = _GUARDED.get(loop)
    if jobs is not None:
        jobs.append(task)
        try:
            yield
        finally:
            jobs.remove(task)
        return
    previous = signal.getsignal(signal.SIGINT)
    installed = False
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


async def stop_on_first_sigint(job: asyncio.Future[Any], stop: threading.Event) -> None:
    """Wait for ``job`` (a command that stops cleanly) until it is done or Ctrl-C is pressed; that
    first Ctrl-C sets ``stop`` (the command ends at its next step, and its result is shown). The
    caller then awaits ``job`` under :func:`sigint_cancels`, so a second Ctrl-C stops waiting."""
    first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    try:
        with sigint_cancels(first):
            await asyncio.wait((job, first), return_when=asyncio.FIRST_COMPLETED)
        if first.cancelled():
            stop.set()
    finally:
        first.cancel()


@contextlib.contextmanager
def sigint_stops(stop: threading.Event) -> Iterator[None]:
    """On the command line, while a command that stops cleanly runs: the first Ctrl-C sets
    ``stop`` (the command ends at its next step and reports what it did), a second raises
    :class:`KeyboardInterrupt` at once. Outside the main thread, nothing changes."""

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    with _sigint_handler(on_sigint):
        yield


@contextlib.contextmanager
def sigint_interrupts() -> Iterator[None]:
    """Ctrl-C raises :class:`KeyboardInterrupt` for the duration (a question asked on the
    terminal, which it must abandon), whatever handler is in place."""
    with _sigint_handler(signal.default_int_handler):
        yield


@contextlib.contextmanager
def _sigint_handler(handler: Any) -> Iterator[bool]:
    """``handler`` handles SIGINT for the duration (the one before is restored), where it can
    (the main thread); yields whether it does."""
    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield False
        return
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
