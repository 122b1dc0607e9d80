"""The trash commands: ``sessions trash`` (list), ``sessions restore ID|NAME`` and ``sessions
trash empty [--older-than DURATION]`` — the only way, with ``delete --permanent``, that a session
is erased for good. The same handlers serve ``/sessions …`` and ``chatcli sessions …``; their
specs are in :mod:`chatcli.commands.sessions_table`.
"""

from __future__ import annotations

from chatcli.commands.context import CommandContext
from chatcli.commands.results import Cancelled
from chatcli.commands.spec import ParsedArgs, format_duration, parse_duration
from chatcli.render.timefmt import short_id
from chatcli.sanitize import clean_inline, shorten
from chatcli.session.errors import OperationRefused
from chatcli.session.outcomes import DeleteResult, EmptyTrashResult, RestoreResult, TrashResult

__all__ = ["apply_retention", "empty_trash", "list_trash", "restore_session", "undo_hint"]

#: How many of the sessions an emptying would erase its confirmation lists.
EMPTY_LISTED = 20


def undo_hint(ctx: CommandContext, result: DeleteResult) -> DeleteResult:
    """``result`` with the command that brings the session back (none when it was erased)."""
    if result.trash_id is None:
        return result
    return DeleteResult(
        result.metadata, result.trash_id, f"{ctx.prefix}sessions restore {result.metadata.id[:8]}"
    )


def apply_retention(ctx: CommandContext) -> EmptyTrashResult | None:
    """Empty what is older than the trash retention the user set (``trash_retention`` in the
    config; off by default): None when it is off or nothing is due."""
    label = ctx.trash_retention()
    if label is None or label == "off":
        return None
    return ctx.service.trash.expire(parse_duration(label), label)


def list_trash(ctx: CommandContext, args: ParsedArgs) -> TrashResult:
    """``sessions trash``: what the trash holds (a retention set in the config applies first)."""
    expired = apply_retention(ctx)
    listing = ctx.service.trash.list()
    if expired is not None and expired.sessions:
        return TrashResult(listing.sessions, listing.problems, expired)
    return listing


def restore_session(ctx: CommandContext, args: ParsedArgs) -> RestoreResult:
    """``sessions restore ID|NAME``: back from the trash (unnamed if its name is taken now)."""
    return ctx.service.trash.restore(args.required("id"))


def empty_trash(ctx: CommandContext, args: ParsedArgs) -> EmptyTrashResult | Cancelled:
    """``sessions trash empty [--older-than DURATION]``: erase for good, confirmed unless ``--yes``."""
    older = args.duration("older_than")
    candidates = ctx.service.trash.candidates(older)
    if args.flag("dry_run") or not candidates.sessions:
        return candidates
    if not args.flag("yes"):
        count = len(candidates.sessions)
        what = f"{count} session{'' if count == 1 else 's'} in the trash"
        flags = f" --older-than {format_duration(older)}" if older is not None else ""
        retry = f"{ctx.prefix}sessions trash empty{flags} --yes"
        if ctx.cancelled.is_set():  # Ctrl-C pressed while the candidates were found: no question
            return Cancelled("Nothing was erased: the trash is as it was.")
        if ctx.confirm is None:
            raise OperationRefused(
                f"refusing to erase {what} for good without confirmation (no terminal to ask on)",
                f"Nothing was erased. Re-run with --yes to confirm: {retry}",
            )
        if not ctx.confirm(_empty_question(candidates)):
            return Cancelled("Nothing was erased: the trash is as it was.")
    return ctx.service.trash.empty(candidates, should_stop=ctx.cancelled.is_set)


def _empty_question(candidates: EmptyTrashResult) -> str:
    count = len(candidates.sessions)
    lines = [f"Erase {count} session{'' if count == 1 else 's'} from the trash for good:"]
    for entry in candidates.sessions[:EMPTY_LISTED]:
        label = (
            f"{short_id(entry.session_id)}  {clean_inline(entry.name)}"
            if entry.name
            else short_id(entry.session_id)
        )
        first = clean_inline(shorten(" ".join(entry.metadata.first_message.split()), 50))
        lines.append(f"  {label}  {first}".rstrip())
    if count > EMPTY_LISTED:
        lines.append(f"  … and {count - EMPTY_LISTED} more")
    lines.append("They cannot be restored afterwards. Erase them?")
    return "\n".join(lines)
