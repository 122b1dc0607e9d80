"""Terminal rendering of the trash's results: a delete (and how to undo it), the trash's listing,
a restore, an emptying. Untrusted text (names, first messages, reasons) is shown literally."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatcli.render.console import is_plain, table_box
from chatcli.render.styles import DIM, OK_STYLE, WARNING_STYLE, heading, one_line, plural, warning
from chatcli.render.timefmt import relative_age, short_id
from chatcli.sanitize import clean_inline
from chatcli.session.outcomes import DeleteResult, EmptyTrashResult, RestoreResult, TrashResult

__all__ = ["render_delete", "render_empty", "render_restore", "render_trash"]

#: An emptying's table shows this many sessions; the rest are counted (``--json`` lists them all).
EMPTY_SHOWN = 50


def _label(text: Text, session_id: str, name: str | None, count: int) -> None:
    """``fix-login (1a717050, 8 messages)``, or ``1a717050 (8 messages)`` without a name."""
    messages = plural(count, "message")
    if name:
        text.append(clean_inline(name), style="bold cyan")
        text.append(f" ({short_id(session_id)}, {messages})")
    else:
        text.append(short_id(session_id), style="bold")
        text.append(f" ({messages})")


def render_delete(result: DeleteResult, console: Console) -> None:
    """``Moved session fix-login (1a717050, 8 messages) to the trash.`` and how to undo it, or
    ``Deleted session … for good.`` (``--permanent``)."""
    meta = result.metadata
    text = Text("Deleted session " if result.trash_id is None else "Moved session ", style=OK_STYLE)
    _label(text, meta.id, meta.name, meta.message_count)
    text.append(" for good." if result.trash_id is None else " to the trash.")
    console.print(text)
    if result.undo:
        console.print(Text(f"Undo with: {clean_inline(result.undo)}", style=DIM))


def render_trash(result: TrashResult, console: Console) -> None:
    """``sessions trash``: id, name, first message, when it was deleted and why."""
    if result.expired is not None:
        render_empty(result.expired, console)
    if not result.sessions:
        console.print(Text("The trash is empty."))
    else:
        console.print(
            heading(f"{plural(len(result.sessions), 'session')} in the trash, most recently deleted first")
        )
        table = Table(box=table_box(console), pad_edge=not is_plain(console), header_style="bold")
        table.add_column("ID", no_wrap=True)
        table.add_column("Name", no_wrap=True, max_width=24, overflow="ellipsis")
        table.add_column("Deleted", no_wrap=True)
        table.add_column("Why", max_width=30, overflow="ellipsis")
        table.add_column("First message")
        for entry in result.sessions:
            table.add_row(
                Text(short_id(entry.session_id), style="bold"),
                Text(clean_inline(entry.name), style="cyan") if entry.name else Text("-", style=DIM),
                Text(relative_age(entry.deleted_at)),
                Text(one_line(entry.reason), no_wrap=True, overflow="ellipsis"),
                Text(one_line(entry.metadata.first_message), no_wrap=True, overflow="ellipsis"),
            )
        console.print(table)
        console.print(
            Text("Restore one with 'sessions restore ID'; erase them with 'sessions trash empty'.", style=DIM)
        )
    for problem in result.problems:
        console.print(warning(problem.user_message()))


def render_restore(result: RestoreResult, console: Console) -> None:
    """``Restored session fix-login (…).``, and a warning when its name was left off."""
    meta = result.metadata
    text = Text("Restored session ", style=OK_STYLE)
    _label(text, meta.id, meta.name, meta.message_count)
    text.append(".")
    console.print(text)
    if result.dropped_name is not None:
        taken = short_id(result.name_taken_by or "?")
        console.print(
            Text(
                f"Its name {clean_inline(result.dropped_name)!r} is used by session {taken} now, so it "
                f"came back unnamed: name it with 'sessions name {short_id(meta.id)} NEW-NAME'.",
                style=WARNING_STYLE,
            )
        )


def render_empty(result: EmptyTrashResult, console: Console) -> None:
    """``sessions trash empty``: what was (or would be) erased for good, what failed."""
    count = plural(len(result.sessions), "session")
    if not result.sessions and not result.failures and not result.not_reached:
        console.print(Text("Nothing in the trash to erase."))
        return
    if result.sessions:
        if result.dry_run:
            title = f"Would erase {count} from the trash (dry run)"
        elif result.retention is not None:
            title = f"Erased {count} deleted more than {clean_inline(result.retention)} ago (trash_retention)"
        else:
            title = f"Erased {count} from the trash for good"
        console.print(heading(title))
        for entry in result.sessions[:EMPTY_SHOWN]:
            line = Text("  ")
            _label(line, entry.session_id, entry.name, entry.metadata.message_count)
            console.print(line)
        if len(result.sessions) > EMPTY_SHOWN:
            console.print(Text(f"… and {len(result.sessions) - EMPTY_SHOWN:,} more.", style=DIM))
    for session_id, reason in result.failures:
        console.print(Text(f"Kept {short_id(session_id)}: {clean_inline(reason)}", style=WARNING_STYLE))
    if result.not_reached:
        console.print(
            Text(
                f"Cancelled: {plural(result.not_reached, 'session')} left in the trash.", style=WARNING_STYLE
            )
        )
