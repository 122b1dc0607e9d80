"""Help pages: the command overview and the detailed page of one command."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from chatcli.commands.results import CommandHelp, HelpResult
from chatcli.render.styles import DIM
from chatcli.sanitize import clean_inline, clean_lines

__all__ = ["brief", "render_help"]


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
    if result.groups:
        _overview(result, console)
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


def brief(summary: str) -> str:
    """A summary without its parenthesis or its part after a semicolon: the overview's one line."""
    return summary.split(" (", maxsplit=1)[0].split("; ", maxsplit=1)[0]


def _overview(result: HelpResult, console: Console) -> None:
    """``/help``: one line per command (cut to the screen, never wrapped), then each group's words,
    so the page fits a 24-row window at any width."""
    usages = [clean_inline(entry.usage) for entry in result.commands]
    usage_width = max(map(len, usages), default=0)
    room = max(console.width - usage_width - 4, 8)  # the indent and the gap: two columns each
    for usage, entry in zip(usages, result.commands, strict=True):
        line = Text("  ")
        line.append(usage.ljust(usage_width), style="bold")
        summary = Text(brief(clean_inline(entry.summary)))
        if entry.aliases:
            names = ", ".join(clean_inline(usage[0] + a) for a in entry.aliases)
            summary.append(f" (also {names})", style=DIM)
        summary.truncate(room, overflow="ellipsis")
        console.print(line.append("  ").append_text(summary), no_wrap=True, crop=True)
    for heading, words in result.groups:
        console.print()
        console.print(Text(clean_inline(heading), style="bold"))
        console.print(Padding(Text(_spaced(words, console.width - 2)), (0, 0, 0, 2), expand=False))


def _spaced(words: Sequence[str], room: int) -> str:
    """``words`` two spaces apart, or one where two would take another line in ``room`` columns."""
    cleaned = [clean_inline(w) for w in words]
    wide, narrow = "  ".join(cleaned), " ".join(cleaned)
    return wide if len(textwrap.wrap(wide, room)) <= len(textwrap.wrap(narrow, room)) else narrow
