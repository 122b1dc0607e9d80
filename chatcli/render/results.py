"""Terminal rendering of command results and errors: the one place chatcli prints them.

:func:`render` dispatches on the result's type. Every string that did not come from chatcli's
own source (session names, first messages, transcripts, snippets, file names, error details,
custom fields) goes through :mod:`chatcli.render.sanitize` and into a ``rich.text.Text``, so it
is shown literally: never interpreted as rich markup, never executed as an escape sequence.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.markdown import Markdown

    from chatcli.session.models import Message, SessionMetadata

from chatcli.commands.results import (
    Cancelled,
    ClearAction,
    CommandHelp,
    ExportResult,
    HelpResult,
    NewSessionAction,
    Notice,
    QuitAction,
    ResumeAction,
    SessionChanged,
)
from chatcli.errors import ChatcliError
from chatcli.render.console import is_plain, panel_box, table_box
from chatcli.render.sanitize import clean, clean_inline, clean_lines
from chatcli.render.timefmt import absolute_time, relative_age, short_id
from chatcli.sanitize import shorten
from chatcli.session.fields import SessionBrief, SessionView
from chatcli.session.health import DoctorReport
from chatcli.session.service import (
    DeleteResult,
    ImportResult,
    ListResult,
    LoadedSession,
    PruneResult,
    SearchHit,
    SearchResult,
    SessionDetail,
)

__all__ = [
    "MESSAGE_PREVIEW_CHARS",
    "render",
    "render_error",
    "render_messages",
    "render_reply_markdown",
]

#: A message shown in ``show`` or on resume is cut after this many characters.
MESSAGE_PREVIEW_CHARS = 1500
#: A prune's table shows this many sessions; the rest are counted (``--json`` lists them all).
PRUNE_SHOWN = 50
#: How many messages a resume shows.
RESUME_PREVIEW_MESSAGES = 4
#: Below this console width tables drop their least useful columns.
NARROW_WIDTH = 80
#: Below this width they drop a few more.
TINY_WIDTH = 60

_ROLE_LABELS = {"user": "You", "assistant": "Assistant", "system": "System"}
_ROLE_STYLES = {"user": "bold cyan", "assistant": "bold green", "system": "bold magenta"}
_MATCH_STYLE = "bold reverse"
_WARNING_STYLE = "yellow"
_OK_STYLE = "green"
_DIM = "dim"


# ---------------------------------------------------------------------------------------- helpers


def _one_line(text: str) -> str:
    """``text`` with whitespace runs folded to single spaces, cleaned for a table cell."""
    return clean_inline(" ".join(text.split()))


def _label(meta: SessionView) -> Text:
    """``1a2b3c4d (fix-login)``: the short id plus the name when there is one."""
    text = Text(short_id(meta.id), style="bold")
    if meta.name:
        text.append(" (")
        text.append(clean_inline(meta.name), style="cyan")
        text.append(")")
    return text


def _summary_line(meta: SessionView) -> Text:
    """A one-line description of a session: id, name, status, count, age, first message."""
    text = _label(meta)
    text.no_wrap = True
    text.overflow = "ellipsis"
    parts = [
        meta.status.value,
        f"{meta.message_count} message{'s' if meta.message_count != 1 else ''}",
        relative_age(meta.last_active),
    ]
    text.append("  " + " · ".join(parts), style=_DIM)
    if meta.first_message:
        text.append("  ")
        text.append(_one_line(shorten(meta.first_message, 60)))
    return text


def _warning(message: str) -> Text:
    """``Warning: …`` in the warning style, the message cleaned."""
    text = Text("Warning: ", style=f"bold {_WARNING_STYLE}")
    text.append(clean_lines(message), style=_WARNING_STYLE)
    return text


def _quoted(text: str, limit: int = 60) -> str:
    """``'text'``, cleaned for one line and cut to ``limit`` characters."""
    return f"'{clean_inline(shorten(text, limit))}'"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _heading(text: str) -> Text:
    """A bold line above a table (a table title would wrap at the table's width)."""
    return Text(text, style="bold")


def _sessions_table(console: Console, sessions: Sequence[SessionView]) -> Table:
    """The session table shared by list, prune and import.

    On narrow screens the name is cut shorter and the columns that matter least give way (the
    status unless the listing mixes statuses, then the message count), so the first message
    keeps room.
    """
    width = console.width
    mixed = len({meta.status for meta in sessions}) > 1
    show_status = width >= NARROW_WIDTH or mixed
    show_count = width >= TINY_WIDTH
    table = Table(box=table_box(console), header_style="bold")
    table.add_column("ID", no_wrap=True)
    name_width = 28 if width >= NARROW_WIDTH else 12 if width >= TINY_WIDTH else 8
    table.add_column("Name", no_wrap=True, max_width=name_width, overflow="ellipsis")
    if show_status:
        table.add_column("Status", no_wrap=True)
    if show_count:
        table.add_column("Msgs", justify="right", no_wrap=True)
    table.add_column("Last active" if width >= NARROW_WIDTH else "Active", no_wrap=True)
    # Wrappable for the width calculation (so this column gives way first on a narrow screen),
    # while each cell is a one-line Text cut with an ellipsis.
    table.add_column("First message")
    for meta in sessions:
        cells = [
            Text(short_id(meta.id), style="bold"),
            Text(clean_inline(meta.name), style="cyan") if meta.name else Text("-", style=_DIM),
        ]
        if show_status:
            cells.append(Text(meta.status.value, style=_DIM if meta.is_archived else ""))
        if show_count:
            cells.append(Text(str(meta.message_count)))
        cells += [
            Text(relative_age(meta.last_active)),
            Text(_one_line(meta.first_message), no_wrap=True, overflow="ellipsis"),
        ]
        table.add_row(*cells)
    return table


def _highlighted(snippet: str, query: str) -> Text:
    """The cleaned snippet with each case-insensitive occurrence of ``query`` styled."""
    text = Text(_one_line(snippet))
    words = _one_line(query).split()
    if words:
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
        for match in pattern.finditer(text.plain):
            text.stylize(_MATCH_STYLE, match.start(), match.end())
    return text


def _message_block(message: Message) -> Group:
    """One message: a role label with its age, then the cleaned content (cut when long)."""
    role = message.role
    header = Text(_ROLE_LABELS.get(role, clean_inline(role)), style=_ROLE_STYLES.get(role, "bold"))
    header.append(f"  {relative_age(message.timestamp)}", style=_DIM)
    if message.interrupted:
        header.append("  (interrupted)", style=_WARNING_STYLE)
    content = message.content
    body = Text(clean(content[:MESSAGE_PREVIEW_CHARS]))
    if len(content) > MESSAGE_PREVIEW_CHARS:
        body.append(f"… ({len(content) - MESSAGE_PREVIEW_CHARS} more characters)", style=_DIM)
    return Group(header, body, Text())


def render_messages(messages: Sequence[Message], console: Console) -> None:
    """Print messages with role labels (``You``/``Assistant``/``System``) and ages."""
    for message in messages:
        console.print(_message_block(message))


# ---------------------------------------------------------------------------------------- render


@functools.singledispatch
def render(result: object, console: Console) -> None:
    """Print a command result (or an exception, as an error panel) on ``console``.

    Actions the REPL carries out itself (new session, clear, quit) and ``None`` print nothing;
    a type with no renderer raises ``TypeError``.
    """
    if _register_models():
        render(result, console)
        return
    raise TypeError(f"no renderer for {type(result).__name__}")


def _register_models() -> bool:
    """Register the renderers of the pydantic models on first need (True if it just did).

    They are not registered at import: that would import pydantic, which a listing never needs.
    """
    from chatcli.session.models import Message, SessionMetadata

    if SessionMetadata in render.registry:
        return False
    render.register(SessionMetadata, _render_metadata)
    render.register(Message, _render_message)
    return True


@render.register
def _render_nothing(result: NewSessionAction | ClearAction | QuitAction | None, console: Console) -> None:
    """The REPL acts on these; there is nothing to print."""


@render.register
def _render_exception(result: BaseException, console: Console) -> None:
    render_error(result, console)


@render.register
def _render_list(result: ListResult, console: Console) -> None:
    if not result.sessions:
        console.print(_empty_listing(result))
    else:
        titles = {"active": "Sessions", "archived": "Archived sessions", "all": "All sessions"}
        shown = len(result.sessions)
        total = result.total if result.total is not None else shown
        count = f"{shown:,} of {total:,}" if total > shown else f"{shown:,}"
        title = f"{titles.get(result.status, 'Sessions')} ({count})"
        if result.search:
            title += f" matching {_quoted(result.search, 40)}"
        console.print(_heading(title))
        console.print(_sessions_table(console, result.sessions))
        if total > shown:
            console.print(
                Text(
                    f"Showing the {shown:,} most recent of {total:,}: --limit N shows more, "
                    "--no-limit shows them all, --search TEXT narrows them down.",
                    style=_DIM,
                )
            )
    for problem in result.problems:
        console.print(_warning(problem.user_message()))


def _empty_listing(result: ListResult) -> Text:
    qualifier = {"active": "active ", "archived": "archived ", "all": ""}.get(result.status, "")
    if result.search:
        return Text(f"No {qualifier}sessions match {_quoted(result.search)}.")
    if result.status == "archived":
        return Text("No archived sessions.")
    return Text(f"No {qualifier}sessions yet — start chatting and your conversation is saved automatically.")


@render.register
def _render_detail(result: SessionDetail, console: Console) -> None:
    meta = result.metadata
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("ID", Text(clean_inline(meta.id)))
    grid.add_row("Name", Text(clean_inline(meta.name)) if meta.name else Text("(none)", style=_DIM))
    grid.add_row("Status", Text(meta.status.value))
    grid.add_row("Created", Text(f"{absolute_time(meta.created)} ({relative_age(meta.created)})"))
    grid.add_row("Last active", Text(f"{absolute_time(meta.last_active)} ({relative_age(meta.last_active)})"))
    grid.add_row("Messages", Text(str(result.total_messages)))
    if meta.file_count:
        grid.add_row("Files", Text(str(meta.file_count)))
    for key, value in sorted(meta.custom_fields.items()):
        grid.add_row(Text(_one_line(shorten(str(key), 30))), Text(_one_line(shorten(str(value), 200))))
    title = Text("Session ")
    title.append_text(_label(meta))
    console.print(Panel(grid, title=title, title_align="left", box=panel_box(console), expand=False))
    if result.recent:
        shown = len(result.recent)
        heading = (
            f"Last {shown} of {result.total_messages} messages"
            if shown < result.total_messages
            else _plural(shown, "message")
        )
        console.print(Text(heading, style="bold"))
        render_messages(result.recent, console)
    elif result.total_messages == 0:
        console.print(Text("No messages yet.", style=_DIM))
    for warning in result.warnings:
        console.print(_warning(warning))


@render.register
def _render_loaded(result: LoadedSession, console: Console) -> None:
    meta = result.metadata
    text = Text("Resumed session ", style=_OK_STYLE)
    text.append_text(_label(meta))
    text.append(
        f" — {_plural(len(result.messages), 'message')}, last active {relative_age(meta.last_active)}",
        style=_DIM,
    )
    console.print(text)
    recent = result.messages[-RESUME_PREVIEW_MESSAGES:]
    if recent:
        console.print()
        render_messages(recent, console)
    for warning in result.warnings:
        console.print(_warning(warning))


@render.register
def _render_resume(result: ResumeAction, console: Console) -> None:
    _render_loaded(result.session, console)


@render.register
def _render_search(result: SearchResult, console: Console) -> None:
    searched = _plural(result.sessions_searched, "session")
    if not result.hits:
        console.print(Text(f"No messages match {_quoted(result.query)} (searched {searched})."))
        return
    count = f"{len(result.hits)}+" if result.truncated else str(len(result.hits))
    title = f"{count} match{'es' if count != '1' else ''} for {_quoted(result.query, 40)} in {searched}"
    console.print(_heading(title))
    width = console.width
    table = Table(box=table_box(console), header_style="bold")
    wide = width >= NARROW_WIDTH
    table.add_column("Session", no_wrap=True, max_width=30 if wide else None, overflow="ellipsis")
    if width >= TINY_WIDTH:
        table.add_column("Role", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Snippet")
    for hit in result.hits:
        role = Text(clean_inline(hit.role), style=_ROLE_STYLES.get(hit.role, ""))
        session = _hit_session(hit, with_name=wide)
        cells = [session, role] if width >= TINY_WIDTH else [session]
        table.add_row(*cells, Text(relative_age(hit.timestamp)), _highlighted(hit.snippet, result.query))
    console.print(table)
    if result.truncated:
        console.print(Text("(more results: use --limit)", style=_DIM))


def _hit_session(hit: SearchHit, *, with_name: bool) -> Text:
    text = Text(short_id(hit.session_id), style="bold")
    if with_name and hit.session_name:
        text.append(" " + clean_inline(hit.session_name), style="cyan")
    return text


@render.register
def _render_delete(result: DeleteResult, console: Console) -> None:
    text = Text("Deleted session ", style=_OK_STYLE)
    text.append_text(_label(result.metadata))
    text.append(f" ({_plural(result.metadata.message_count, 'message')}).", style=_DIM)
    console.print(text)


#: An import lists at most this many of the sessions it created.
IMPORT_SHOWN = 20


@render.register
def _render_import(result: ImportResult, console: Console) -> None:
    if result.imported:
        console.print(_heading(f"Imported {_plural(len(result.imported), 'session')}"))
        console.print(_sessions_table(console, result.imported[:IMPORT_SHOWN]))
        if len(result.imported) > IMPORT_SHOWN:
            console.print(Text(f"… and {len(result.imported) - IMPORT_SHOWN} more", style="dim"))
    else:
        console.print(Text("Nothing was imported.", style=_WARNING_STYLE))
    if result.skipped:
        console.print(Text(f"Skipped {len(result.skipped)}:", style=f"bold {_WARNING_STYLE}"))
        for source, reason in result.skipped:
            line = Text("  ")
            line.append(clean_inline(source), style="bold")
            line.append(": " + clean_inline(reason))
            console.print(line)
    if result.notes:
        console.print(Text("Notes:", style="bold"))
        for note in result.notes:
            console.print(Text("  " + clean_inline(note)))


@render.register
def _render_doctor(result: DoctorReport, console: Console) -> None:
    checked = _plural(result.sessions_checked, "session")
    if not result.findings:
        console.print(
            Text(f"All {checked} in {clean_inline(str(result.root))} are healthy.", style=_OK_STYLE)
        )
        return
    table = Table(box=table_box(console), title=f"Doctor: {checked} checked", title_justify="left")
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
                style="dim",
            )
        )


@render.register
def _render_prune(result: PruneResult, console: Console) -> None:
    cutoff = absolute_time(result.cutoff)
    count = _plural(len(result.sessions), "session")
    if not result.sessions and not result.failures and not result.not_reached:
        console.print(Text(f"No sessions were last active before {cutoff}; nothing to prune."))
        return
    if result.sessions:
        title = (
            f"Would delete {count} last active before {cutoff} (dry run)"
            if result.dry_run
            else f"Deleted {count} last active before {cutoff}"
        )
        console.print(_heading(title))
        console.print(_sessions_table(console, result.sessions[:PRUNE_SHOWN]))
        if len(result.sessions) > PRUNE_SHOWN:
            more = len(result.sessions) - PRUNE_SHOWN
            console.print(Text(f"… and {more:,} more (--json lists every one).", style=_DIM))
    for session_id, reason in result.failures:
        text = Text("Kept ", style=_WARNING_STYLE)
        text.append(clean_inline(short_id(session_id)), style="bold")
        text.append(": " + clean_inline(reason), style=_WARNING_STYLE)
        console.print(text)
    if result.not_reached:
        kept = _plural(result.not_reached, "session")
        console.print(Text(f"Cancelled: {kept} not deleted.", style=_WARNING_STYLE))


_VERBS = {
    "rename": "renamed",
    "renamed": "renamed",
    "archive": "archived",
    "archived": "archived",
    "unarchive": "unarchived",
    "unarchived": "unarchived",
    "fork": "forked",
    "forked": "forked",
}


@render.register
def _render_changed(result: SessionChanged, console: Console) -> None:
    meta = result.metadata
    verb = _VERBS.get(result.verb.lower(), result.verb.lower())
    text = Text(style=_OK_STYLE)
    if verb == "renamed":
        if meta.name:
            text.append(f"Renamed {short_id(meta.id)} to ")
            text.append(clean_inline(meta.name), style="bold cyan")
        else:
            text.append(f"Removed the name of {short_id(meta.id)}")
    elif verb == "forked":
        source = short_id(result.source_id or str(meta.custom_fields.get("forked_from", "?")))
        text.append(f"Forked {clean_inline(source)} into ")
        text.append_text(_label(meta))
    else:
        text.append(f"{clean_inline(verb).capitalize()} ")
        text.append_text(_label(meta))
    console.print(text)


@render.register
def _render_export(result: ExportResult, console: Console) -> None:
    if result.path is not None:
        text = Text(
            f"Exported {short_id(result.session_id)} as {clean_inline(result.fmt)} to ", style=_OK_STYLE
        )
        text.append(clean_inline(str(result.path)), style="bold")
        console.print(text)
        return
    body = result.text or ""
    if is_plain(console):
        # Redirected to a file or a pipe: the export itself, byte for byte.
        console.file.write(body)
        console.file.flush()
        return
    console.print(Text(clean(body.removesuffix("\n"))), soft_wrap=True, markup=False, highlight=False)


@render.register
def _render_cancelled(result: Cancelled, console: Console) -> None:
    console.print(Text(clean_lines(result.message), style=_WARNING_STYLE))


@render.register
def _render_notice(result: Notice, console: Console) -> None:
    console.print(Text(clean_lines(result.message)))
    for line in result.lines:
        console.print(Text("  " + clean_lines(line)))


@render.register
def _render_help(result: HelpResult, console: Console) -> None:
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
            summary.append(f" (alias: {', '.join(clean_inline(a) for a in entry.aliases)})", style=_DIM)
        console.print(summary)


def _help_detail(entry: CommandHelp) -> Group:
    parts: list[RenderableType] = [Text("Usage: ", style="bold").append(clean_inline(entry.usage))]
    if entry.aliases:
        parts.append(Text(f"Aliases: {', '.join(clean_inline(a) for a in entry.aliases)}", style=_DIM))
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


@render.register
def _render_brief(result: SessionBrief, console: Console) -> None:
    console.print(_summary_line(result))


def _render_metadata(result: SessionMetadata, console: Console) -> None:
    console.print(_summary_line(result))


def _render_message(result: Message, console: Console) -> None:
    render_messages([result], console)


# ---------------------------------------------------------------------------------------- errors


def render_error(exc: BaseException, console: Console, *, log_path: Path | str | None = None) -> None:
    """Print ``exc`` as a red panel: a :class:`ChatcliError` with its title and ``user_message()``.

    Any other exception is unexpected: the panel says so with its type and text, and points at
    ``log_path`` (where the caller wrote the traceback) when given.
    """
    if isinstance(exc, ChatcliError):
        title = exc.title
        body = Text(clean_lines(exc.user_message()))
    else:
        title = "Error"
        detail = shorten(str(exc), 500)
        body = Text(
            clean_lines(f"Unexpected error: {type(exc).__name__}" + (f": {detail}" if detail else ""))
        )
        if log_path is not None:
            body.append("\nDetails were written to ")
            body.append(clean_inline(str(log_path)), style="bold")
            body.append(".")
    console.print(
        Panel(
            body,
            title=Text(title, style="bold red"),
            title_align="left",
            border_style="red",
            box=panel_box(console),
            expand=False,
        )
    )


# ---------------------------------------------------------------------------------------- replies


def render_reply_markdown(text: str, *, hyperlinks: bool = True) -> Markdown:
    """A model reply as rich ``Markdown``, after :func:`~chatcli.render.sanitize.clean`.

    Markdown never interprets rich markup, and cleaning first removes every escape sequence the
    reply carried. Links keep rich's default (``hyperlinks=True``): rich itself writes a
    well-formed OSC 8 hyperlink around the link text (only on terminals), with the URL cleaned,
    so no sequence from the reply reaches the terminal; pass ``hyperlinks=False`` to print each
    URL visibly after its link text instead.
    """
    from rich.markdown import Markdown  # imported on first use: listings never need it

    return Markdown(clean(text), hyperlinks=hyperlinks)
