"""A progress bar for long commands on a terminal (``sessions import``), drawn on stderr.

Commands never print: they are given :func:`progress_bar` (through their context) only when
standard error is a terminal, and report how far they got; piped output shows nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(console: Console, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Show a bar (bytes done of ``total``; a pulse when unknown) while the block runs; yields
    the function to call with the amount done. The bar is removed when the block ends."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(done: int) -> None:
            bar.update(task, completed=done)

        yield advance
