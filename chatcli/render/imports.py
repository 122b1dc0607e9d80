"""How ``sessions import --from TOOL`` looks: the summary, and a progress bar on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

from chatcli.importers.outcome import ToolImport
from chatcli.render.styles import DIM, WARNING_STYLE, heading, plural
from chatcli.sanitize import clean_inline

__all__ = ["progress_callback", "render_tool_import"]

#: How many imported conversations are listed one by one.
SHOWN = 20
_VERBS = {"imported": "new", "appended": "more messages", "unchanged": "already imported"}


def render_tool_import(result: ToolImport, console: Console) -> None:
    """Per tool: sessions and messages imported, skipped, failed (each problem as ``where: why``)."""
    would = "Would import" if result.dry_run else "Imported"
    new, appended, unchanged = (result.count(a) for a in ("imported", "appended", "unchanged"))
    console.print(
        heading(
            f"{would} from {result.tool}: {plural(new, 'new session')}, {plural(appended, 'session')} with "
            f"new messages, {plural(result.messages_imported, 'message')}"
        )
    )
    for entry in [e for e in result.entries if e.action != "unchanged"][:SHOWN]:
        line = Text("  ")
        line.append(f"{(entry.session_id or '')[:8]}  ", style="bold")
        line.append(f"{entry.messages:>4} messages  {_VERBS[entry.action]:<14}", style=DIM)
        line.append(clean_inline(entry.title or entry.source_id))
        console.print(line)
    if unchanged:
        console.print(
            Text(f"Skipped {plural(unchanged, 'session')} already imported (nothing new).", style=DIM)
        )
    if not result.searched:
        console.print(
            Text(f"Found nothing to import from {result.tool} for this directory.", style=WARNING_STYLE)
        )
    if result.problems:
        console.print(Text(f"Failed: {len(result.problems)}", style=f"bold {WARNING_STYLE}"))
        for problem in result.problems:
            line = Text("  ")
            line.append(clean_inline(problem.where), style="bold")
            line.append(": " + clean_inline(problem.reason))
            console.print(line)
    for note in result.notes:
        console.print(Text("  " + clean_inline(note), style=DIM))
    if result.dry_run:
        console.print(Text("Dry run: nothing was written.", style=DIM))


@contextmanager
def progress_callback(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A callback moving a progress bar on standard error when it is a terminal; else None."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(total, 1))

        yield update
