"""``--all-projects`` tables: sessions and search hits of every known project, with a project
column (the project folder, shortened with ``~``)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatcli.render.console import is_plain, table_box
from chatcli.render.plain import search_footer, search_title
from chatcli.render.styles import DIM, NARROW_WIDTH, heading, one_line, plural, quoted, warning
from chatcli.render.tables import PIN_MARK, highlighted, hit_session
from chatcli.render.timefmt import relative_age, short_id
from chatcli.sanitize import clean_inline
from chatcli.session.all_projects import ProjectsListResult, ProjectsSearchResult

__all__ = ["render_projects_list", "render_projects_search"]


def _table(console: Console) -> Table:
    table = Table(box=table_box(console), pad_edge=not is_plain(console), header_style="bold")
    wide = console.width >= NARROW_WIDTH
    table.add_column("Project", no_wrap=True, max_width=32 if wide else 18, overflow="ellipsis")
    return table


def render_projects_list(result: ProjectsListResult, console: Console) -> None:
    """``sessions list --all-projects``: one table, newest first, then one line per project
    that is gone or could not be read."""
    if not result.sessions:
        known = plural(len(result.projects), "known project") if result.projects else "any known project"
        console.print(
            Text(f"No sessions in {known} yet: a project is known once chatcli saves a session there.")
        )
    else:
        shown = len(result.sessions)
        count = f"{shown:,} of {result.total:,}" if result.total > shown else f"{shown:,}"
        title = f"Sessions of {plural(len(result.projects), 'project')} ({count})"
        if result.search:
            title += f" matching {quoted(result.search, 40)}"
        if result.tags:
            title += " tagged " + " and ".join(result.tags)
        console.print(heading(title))
        table = _table(console)
        table.add_column("ID", no_wrap=True)
        table.add_column("Msgs", justify="right", no_wrap=True)
        table.add_column("Last active", no_wrap=True)
        table.add_column("Session")
        for row in result.sessions:
            meta = row.session
            ident = Text(short_id(meta.id), style="bold")
            if meta.pinned:
                ident.append(" " + PIN_MARK, style="bold yellow")
            title_cell = Text(no_wrap=True, overflow="ellipsis")
            if meta.name:
                title_cell.append(clean_inline(meta.name) + "  ", style="cyan")
            title_cell.append(one_line(meta.first_message[:2000]) or "-")
            table.add_row(
                Text(clean_inline(row.project.label)),
                ident,
                str(meta.message_count),
                relative_age(meta.last_active),
                title_cell,
            )
        console.print(table)
        if result.total > shown:
            console.print(Text(f"Showing the {shown:,} most recent: --limit N shows more.", style=DIM))
    _notes(result.notes, console)


def render_projects_search(result: ProjectsSearchResult, console: Console) -> None:
    """``sessions search --all-projects``: one row per session with hits (``--messages``: one
    per hit), with its project."""
    searched = f"{result.sessions_searched:,} searched in {plural(len(result.projects), 'project')}"
    if not result.sessions:
        console.print(Text(f"No messages match {quoted(result.query)} ({searched})."))
        _notes(result.notes, console)
        return
    console.print(heading(search_title(result, searched)))
    table = _table(console)
    table.add_column("Session", no_wrap=True, max_width=30, overflow="ellipsis")
    table.add_column("Hits", justify="right", no_wrap=True)
    table.add_column("Active", no_wrap=True)
    table.add_column("Match")
    for found in result.sessions:
        hits = found.matches.hits if result.every_hit else [found.matches.best]
        for number, hit in enumerate(hits):
            first = number == 0
            table.add_row(
                Text(clean_inline(found.project.label) if first else ""),
                hit_session(hit, with_name=True) if first else Text(""),
                str(found.matches.hit_count) if first else "",
                relative_age(hit.timestamp if result.every_hit else found.matches.last_active),
                highlighted(hit.snippet, result.query),
            )
    console.print(table)
    if result.truncated:
        console.print(Text(search_footer(result.counted), style=DIM))
    _notes(result.notes, console)


def _notes(notes: Sequence[str], console: Console) -> None:
    """One line per project that is gone or could not be read."""
    for note in notes:
        console.print(warning(note))
