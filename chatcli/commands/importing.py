"""``sessions import``: chatcli's own JSON exports, or another assistant's history (``--from``).
The command's spec is in :mod:`chatcli.commands.sessions_table`."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from chatcli.commands.context import CommandContext
from chatcli.commands.results import ImportReport
from chatcli.commands.spec import ParsedArgs, UsageError
from chatcli.importers.outcome import ToolImport

__all__ = ["import_sessions"]

_FROM_USAGE = "sessions import --from TOOL [PATH …] [--all-projects] [--dry-run]"


def import_sessions(ctx: CommandContext, args: ParsedArgs) -> ImportReport | ToolImport:
    """``sessions import FILE|-``, or ``sessions import --from TOOL [PATH …]``."""
    tool = args.text("from_tool")
    if tool is not None:
        return _import_from(ctx, args, tool)
    usage = f"{ctx.prefix}sessions import FILE  or  {ctx.prefix}{_FROM_USAGE}"
    if args.flag("all_projects") or args.flag("dry_run"):
        raise UsageError("--all-projects and --dry-run go with --from TOOL", usage)
    files = args.words("file")
    if not files:
        raise UsageError("missing FILE (or --from TOOL to import another assistant's history)", usage)
    if len(files) > 1:
        raise UsageError("give one FILE (quote a name with spaces)", usage)
    new_ids = args.flag("new_ids")
    if files[0] == "-":
        if ctx.in_chat:
            raise UsageError("'-' (standard input) works on the command line only: give a FILE here", usage)
        with _typed_input(ctx):
            result = ctx.service.import_file(
                Path("standard input"),
                should_stop=ctx.cancelled.is_set,
                new_ids=new_ids,
                stream=sys.stdin.buffer,
            )
    else:
        path = Path(files[0]).expanduser()
        with _progress(ctx, path) as advance:
            result = ctx.service.import_file(
                path, should_stop=ctx.cancelled.is_set, new_ids=new_ids, progress=advance
            )
    return ImportReport(result, verbose=args.flag("verbose"))


@contextlib.contextmanager
def _typed_input(ctx: CommandContext) -> Iterator[None]:
    """Standard input is the terminal: the import waits for what is typed, so it would never reach
    a next record to stop at; Ctrl-C ends it at once (as it ends a question), one pressed before
    too."""
    if not sys.stdin.isatty():
        yield
        return
    from chatcli.sigint import sigint_interrupts

    with sigint_interrupts():
        if ctx.cancelled.is_set():
            raise KeyboardInterrupt
        yield


def _progress(ctx: CommandContext, path: Path) -> contextlib.AbstractContextManager[Callable[[int], None]]:
    """A progress bar over the bytes of ``path`` when the context can show one (a terminal)."""
    if ctx.progress is None:
        return contextlib.nullcontext(lambda _done: None)
    try:
        total: int | None = path.stat().st_size
    except OSError:
        total = None  # the import itself reports why the file cannot be read
    return ctx.progress(f"Importing {path.name}", total)


def _import_from(ctx: CommandContext, args: ParsedArgs, tool: str) -> ToolImport:
    usage = ctx.prefix + _FROM_USAGE
    if args.flag("new_ids"):
        raise UsageError("--new-ids is for chatcli's own exports, not --from", usage)
    paths = [Path(word).expanduser() for word in args.words("file")]
    if "-" in args.words("file"):
        raise UsageError("--from reads files or folders, not standard input", usage)
    from chatcli.importers.run import import_from  # the seven readers load only when used
    from chatcli.render.imports import progress_callback

    with progress_callback(f"Importing from {tool}") as on_progress:
        return import_from(
            ctx.service.repo,
            tool,
            paths,
            cwd=Path.cwd(),
            all_projects=args.flag("all_projects"),
            env=dict(os.environ),
            dry_run=args.flag("dry_run"),
            should_stop=ctx.cancelled.is_set,
            on_progress=on_progress,
        )
