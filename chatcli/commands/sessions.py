"""The ``sessions`` command family: list, show, name, archive, unarchive, delete, search,
export, import, fork and prune — the same handlers serve ``/sessions …`` and ``chatcli sessions …``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from chatcli.commands.context import CommandContext
from chatcli.commands.labels import TAG_FILTER, confirm_pinned_delete
from chatcli.commands.output_file import write_export
from chatcli.commands.refs import CURRENT_SESSION, SESSION, session_ref
from chatcli.commands.results import Cancelled, ExportResult, ImportReport, SessionChanged
from chatcli.commands.spec import Arg, Command, Option, ParsedArgs, UsageError, format_duration
from chatcli.commands.trash import apply_retention, undo_hint
from chatcli.render.timefmt import iso_minute, short_id
from chatcli.render.transcript import transcript_markdown
from chatcli.sanitize import clean_inline, shorten
from chatcli.session.errors import OperationRefused
from chatcli.session.health import DoctorReport
from chatcli.session.outcomes import (
    DeleteResult,
    ListResult,
    PruneResult,
    SearchResult,
    SessionDetail,
    StatusChoice,
)
from chatcli.session.transfer import export_json

__all__ = ["SESSION_COMMANDS", "TSV_COMMANDS", "session_ref"]

#: The commands whose records ``--tsv`` prints as tab-separated values (on the command line).
TSV_COMMANDS = (("sessions", "list"), ("sessions", "search"), ("sessions", "prune"))
_TSV_DETAILS = "On the command line, --tsv prints tab-separated values, one record a line (see the README)."

_YES = Option(("-y", "--yes"), "yes", "do not ask for confirmation")
_LIMIT = Option(("-n", "--limit"), "limit", "show at most N", kind="int", metavar="N")


def _require_confirmation(ctx: CommandContext, question: str, refusal: str, retry: str) -> bool:
    """Ask ``question``; without a terminal refuse with a hint to use ``--yes``."""
    if ctx.confirm is None:
        raise OperationRefused(refusal, f"Nothing was deleted. Re-run with --yes to confirm: {retry}")
    return ctx.confirm(question)


#: ``sessions list`` shows this many sessions unless told otherwise (``--limit N``, ``--no-limit``):
#: years of sessions must not flood the terminal, and the listing says how many there are in all.
DEFAULT_LIST_LIMIT = 50


def list_sessions(ctx: CommandContext, args: ParsedArgs) -> ListResult:
    """``sessions list``."""
    status: StatusChoice = "active"
    if args.flag("all"):
        status = "all"
    elif args.flag("archived"):
        status = "archived"
    limit = args.number("limit")
    if args.flag("no_limit"):
        if limit is not None:
            raise UsageError(
                "give either --limit N or --no-limit, not both", f"{ctx.prefix}sessions list --limit N"
            )
    elif limit is None:
        limit = DEFAULT_LIST_LIMIT
    return ctx.service.list_sessions(
        status=status, search=args.text("search"), limit=limit, tags=args.texts("tag")
    )


def show_session(ctx: CommandContext, args: ParsedArgs) -> SessionDetail:
    """``sessions show [ID]`` (in the chat, no ID or ``.`` is the session in use)."""
    ref = session_ref(ctx, args.text("id"), f"{ctx.prefix}sessions show ID")
    return ctx.service.show(ref, last=args.number("last") or 6)


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


def search_sessions(ctx: CommandContext, args: ParsedArgs) -> SearchResult:
    """``sessions search TEXT``: full text over every message."""
    status: StatusChoice = "all"
    if args.flag("active"):
        status = "active"
    elif args.flag("archived"):
        status = "archived"
    text = args.required("text")
    if not text.strip():
        raise UsageError("the search TEXT is empty", f"{ctx.prefix}sessions search TEXT…")
    return ctx.service.search(
        text,
        limit=args.number("limit") or 20,
        status=status,
        should_stop=ctx.cancelled.is_set,
        trash=args.flag("trash"),
        tags=args.texts("tag"),
    )


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


def import_sessions(ctx: CommandContext, args: ParsedArgs) -> ImportReport:
    """``sessions import FILE|-`` (``-`` reads standard input, on the command line only)."""
    name = args.required("file")
    new_ids = args.flag("new_ids")
    if name == "-":
        if ctx.prefix == "/":
            raise UsageError(
                "'-' (standard input) works on the command line only: give a FILE here",
                "/sessions import FILE",
            )
        result = ctx.service.import_file(
            Path("standard input"), should_stop=ctx.cancelled.is_set, new_ids=new_ids, stream=sys.stdin.buffer
        )
    else:
        path = Path(name).expanduser()
        with _progress(ctx, path) as advance:
            result = ctx.service.import_file(
                path, should_stop=ctx.cancelled.is_set, new_ids=new_ids, progress=advance
            )
    return ImportReport(result, verbose=args.flag("verbose"))


def _progress(ctx: CommandContext, path: Path) -> contextlib.AbstractContextManager[Callable[[int], None]]:
    """A progress bar over the bytes of ``path`` when the context can show one (a terminal)."""
    if ctx.progress is None:
        return contextlib.nullcontext(lambda _done: None)
    try:
        total: int | None = path.stat().st_size
    except OSError:
        total = None  # the import itself reports why the file cannot be read
    return ctx.progress(f"Importing {path.name}", total)


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
        if not _require_confirmation(ctx, question, refusal, retry):
            return Cancelled("Nothing was deleted.")
    result = ctx.service.prune(candidates, should_stop=ctx.cancelled.is_set)
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


SESSION_COMMANDS: tuple[Command, ...] = (
    Command(
        ("sessions", "list"),
        "List saved sessions, newest first (active ones unless --archived or --all)",
        list_sessions,
        options=(
            Option(("--archived",), "archived", "only archived sessions"),
            Option(("-a", "--all"), "all", "active and archived sessions"),
            Option(
                ("-s", "--search"),
                "search",
                "only sessions whose name or first message contains TEXT",
                kind="text",
                metavar="TEXT",
            ),
            Option(("-n", "--limit"), "limit", "show at most N (default 50)", kind="int", metavar="N"),
            Option(("--no-limit",), "no_limit", "show every matching session"),
            TAG_FILTER,
        ),
        aliases=("ls",),
        details=_TSV_DETAILS,
        examples=(
            "sessions list --all --limit 20",
            "sessions list --search docker",
            "sessions list --tag bug",
        ),
    ),
    Command(
        ("sessions", "show"),
        "Show a session's details and its last messages",
        show_session,
        args=(CURRENT_SESSION,),
        options=(
            Option(("--last",), "last", "show the last N messages (default 6)", kind="int", metavar="N"),
        ),
        examples=("sessions show 1a2b", "sessions show fix-login --last 20"),
    ),
    Command(
        ("sessions", "name"),
        "Name a session (names are unique; letters, digits, '-' and '_')",
        name_session,
        args=(
            CURRENT_SESSION,
            Arg("name", "name", "the new name (1-100 of A-Z a-z 0-9 - _)", required=False),
        ),
        options=(Option(("--clear",), "clear", "remove the session's name"),),
        aliases=("rename",),
        examples=("sessions name 1a2b fix-login", "sessions name fix-login --clear"),
        details="In the chat, '/sessions name NAME' names the session you are in.",
    ),
    Command(
        ("sessions", "archive"),
        "Archive a session: hidden from the default list, kept and resumable",
        archive_session,
        args=(CURRENT_SESSION,),
    ),
    Command(
        ("sessions", "unarchive"),
        "Bring an archived session back to the default list",
        unarchive_session,
        args=(SESSION,),
    ),
    Command(
        ("sessions", "delete"),
        "Move a session to the trash (asks first; 'sessions restore' undoes it)",
        delete_session,
        args=(SESSION,),
        options=(
            _YES,
            Option(("--permanent",), "permanent", "erase it for good, skipping the trash"),
            Option(("--force",), "force", "delete even a pinned session"),
        ),
        aliases=("rm",),
        details="Without a terminal to ask on, delete refuses unless --yes is given; "
        "a pinned session also needs --force.",
    ),
    Command(
        ("sessions", "search"),
        "Search the text of every message of every session",
        search_sessions,
        args=(Arg("text", "text", "words to look for (case-insensitive)", rest=True),),
        options=(
            _LIMIT,
            Option(("--active",), "active", "only active sessions"),
            Option(("--archived",), "archived", "only archived sessions"),
            Option(("--trash",), "trash", "search the sessions in the trash instead"),
            TAG_FILTER,
        ),
        aliases=("grep",),
        details=_TSV_DETAILS,
        examples=("sessions search retry backoff", "sessions search docker --limit 5"),
    ),
    Command(
        ("sessions", "export"),
        "Export a session as Markdown (to read) or JSON (to import elsewhere)",
        export_session,
        args=(CURRENT_SESSION,),
        options=(
            Option(
                ("-f", "--format"),
                "format",
                "output format (default markdown)",
                kind="choice",
                choices=("markdown", "json"),
                default="markdown",
            ),
            Option(
                ("-o", "--output"), "output", "write to FILE instead of printing", kind="path", metavar="FILE"
            ),
            Option(("--force",), "force", "replace FILE if it exists"),
        ),
        examples=(
            "sessions export fix-login -o fix-login.md",
            "sessions export 1a2b --format json -o s.json",
        ),
    ),
    Command(
        ("sessions", "import"),
        "Import sessions from a JSON export or a JSON-Lines file (never overwrites)",
        import_sessions,
        args=(
            Arg(
                "file",
                "path",
                "a file written by 'sessions export --format json', or JSON Lines; - reads standard input",
            ),
        ),
        options=(
            Option(("--new-ids",), "new_ids", "import a session whose id exists as a copy with a new id"),
            Option(("-v", "--verbose"), "verbose", "list the sessions skipped because they already exist"),
        ),
        examples=("sessions import backup.jsonl", "sessions import - --new-ids < s.json"),
    ),
    Command(
        ("sessions", "fork"),
        "Start a new session with a copy of another session's messages",
        fork_session,
        args=(CURRENT_SESSION,),
        options=(Option(("--name",), "name", "name the new session", kind="name", metavar="NAME"),),
        aliases=("copy",),
    ),
    Command(
        ("sessions", "prune"),
        "Move sessions not used for a while to the trash (explicit only; never automatic)",
        prune_sessions,
        options=(
            Option(
                ("--older-than",),
                "older_than",
                "last active longer ago than DURATION: h, d, w, mo (30 days) or y (365 days), "
                "e.g. 90d, 12w, 6mo, 1y, 6months (at most 1000y)",
                kind="duration",
                metavar="DURATION",
                required=True,
            ),
            Option(("--archived-only",), "archived_only", "only archived sessions"),
            Option(("--dry-run",), "dry_run", "only show what would be moved"),
            _YES,
        ),
        details=_TSV_DETAILS,
        examples=(
            "sessions prune --older-than 90d --dry-run",
            "sessions prune --older-than 1y --archived-only",
        ),
    ),
    Command(
        ("sessions", "doctor"),
        "Check every session file; --repair fixes what can be fixed without losing data",
        doctor_sessions,
        options=(
            Option(
                ("--repair",),
                "repair",
                "repair: mend torn lines, rebuild metadata, quarantine the unreadable",
            ),
        ),
        details="Repairs never delete data: anything unreadable is moved to .amazonq/sessions/.quarantine/.",
    ),
)
