"""Help pages: the command overview and the detailed page of one command."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from chatcli.commands.results import CommandHelp, HelpResult
from chatcli.render.styles import DIM
from chatcli.sanitize import clean_inline, clean_lines

__all__ = ["render_help"]


def render_help(result: HelpResult, console: Console) -> None:
    """A help page: usage and summary of each command, or every detail of a few."""
    console.print(Text(clean_lines(result.title), style="bold"))
    if result.intro:
        console.print(Text(clean_lines(result.intro)))
    console.print()
    if result.detailed:
        for entry in result.commands:
            console.print(_help_detail(entry))
        return
    for entry in result.commands:
        # Usage on its own line, the summary indented below: readable at any width.
        console.print(Text(clean_inline(entry.usage), style="bold"))
        summary = Text("    " + clean_lines(entry.summary))
        if entry.aliases:
            summary.append(f" (alias: {', '.join(clean_inline(a) for a in entry.aliases)})", style=DIM)
        console.print(summary)


def _help_detail(entry: CommandHelp) -> Group:
    parts: list[RenderableType] = [Text("Usage: ", style="bold").append(clean_inline(entry.usage))]
    if entry.aliases:
        parts.append(Text(f"Aliases: {', '.join(clean_inline(a) for a in entry.aliases)}", style=DIM))
    for heading, rows in (("Arguments", entry.arguments), ("Options", entry.options)):
        if not rows:
            continue
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 2))
        table.add_column(no_wrap=True, style="bold")
        table.add_column()
        for label, text in rows:
            table.add_row(Text(clean_inline(label)), Text(clean_lines(text)))
        parts += [Text(), Text(f"{heading}:", style="bold"), table]
    if entry.details:
        parts += [Text(), Text(clean_lines(entry.details))]
    parts.append(Text())
    return Group(*parts)
