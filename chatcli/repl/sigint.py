"""Ctrl-C while the REPL waits on something: it cancels that one thing, not the program."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

__all__ = ["sigint_cancels"]


@contextlib.contextmanager
def sigint_cancels(task: asyncio.Future[Any]) -> Iterator[None]:
    """While streaming a reply or running a command, Ctrl-C cancels ``task`` instead of ending the program.

    The SIGINT handler in place before (asyncio's, prompt_toolkit's or the caller's) is restored
    afterwards: ``remove_signal_handler`` alone would reset it to Python's default.
    """
    loop = asyncio.get_running_loop()
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
