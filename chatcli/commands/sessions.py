"""The ``sessions`` command family's handlers that change or export sessions: name, archive,
unarchive, delete, export, fork, prune and doctor (list and show: :mod:`chatcli.commands.listing`).
The same handlers serve ``/sessions …`` and ``chatcli sessions …``. Their specs (words,
arguments, options, help) are in :mod:`chatcli.commands.sessions_table`.
"""

from __future__ import annotations

from pathlib import Path

from chatcli.commands.context import CommandContext
from chatcli.commands.labels import confirm_pinned_delete
from chatcli.commands.output_file import write_export
from chatcli.commands.refs import session_ref
from chatcli.commands.results import Cancelled, ExportResult, SessionChanged
from chatcli.commands.spec import ParsedArgs, UsageError, format_duration
from chatcli.commands.trash import apply_retention, undo_hint
from chatcli.render.timefmt import iso_minute, short_id
from chatcli.render.transcript import transcript_markdown
from chatcli.sanitize import clean_inline, shorten
from chatcli.session.errors import OperationRefused
from chatcli.session.health import DoctorReport
from chatcli.session.outcomes import (
    DeleteResult,
    PruneResult,
)
from chatcli.session.transfer import export_json

__all__ = [
    "archive_session",
    "delete_session",
    "doctor_sessions",
    "export_session",
    "fork_session",
    "name_session",
    "prune_sessions",
    "unarchive_session",
]


def _require_confirmation(ctx: CommandContext, question: str, refusal: str, retry: str) -> bool:
    """Ask ``question``; without a terminal refuse with a hint to use ``--yes``."""
    if ctx.confirm is None:
        raise OperationRefused(refusal, f"Nothing was deleted. Re-run with --yes to confirm: {retry}")
    return ctx.confirm(question)


def name_session(ctx: CommandContext, args: ParsedArgs) -> SessionChanged:
    """``sessions name ID NAME`` / ``--clear``; in the chat ``name NAME`` names the session in use."""
    ref, name = args.text("id"), args.text("name")
    usage = f"{ctx.prefix}sessions name ID NAME|--clear"
    if ctx.in_chat and name is None and ref is not None and not args.flag("clear"):
        ref, name = None, ref  # `/sessions name NAME`: the session in use
    if args.flag("clear"):
        if name is not None:
            raise UsageError("give either NAME or --clear, not both", f"{ctx.prefix}sessions name ID NAME")
        meta = ctx.service.resolve(session_ref(ctx, ref, usage))
        if meta.name is None:
            return SessionChanged("renamed", meta, unchanged=True)
        return SessionChanged("renamed", ctx.service.rename(meta.id, None))
    if name is None:
        raise UsageError("missing NAME (or use --clear to remove the name)", usage)
    meta = ctx.service.resolve(session_ref(ctx, ref, usage))
    if meta.name == name:
        return SessionChanged("renamed", meta, unchanged=True)
    return SessionChanged("renamed", ctx.service.rename(meta.id, name))


def archive_session(ctx: CommandContext, args: ParsedArgs) -> SessionChanged:
    """``sessions archive [ID]`` (says so when the session already is archived)."""
    meta = ctx.service.resolve(session_ref(ctx, args.text("id"), f"{ctx.prefix}sessions archive ID"))
    if meta.is_archived:
        return SessionChanged("archived", meta, unchanged=True)
    return SessionChanged("archived", ctx.service.archive(meta.id))


def unarchive_session(ctx: CommandContext, args: ParsedArgs) -> SessionChanged:
    """``sessions unarchive ID`` (says so when the session already is active)."""
    meta = ctx.service.resolve(session_ref(ctx, args.required("id"), f"{ctx.prefix}sessions unarchive ID"))
    if not meta.is_archived:
        return SessionChanged("unarchived", meta, unchanged=True)
    return SessionChanged("unarchived", ctx.service.unarchive(meta.id))


def delete_session(ctx: CommandContext, args: ParsedArgs) -> DeleteResult | Cancelled:
    """``sessions delete ID``: to the trash (``--permanent``: for good); asks first (``--yes``
    skips); refuses without a terminal. A pinned session needs ``--force`` or a confirmation
    naming it as pinned."""
    ref = session_ref(ctx, args.required("id"), f"{ctx.prefix}sessions delete ID")
    meta = ctx.service.resolve(ref)
    permanent = args.flag("permanent")
    if meta.pinned and not args.flag("force"):
        what = _describe(meta.id, meta.name, meta.message_count)
        if not confirm_pinned_delete(ctx, meta, what, yes=args.flag("yes"), permanent=permanent):
            return Cancelled("Nothing was deleted.")
    elif not args.flag("yes"):
        what = _describe(meta.id, meta.name, meta.message_count)
        what = f"the session you are in, {what}," if meta.id == ctx.current_session_id else f"session {what}"
        question = (
            f"Delete {what} for good? It skips the trash and cannot be restored."
            if permanent
            else f"Move {what} to the trash?"
        )
        refusal = f"refusing to delete {what.rstrip(',')} without confirmation (no terminal to ask on)"
        flags = " --permanent" if permanent else ""
        retry = f"{ctx.prefix}sessions delete {meta.id}{flags} --yes"
        if not _require_confirmation(ctx, question, refusal, retry):
            return Cancelled("Nothing was deleted.")
    result = undo_hint(ctx, ctx.service.delete(meta.id, permanent=permanent))
    apply_retention(ctx)
    return result


def _describe(session_id: str, name: str | None, messages: int) -> str:
    """``fix-login (1a717050, 8 messages)``, or ``1a717050 (8 messages)`` without a name."""
    count = f"{messages} message{'' if messages == 1 else 's'}"
    return f"{name} ({session_id[:8]}, {count})" if name else f"{session_id[:8]} ({count})"


def export_session(ctx: CommandContext, args: ParsedArgs) -> ExportResult:
    """``sessions export [ID] --format markdown|json [-o FILE]``."""
    fmt = args.text("format") or "markdown"
    if fmt not in ("markdown", "json"):
        raise UsageError(
            f"--format must be markdown or json (got {fmt!r})", f"{ctx.prefix}sessions export ID"
        )
    loaded = ctx.service.read(session_ref(ctx, args.text("id"), f"{ctx.prefix}sessions export ID"))
    meta = loaded.metadata
    text = export_json(meta, loaded.messages) if fmt == "json" else transcript_markdown(meta, loaded.messages)
    output = args.text("output")
    if output is None or output == "-":
        return ExportResult(meta.id, fmt, text=text)
    path = Path(output).expanduser()
    write_export(path, text, overwrite=args.flag("force"))
    return ExportResult(meta.id, fmt, path=path)


def fork_session(ctx: CommandContext, args: ParsedArgs) -> SessionChanged:
    """``sessions fork [ID] [--name NAME]``."""
    source = ctx.service.resolve(session_ref(ctx, args.text("id"), f"{ctx.prefix}sessions fork ID"))
    forked = ctx.service.fork(source.id, args.text("name"))
    return SessionChanged("forked", forked, source_id=source.id)


def prune_sessions(ctx: CommandContext, args: ParsedArgs) -> PruneResult | Cancelled:
    """``sessions prune --older-than DURATION``: explicit clean-up only, confirmed unless ``--yes``."""
    older = args.duration("older_than")
    if older is None:
        raise UsageError(
            "missing --older-than DURATION (e.g. 90d)", f"{ctx.prefix}sessions prune --older-than 90d"
        )
    candidates = ctx.service.prune_candidates(older, archived_only=args.flag("archived_only"))
    if args.flag("dry_run") or not candidates.sessions:
        return candidates
    if not args.flag("yes"):
        kind = "archived sessions" if args.flag("archived_only") else "sessions"
        question = _prune_question(candidates, kind)
        refusal = f"refusing to prune {len(candidates.sessions)} {kind} without confirmation"
        flags = " --archived-only" if args.flag("archived_only") else ""
        retry = f"{ctx.prefix}sessions prune --older-than {format_duration(older)}{flags} --yes"
        # Ctrl-C pressed while the candidates were found: no question, nothing deleted
        if ctx.cancelled.is_set() or not _require_confirmation(ctx, question, refusal, retry):
            return Cancelled("Nothing was deleted.")
    result = ctx.service.prune(candidates, should_stop=ctx.cancelled.is_set)
    if not ctx.cancelled.is_set():  # stopped by Ctrl-C: it does not go on to empty the trash
        apply_retention(ctx)
    return result


#: How many of the sessions a prune would delete its confirmation lists.
PRUNE_LISTED = 20


def _prune_question(candidates: PruneResult, kind: str) -> str:
    """The prune confirmation: the exact cutoff (UTC), the first :data:`PRUNE_LISTED` sessions
    (short id, name, first message; one line each) and how many more."""
    count = len(candidates.sessions)
    lines = [f"Delete {count} {kind} last active before {iso_minute(candidates.cutoff)}:"]
    for meta in candidates.sessions[:PRUNE_LISTED]:
        label = f"{short_id(meta.id)}  {clean_inline(meta.name)}" if meta.name else short_id(meta.id)
        first = clean_inline(shorten(" ".join(meta.first_message.split()), 50))
        lines.append(f"  {label}  {first}".rstrip())
    if count > PRUNE_LISTED:
        lines.append(f"  … and {count - PRUNE_LISTED} more")
    lines.append(f"Move {'it' if count == 1 else 'them'} to the trash?")
    return "\n".join(lines)


def doctor_sessions(ctx: CommandContext, args: ParsedArgs) -> DoctorReport:
    """``sessions doctor [--repair]``."""
    return ctx.service.doctor(repair=args.flag("repair"))
