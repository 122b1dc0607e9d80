"""Terminal rendering of command results and errors: the one place chatcli prints them.

:func:`render` dispatches on the result's type to the renderer registered for it here (the
table below is the list of every result a command can hand to the terminal). Every string that
did not come from chatcli's own source (session names, first messages, transcripts, snippets,
file names, error details, custom fields) goes through :mod:`chatcli.sanitize` and into a
``rich.text.Text``, so it is shown literally: never interpreted as rich markup, never executed
as an escape sequence.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from chatcli.errors import ChatcliError
from chatcli.render.console import is_plain
from chatcli.render.styles import OK_STYLE, WARNING_STYLE, session_label
from chatcli.render.timefmt import short_id
from chatcli.sanitize import clean, clean_inline, clean_lines, shorten

if TYPE_CHECKING:
    from chatcli.commands.results import Cancelled, ExportResult, PromptReply, SessionChanged, TagsChanged

__all__ = ["RENDERERS", "render", "render_error"]


#: Every result a command can hand to the terminal, and its renderer: both ``"module:name"``
#: references, imported when a result of that type is rendered (so a command loads the renderer
#: it needs, not all of them). A subclass (``RecentSessions``) takes its nearest listed base's.
RENDERERS: dict[str, str] = {
    "chatcli.session.outcomes:ListResult": "chatcli.render.tables:render_list",
    "chatcli.session.outcomes:SessionDetail": "chatcli.render.reports:render_detail",
    "chatcli.session.outcomes:SearchResult": "chatcli.render.tables:render_search",
    "chatcli.commands.results:SessionChanged": "chatcli.render.terminal:_render_changed",
    "chatcli.session.outcomes:DeleteResult": "chatcli.render.trash:render_delete",
    "chatcli.session.outcomes:TrashResult": "chatcli.render.trash:render_trash",
    "chatcli.session.outcomes:RestoreResult": "chatcli.render.trash:render_restore",
    "chatcli.session.outcomes:EmptyTrashResult": "chatcli.render.trash:render_empty",
    "chatcli.commands.results:TagsChanged": "chatcli.render.terminal:_render_tags",
    "chatcli.commands.results:Cancelled": "chatcli.render.terminal:_render_cancelled",
    "chatcli.commands.results:ExportResult": "chatcli.render.terminal:_render_export",
    "chatcli.session.transfer:ImportResult": "chatcli.render.reports:render_import",
    "chatcli.commands.results:ImportReport": "chatcli.render.reports:render_import_report",
    "chatcli.importers.outcome:ToolImport": "chatcli.render.imports:render_tool_import",
    "chatcli.session.outcomes:PruneResult": "chatcli.render.tables:render_prune",
    "chatcli.session.health:DoctorReport": "chatcli.render.reports:render_doctor",
    "chatcli.commands.results:HelpResult": "chatcli.render.help:render_help",
    "chatcli.commands.results:PromptReply": "chatcli.render.terminal:_render_prompt_reply",
    "chatcli.session.all_projects:ProjectsListResult": "chatcli.render.projects:render_projects_list",
    "chatcli.session.all_projects:ProjectsSearchResult": "chatcli.render.projects:render_projects_search",
}


def render(result: object, console: Console) -> None:
    """Print a command result on ``console``; a type with no renderer raises ``TypeError``."""
    for cls in type(result).__mro__:
        reference = RENDERERS.get(f"{cls.__module__}:{cls.__qualname__}")
        if reference is not None:
            module, _, name = reference.partition(":")
            renderer: Callable[[Any, Console], None] = getattr(importlib.import_module(module), name)
            renderer(result, console)
            return
    raise TypeError(f"no renderer for {type(result).__name__}")


def _render_unchanged(result: SessionChanged, console: Console) -> None:
    """The session already was as asked: say so, rather than claim a change."""
    meta = result.metadata
    text = Text("Session ")
    text.append_text(session_label(meta))
    if result.verb == "archived":
        text.append(" is already archived; nothing changed.")
    elif result.verb == "unarchived":
        text.append(" is already active; nothing changed.")
    elif result.verb in ("pinned", "unpinned"):
        text.append(f" is {'already' if result.verb == 'pinned' else 'not'} pinned; nothing changed.")
    elif meta.name:
        text.append(" is already named ")
        text.append(clean_inline(meta.name), style="bold cyan")
        text.append("; nothing changed.")
    else:
        text.append(" has no name; nothing changed.")
    console.print(text)


def _render_changed(result: SessionChanged, console: Console) -> None:
    meta = result.metadata
    if result.unchanged:
        _render_unchanged(result, console)
        return
    text = Text(style=OK_STYLE)
    if result.verb == "renamed":
        if meta.name:
            text.append(f"Renamed {short_id(meta.id)} to ")
            text.append(clean_inline(meta.name), style="bold cyan")
        else:
            text.append(f"Removed the name of {short_id(meta.id)}")
    elif result.verb == "forked":
        source = short_id(result.source_id or str(meta.custom_fields.get("forked_from", "?")))
        text.append(f"Forked {clean_inline(source)} into ")
        text.append_text(session_label(meta))
    else:
        text.append(f"{clean_inline(result.verb).capitalize()} ")
        text.append_text(session_label(meta))
    console.print(text)


def _render_tags(result: TagsChanged, console: Console) -> None:
    """``Tagged 1a2b3c4d (fix-login) bug, ux; its tags: auth, bug, ux.`` (or why nothing changed)."""
    meta = result.metadata
    given = ", ".join(result.given)
    now = ", ".join(meta.tags) if meta.tags else "none"
    if result.unchanged:
        text = Text("Session ")
        text.append_text(session_label(meta))
        has = "already has" if result.verb == "tagged" else "has none of"
        text.append(f" {has} the tags {given}; nothing changed. Its tags: {now}.")
    else:
        text = Text(f"{'Tagged' if result.verb == 'tagged' else 'Untagged'} ", style=OK_STYLE)
        text.append_text(session_label(meta))
        text.append(f" {given}; its tags: {now}.")
    console.print(text)


def _render_export(result: ExportResult, console: Console) -> None:
    if result.path is not None:
        text = Text(
            f"Exported {short_id(result.session_id)} as {clean_inline(result.fmt)} to ", style=OK_STYLE
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


def _render_prompt_reply(result: PromptReply, console: Console) -> None:
    """A headless turn's reply: its text as it arrived (literally; the terminal interprets nothing)."""
    if is_plain(console):
        console.file.write(result.reply)
        console.file.flush()
        return
    console.print(Text(clean(result.reply)), soft_wrap=True, markup=False, highlight=False)


def _render_cancelled(result: Cancelled, console: Console) -> None:
    console.print(Text(clean_lines(result.message), style=WARNING_STYLE))


def render_error(exc: BaseException, console: Console, *, log_path: Path | str | None = None) -> None:
    """Print ``exc``: a :class:`ChatcliError` with its title and ``user_message()``.

    On a terminal it is a red panel; in a pipe or a file it is one plain ``error: …`` line plus
    the hint lines, never wrapped (a suggested command stays whole, ready to copy). Any other
    exception is unexpected: the message says so with its type and text, and points at
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
    if is_plain(console):
        console.print(Text("error: ").append_text(body), soft_wrap=True)
        return
    console.print(
        Panel(
            body,
            title=Text(title, style="bold red"),
            title_align="left",
            border_style="red",
            box=box.ROUNDED,
            expand=False,
        )
    )
