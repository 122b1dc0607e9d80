"""Reports about sessions: one session's details (``sessions show``), the doctor's findings and
what an import did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chatcli.commands.results import ImportReport
from chatcli.render.console import is_plain, table_box
from chatcli.render.styles import (
    DIM,
    OK_STYLE,
    WARNING_STYLE,
    heading,
    one_line,
    plural,
    session_label,
    warning,
)
from chatcli.render.tables import sessions_table
from chatcli.render.timefmt import absolute_time, relative_age
from chatcli.render.transcript import render_transcript
from chatcli.sanitize import clean_inline, shorten
from chatcli.session.fields import TokenTotals
from chatcli.session.health import DoctorReport
from chatcli.session.outcomes import SessionDetail
from chatcli.session.transfer import ImportResult

if TYPE_CHECKING:
    from chatcli.session.models import SessionMetadata

__all__ = ["IMPORT_SHOWN", "render_detail", "render_doctor", "render_import", "render_import_report"]

#: An import lists at most this many of the sessions it created.
IMPORT_SHOWN = 20


def _tokens(totals: TokenTotals) -> str:
    replies = "1 reply" if totals.replies == 1 else f"{totals.replies:,} replies"
    return (
        f"{totals.total_tokens:,} ({totals.prompt_tokens:,} in, {totals.completion_tokens:,} out) "
        f"over {replies}"
    )


def _add_chat_rows(grid: Table, meta: SessionMetadata) -> None:
    """The system prompt (its start; ``--json`` has all of it) and the tokens the server reported,
    in total and per model when several models answered."""
    if meta.system_prompt:
        grid.add_row("System prompt", Text(one_line(shorten(meta.system_prompt, 200))))
    if not meta.usage:
        return
    grid.add_row("Tokens", Text(_tokens(meta.total_usage)))
    if len(meta.usage) > 1:
        for model, totals in sorted(meta.usage.items()):
            grid.add_row(Text("  " + one_line(shorten(model, 40))), Text(_tokens(totals)))
    else:
        grid.add_row("Model", Text(one_line(shorten(next(iter(meta.usage)), 80))))


def render_detail(result: SessionDetail, console: Console) -> None:
    """``sessions show``: a panel of the session's metadata, then its last messages and warnings."""
    meta = result.metadata
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("ID", Text(clean_inline(meta.id)))
    grid.add_row("Name", Text(clean_inline(meta.name)) if meta.name else Text("(none)", style=DIM))
    grid.add_row("Status", Text(meta.status.value + (" · pinned" if meta.pinned else "")))
    if meta.tags:
        grid.add_row("Tags", Text(clean_inline(", ".join(meta.tags)), style="magenta"))
    grid.add_row("Created", Text(f"{absolute_time(meta.created)} ({relative_age(meta.created)})"))
    grid.add_row("Last active", Text(f"{absolute_time(meta.last_active)} ({relative_age(meta.last_active)})"))
    grid.add_row("Messages", Text(str(result.total_messages)))
    if result.trashed is not None:
        why = one_line(result.trashed.reason)
        grid.add_row(
            "In the trash",
            Text(f"moved there {relative_age(result.trashed.deleted_at)} ({why})", style=WARNING_STYLE),
        )
    if meta.file_count:
        grid.add_row("Files", Text(str(meta.file_count)))
    for key, value in sorted(meta.custom_fields.items()):
        grid.add_row(Text(one_line(shorten(str(key), 30))), Text(one_line(shorten(str(value), 200))))
    _add_chat_rows(grid, meta)
    title = Text("Session ")
    title.append_text(session_label(meta))
    if is_plain(console):  # no box drawing in a pipe: the title, then the fields
        console.print(heading(title.plain))
        console.print(grid)
    else:
        console.print(Panel(grid, title=title, title_align="left", box=box.ROUNDED, expand=False))
    if result.recent:
        shown = len(result.recent)
        count = (
            f"Last {shown} of {result.total_messages} messages"
            if shown < result.total_messages
            else plural(shown, "message")
        )
        console.print(heading(count))
        render_transcript(result.recent, console)
    elif result.total_messages == 0:
        console.print(Text("No messages yet.", style=DIM))
    for text in result.warnings:
        console.print(warning(text))


def render_doctor(result: DoctorReport, console: Console) -> None:
    """``sessions doctor``: healthy, or a table of findings and what was (or can be) repaired."""
    checked = plural(result.sessions_checked, "session")
    if not result.findings:
        console.print(Text(f"All {checked} in {clean_inline(str(result.root))} are healthy.", style=OK_STYLE))
        return
    table = Table(
        box=table_box(console),
        pad_edge=not is_plain(console),
        title=f"Doctor: {checked} checked",
        title_justify="left",
    )
    table.add_column("Target", no_wrap=True)
    table.add_column("Problems")
    table.add_column("Repairs" if result.repaired else "Repairable")
    for finding in result.findings:
        target = clean_inline(finding.target)
        target = target[:8] if len(target) == 36 else target
        problems = Text("\n".join(clean_inline(p) for p in finding.problems))
        if result.repaired:
            done = [*finding.actions, *(f"not repaired: {u}" for u in finding.unrepairable)]
            fixes = Text("\n".join(clean_inline(a) for a in done) or "-")
        else:
            fixes = Text(
                "no: " + "; ".join(clean_inline(u) for u in finding.unrepairable)
                if finding.unrepairable
                else "yes"
            )
        table.add_row(target, problems, fixes)
    console.print(table)
    if not result.repaired and any(f.problems and not f.unrepairable for f in result.findings):
        console.print(
            Text(
                "Run 'chatcli sessions doctor --repair' (or /sessions doctor --repair) to fix them; "
                "nothing is deleted, unreadable data goes to .quarantine/.",
                style=DIM,
            )
        )


def render_import(result: ImportResult, console: Console, *, verbose: bool = False) -> None:
    """``sessions import``: the sessions created, the records that failed and why, one line for
    the sessions left alone because they already exist (each listed with ``verbose``), and notes."""
    if result.imported:
        console.print(heading(f"Imported {plural(len(result.imported), 'session')}"))
        console.print(sessions_table(console, result.imported[:IMPORT_SHOWN]))
        if len(result.imported) > IMPORT_SHOWN:
            console.print(Text(f"… and {len(result.imported) - IMPORT_SHOWN} more", style=DIM))
    else:
        console.print(Text("Nothing was imported.", style=WARNING_STYLE))
    if result.existing:
        count = len(result.existing)
        what = f"{plural(count, 'session')} that already {'exists' if count == 1 else 'exist'}"
        more = ":" if verbose else " (--verbose lists them)."
        console.print(Text(f"Skipped {what}, left untouched{more}", style=DIM))
        if verbose:
            for session_id in result.existing:
                console.print(Text("  " + clean_inline(session_id)))
    if result.skipped:
        console.print(Text(f"Could not import {len(result.skipped)}:", style=f"bold {WARNING_STYLE}"))
        for source, reason in result.skipped:
            line = Text("  ")
            line.append(clean_inline(source), style="bold")
            line.append(": " + clean_inline(reason))
            console.print(line)
    if result.notes:
        console.print(Text("Notes:", style="bold"))
        for note in result.notes:
            console.print(Text("  " + clean_inline(note)))


def render_import_report(report: ImportReport, console: Console) -> None:
    """``sessions import``'s report: :func:`render_import`, verbose when asked."""
    render_import(report.result, console, verbose=report.verbose)
