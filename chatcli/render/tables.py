"""Session tables: ``sessions list``, ``sessions search`` and ``sessions prune``.

The session table itself (:func:`sessions_table`) is shared with the import report.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeGuard

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatcli.render.console import is_plain, table_box
from chatcli.render.plain import no_match_line, search_footer, search_title
from chatcli.render.styles import (
    DIM,
    MATCH_STYLE,
    NARROW_WIDTH,
    ROLE_STYLES,
    TINY_WIDTH,
    WARNING_STYLE,
    heading,
    one_line,
    plural,
    quoted,
    warning,
)
from chatcli.render.timefmt import absolute_time, relative_age, short_id
from chatcli.sanitize import clean_inline
from chatcli.session.fields import SessionView
from chatcli.session.outcomes import ListResult, PruneResult, SearchHit, SearchResult

if TYPE_CHECKING:
    from chatcli.commands.results import RecentSessions

__all__ = [
    "PIN_MARK",
    "PRUNE_SHOWN",
    "WIDE_WIDTH",
    "highlighted",
    "hit_session",
    "render_list",
    "render_prune",
    "render_search",
    "sessions_table",
]

#: From this width up the session table gives the name and the first message a column each.
WIDE_WIDTH = 100
#: A prune's table shows this many sessions; the rest are counted (``--json`` lists them all).
PRUNE_SHOWN = 50


def sessions_table(console: Console, sessions: Sequence[SessionView]) -> Table:
    """The session table shared by list, prune and import.

    From :data:`WIDE_WIDTH` columns up the name and the first message have a column each. On a
    narrower screen the columns are laid out by priority: the name and the first message share
    one column (the name first, then the first message, cut with an ellipsis) that keeps all the
    room the others leave; the status shows only when the listing mixes statuses, the message
    count only from :data:`NARROW_WIDTH` columns up; the age and the short id always show.
    """
    width = console.width
    wide = width >= WIDE_WIDTH
    mixed = len({meta.status for meta in sessions}) > 1
    show_status = mixed or wide
    show_count = width >= NARROW_WIDTH
    table = Table(box=table_box(console), pad_edge=not is_plain(console), header_style="bold")
    table.add_column("ID", no_wrap=True)
    show_tags = width >= NARROW_WIDTH and any(meta.tags for meta in sessions)
    if wide:
        table.add_column("Name", no_wrap=True, max_width=28, overflow="ellipsis")
    if show_status:
        table.add_column("Status", no_wrap=True)
    if show_count:
        table.add_column("Msgs", justify="right", no_wrap=True)
    table.add_column("Last active" if width >= NARROW_WIDTH else "Active", no_wrap=True)
    if show_tags:
        table.add_column("Tags", no_wrap=True, max_width=24, overflow="ellipsis")
    # Wrappable for the width calculation (so this column gives way first on a narrow screen),
    # while each cell is a one-line Text cut with an ellipsis.
    table.add_column("First message" if wide else "Session")
    for meta in sessions:
        cells = [_id_cell(meta)]
        if wide:
            cells.append(Text(clean_inline(meta.name), style="cyan") if meta.name else Text("-", style=DIM))
        if show_status:
            cells.append(Text(meta.status.value, style=DIM if meta.is_archived else ""))
        if show_count:
            cells.append(Text(str(meta.message_count)))
        cells.append(Text(relative_age(meta.last_active)))
        if show_tags:
            cells.append(Text(clean_inline(",".join(meta.tags)), style="magenta"))
        cells.append(_title(meta, with_name=not wide))
        table.add_row(*cells)
    return table


def _title(meta: SessionView, *, with_name: bool) -> Text:
    """The first message (``-`` when there is none), after the name when ``with_name``: one
    line, cut with an ellipsis."""
    first = one_line(meta.first_message[:2000])
    text = Text(no_wrap=True, overflow="ellipsis")
    if with_name and meta.name:
        text.append(clean_inline(meta.name), style="cyan")
        if first:
            text.append("  " + first)
    else:
        text.append(first or "-", style="" if first else DIM)
    return text


#: What marks a pinned session in tables (after its short id).
PIN_MARK = "*"


def _id_cell(meta: SessionView) -> Text:
    """The short id, marked with :data:`PIN_MARK` when the session is pinned."""
    text = Text(short_id(meta.id), style="bold")
    if meta.pinned:
        text.append(" " + PIN_MARK, style="bold yellow")
    return text


# ---------------------------------------------------------------------------------------- list


def render_list(result: ListResult, console: Console) -> None:
    """``sessions list``: a titled table (or a helpful empty message), then unreadable sessions.

    ``sessions`` alone (:class:`RecentSessions`) ends with its one-line hint instead of the line on
    ``--limit``.
    """
    recent = _is_recent(result)
    if not result.sessions:
        console.print(_empty_listing(result))
    else:
        titles = {"active": "Sessions", "archived": "Archived sessions", "all": "All sessions"}
        shown = len(result.sessions)
        total = result.total if result.total is not None else shown
        count = f"{shown:,} of {total:,}" if total > shown else f"{shown:,}"
        title = f"{'Recent sessions' if recent else titles.get(result.status, 'Sessions')} ({count})"
        if result.search:
            title += f" matching {quoted(result.search, 40)}"
        if result.tags:
            title += " tagged " + " and ".join(result.tags)
        console.print(heading(title))
        console.print(sessions_table(console, result.sessions))
        if any(meta.pinned for meta in result.sessions):
            console.print(Text(f"{PIN_MARK} pinned (never pruned)", style=DIM))
        if total > shown and not recent:
            console.print(
                Text(
                    f"Showing the {shown:,} most recent of {total:,}: --limit N shows more, "
                    "--no-limit shows them all, --search TEXT narrows them down.",
                    style=DIM,
                )
            )
    for problem in result.problems:
        console.print(warning(problem.user_message()))
    if _is_recent(result):
        console.print(Text(result.hint, style=DIM))


def _is_recent(result: ListResult) -> TypeGuard[RecentSessions]:
    """True for the listing of ``sessions`` alone. Its type's module is loaded only by the command
    that makes one, so a plain listing never imports the commands' results to check."""
    results = sys.modules.get("chatcli.commands.results")
    return results is not None and isinstance(result, results.RecentSessions)


def _empty_listing(result: ListResult) -> Text:
    qualifier = {"active": "active ", "archived": "archived ", "all": ""}.get(result.status, "")
    if result.tags:
        also = f" and match {quoted(result.search)}" if result.search else ""
        return Text(f"No {qualifier}sessions are tagged {' and '.join(result.tags)}{also}.")
    if result.search:
        return Text(f"No {qualifier}sessions match {quoted(result.search)}.")
    if result.status == "archived":
        return Text("No archived sessions.")
    return Text(f"No {qualifier}sessions yet — start chatting and your conversation is saved automatically.")


# ---------------------------------------------------------------------------------------- search


def render_search(result: SearchResult, console: Console) -> None:
    """``sessions search``: one row per session (hits, age, best snippet), or with
    ``--messages`` one row per matching message; the query's words highlighted."""
    if result.notice:
        console.print(Text(result.notice, style=DIM))
    searched = f"{result.sessions_searched:,} searched"
    if not result.sessions:  # piped, with nothing to warn about, chatcli.render.plain writes it
        console.print(Text(no_match_line(result)))
        _search_warnings(result, console)
        return
    console.print(heading(search_title(result, searched)))
    table = _messages_table(result, console) if result.every_hit else _sessions_hits_table(result, console)
    console.print(table)
    if result.truncated:
        console.print(Text(search_footer(result.counted), style=DIM))
    _search_warnings(result, console)


def _sessions_hits_table(result: SearchResult, console: Console) -> Table:
    """One row per session: who, how many hits, how long ago, the best snippet."""
    width = console.width
    wide = width >= NARROW_WIDTH
    table = Table(box=table_box(console), pad_edge=not is_plain(console), header_style="bold")
    table.add_column("Session", no_wrap=True, max_width=30 if wide else 16, overflow="ellipsis")
    table.add_column("Hits", justify="right", no_wrap=True)
    table.add_column("Active", no_wrap=True)
    table.add_column("Best match", overflow="fold")
    for found in result.sessions:
        session = hit_session(found.best, with_name=True)
        snippet = highlighted(found.best.snippet, result.query)
        table.add_row(session, str(found.hit_count), Text(relative_age(found.last_active)), snippet)
    return table


def _messages_table(result: SearchResult, console: Console) -> Table:
    """``--messages``: every hit, grouped by session (the session shown on its first row)."""
    width = console.width
    wide = width >= NARROW_WIDTH
    table = Table(box=table_box(console), pad_edge=not is_plain(console), header_style="bold")
    table.add_column("Session", no_wrap=True, max_width=30 if wide else None, overflow="ellipsis")
    if width >= TINY_WIDTH:
        table.add_column("Role", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Snippet", overflow="fold")
    for found in result.sessions:
        for number, hit in enumerate(found.hits):
            role = Text(clean_inline(hit.role), style=ROLE_STYLES.get(hit.role, ""))
            session = hit_session(hit, with_name=wide) if number == 0 else Text("")
            cells = [session, role] if width >= TINY_WIDTH else [session]
            table.add_row(*cells, Text(relative_age(hit.timestamp)), highlighted(hit.snippet, result.query))
    return table


def _search_warnings(result: SearchResult, console: Console) -> None:
    """The sessions a search could not read, each named (``sessions doctor`` examines them)."""
    for text in result.warnings:
        console.print(warning(text))
    if result.warnings:
        console.print(Text("Run 'chatcli sessions doctor' to examine them.", style=DIM))


def hit_session(hit: SearchHit, *, with_name: bool) -> Text:
    text = Text(short_id(hit.session_id), style="bold")
    if with_name and hit.session_name:
        text.append(" " + clean_inline(hit.session_name), style="cyan")
    return text


def highlighted(snippet: str, query: str) -> Text:
    """The cleaned snippet with the query's words styled (case-insensitive; a ``prefix*`` term
    styles the whole word it starts)."""
    text = Text(one_line(snippet))
    words = sorted(one_line(query).replace('"', " ").split(), key=len, reverse=True)
    alternatives = [
        re.escape(w.rstrip("*")) + (r"\w*" if w.endswith("*") else "") for w in words if w.strip("*")
    ]
    if alternatives:
        pattern = re.compile("|".join(alternatives), re.IGNORECASE)
        for match in pattern.finditer(text.plain):
            text.stylize(MATCH_STYLE, match.start(), match.end())
    return text


# ---------------------------------------------------------------------------------------- prune


def render_prune(result: PruneResult, console: Console) -> None:
    """``sessions prune``: what was (or would be) deleted, what was kept and why."""
    cutoff = absolute_time(result.cutoff)
    count = plural(len(result.sessions), "session")
    if not result.sessions and not result.failures and not result.not_reached:
        if result.pinned_kept:
            console.print(Text(f"Only pinned sessions were last active before {cutoff}; nothing to prune."))
        else:
            console.print(Text(f"No sessions were last active before {cutoff}; nothing to prune."))
        _pinned_kept(result, console)
        return
    if result.sessions:
        title = (
            f"Would delete {count} last active before {cutoff} (dry run)"
            if result.dry_run
            else f"Deleted {count} last active before {cutoff}"
        )
        console.print(heading(title))
        console.print(sessions_table(console, result.sessions[:PRUNE_SHOWN]))
        if len(result.sessions) > PRUNE_SHOWN:
            more = len(result.sessions) - PRUNE_SHOWN
            console.print(Text(f"… and {more:,} more (--json lists every one).", style=DIM))
    for session_id, reason in result.failures:
        text = Text("Kept ", style=WARNING_STYLE)
        text.append(clean_inline(short_id(session_id)), style="bold")
        text.append(": " + clean_inline(reason), style=WARNING_STYLE)
        console.print(text)
    if result.not_reached:
        kept = plural(result.not_reached, "session")
        console.print(Text(f"Cancelled: {kept} not deleted.", style=WARNING_STYLE))
    _pinned_kept(result, console)


def _pinned_kept(result: PruneResult, console: Console) -> None:
    """``Kept 2 pinned sessions …``: pinned sessions are never pruned, however old."""
    if result.pinned_kept:
        kept = plural(result.pinned_kept, "pinned session")
        note = f"Kept {kept} as old: pinned sessions are never pruned (unpin one to prune it)."
        console.print(Text(note, style=DIM))
