"""The command line: ``chatcli`` (the REPL), ``chatcli -p MESSAGE`` (one headless turn, see
:mod:`chatcli.headless`) and ``chatcli sessions …`` (scriptable session commands).

The exit codes are :class:`chatcli.errors.ExitCode`. ``_boundary`` is the command line's single
error boundary, around running a command AND rendering its result: every error becomes a
message (or a JSON error object on stderr with ``--json``) and an exit code, and tracebacks go
to the log file. The global options (``--sessions-dir``, ``--json``) are known to the command
registry and read wherever they stand; the REPL's start-up flags are parsed by argparse.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatcli import __version__
from chatcli.commands.spec import JSON_OPTION, SESSIONS_DIR_OPTION, ParsedArgs
from chatcli.errors import ChatcliError, ExitCode

if TYPE_CHECKING:
    import argparse

    from rich.console import Console

    from chatcli.commands.registry import Registry
    from chatcli.session.outcomes import ListResult, PruneResult, SearchResult

__all__ = ["build_parser", "run", "run_sessions"]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (the REPL's flags); ``sessions …`` is parsed by the command registry."""
    import argparse  # only the REPL's flags need it: not imported on a session command's path

    parser = argparse.ArgumentParser(
        prog="chatcli",
        description=(
            "A terminal chat whose conversations are saved as you go. "
            "Run 'chatcli sessions --help' for the session commands."
        ),
        epilog="Session commands: chatcli sessions --help",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--resume",
        "-r",
        nargs="?",
        const="",
        metavar="ID|NAME",
        help="resume a session by id, id prefix or name; without a value, pick one interactively",
    )
    group.add_argument(
        "--continue", "-c", dest="continue_", action="store_true", help="resume the latest session"
    )
    parser.add_argument(*SESSIONS_DIR_OPTION.flags, metavar="PATH", help=SESSIONS_DIR_OPTION.help)
    parser.add_argument(
        "--prompt",
        "-p",
        metavar="MESSAGE",
        help="headless: send MESSAGE ('-': read it from stdin), print the reply as plain text, "
        "save the session, print its id on stderr and exit (no REPL)",
    )
    parser.add_argument(
        *JSON_OPTION.flags, action="store_true", help="with -p: print {session_id, reply, usage} as JSON"
    )
    parser.add_argument("--backend", choices=("offline", "openai"), help="model backend (default: offline)")
    parser.add_argument("--model", help="model name for the backend")
    parser.add_argument("--base-url", help="OpenAI-compatible API base URL")
    parser.add_argument(
        "--system",
        metavar="TEXT",
        help="system prompt sent first with every request (kept with the session; replaces a resumed one's)",
    )
    parser.add_argument("--print-config", action="store_true", help="show the effective settings and exit")
    parser.add_argument("--version", "-V", action="version", version=f"chatcli {__version__}")
    return parser


def run(argv: Sequence[str]) -> int:
    """Dispatch: ``sessions …`` to the session commands, anything else to the REPL."""
    args = list(argv)
    if _names_sessions(args):
        return run_sessions(args)
    parser = build_parser()
    options = parser.parse_args(args)
    if options.print_config:
        return _print_config(options)
    if options.prompt is not None:
        return _run_prompt(options)
    if options.json:
        parser.error("--json goes with -p MESSAGE (the REPL has no JSON output; see also 'chatcli sessions')")
    from chatcli.repl.startup import ReplOptions, run_repl

    return run_repl(
        ReplOptions(
            sessions_dir=options.sessions_dir,
            resume=options.resume,
            continue_latest=options.continue_,
            backend=options.backend,
            model=options.model,
            base_url=options.base_url,
            system=options.system,
        )
    )


def _run_prompt(options: argparse.Namespace) -> int:
    """``chatcli -p MESSAGE``: one headless turn (see :mod:`chatcli.headless`), inside the boundary."""
    from chatcli.headless import PromptOptions, run_prompt

    prompt = PromptOptions(
        message=options.prompt,
        sessions_dir=options.sessions_dir,
        resume=options.resume,
        continue_latest=options.continue_,
        backend=options.backend,
        model=options.model,
        base_url=options.base_url,
        system=options.system,
        as_json=options.json,
    )

    def show_error(exc: Exception) -> int:
        return _fail(exc, "chatcli -p (streaming a reply)", prompt.as_json)

    return _boundary(lambda: run_prompt(prompt, show_error), "chatcli -p", lambda: prompt.as_json)


def _names_sessions(args: Sequence[str]) -> bool:
    """True when the first word that is not a global option (``--sessions-dir``) is ``sessions``."""
    from chatcli.commands.spec import COMMAND_LINE_OPTIONS, UsageError, extract_options

    try:
        _, rest = extract_options(args, COMMAND_LINE_OPTIONS, "")
    except UsageError:  # a global option without its value: the session commands report it
        return args[:1] == ["sessions"]
    return rest[:1] == ["sessions"]


def _print_config(options: argparse.Namespace) -> int:
    from chatcli.config import load_settings
    from chatcli.render.settings import render_settings
    from chatcli.session.location import discover_sessions_dir

    def show() -> int:
        settings = load_settings(
            {
                "backend": options.backend,
                "model": options.model,
                "base_url": options.base_url,
                "system_prompt": options.system,
            }
        )
        render_settings(settings, discover_sessions_dir(options.sessions_dir).describe(), _console())
        return ExitCode.OK

    return _boundary(show, "chatcli --print-config")


def _progress_bar(
    description: str, total: int | None
) -> contextlib.AbstractContextManager[Callable[[int], None]]:
    """A progress bar on standard error (given to commands only when it is a terminal)."""
    from chatcli.render.progress import progress_bar

    return progress_bar(_console(stderr=True), description, total)


def _console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr), built on first use so ``--help`` never imports rich."""
    from chatcli.render.console import make_console as build

    return build(stderr=stderr)


def _terminal_confirm(question: str) -> bool:
    """Ask on the terminal (the question shown literally); only 'y' or 'yes' confirms."""
    from chatcli.sanitize import clean_lines
    from chatcli.sigint import sigint_interrupts

    with sigint_interrupts():  # even while a command that stops cleanly runs: Ctrl-C answers no
        answer = _read_answer(f"{clean_lines(question)} [y/N] ")
    return answer is not None and answer.strip().lower() in ("y", "yes")


def _read_answer(prompt: str) -> str | None:
    """One line typed after ``prompt``; None at end of input.

    Not ``input()``: a Ctrl-C that arrives between the prompt being written and the read starting
    would leave the read blocked with the interrupt pending (pressed right away, under load, it did).
    Waiting in short slices lets Python raise the pending :class:`KeyboardInterrupt` at once.
    """
    import select

    sys.stdout.write(prompt)
    sys.stdout.flush()
    if os.name == "nt":  # no select() on a console there
        try:
            return input()
        except EOFError:
            return None
    fd = sys.stdin.fileno()
    while not select.select([fd], [], [], 0.1)[0]:
        pass
    line = os.read(fd, 4096)  # a terminal hands over one typed line per read
    return line.decode("utf-8", "replace") if line else None


def _boundary(action: Callable[[], int], what: str, json_mode: Callable[[], bool] = lambda: False) -> int:
    """The command line's single error boundary: run ``action``, which also renders its output.

    Returns ``action``'s exit code. A :class:`ChatcliError` becomes its message (or, when
    ``json_mode()`` says so, a JSON error object on stderr) and its own exit code; Ctrl-C exits
    130; a closed output pipe propagates (it is a normal end); anything else is a bug: its
    traceback goes to the log file and the user sees a short "Unexpected error" message
    pointing there.
    """
    try:
        return action()
    except KeyboardInterrupt as exc:
        console = _console(stderr=True)
        if json_mode():
            _show_error(exc, True)
        else:  # on a terminal the ^C echo leaves the cursor mid-line: end that line first
            console.print("\nInterrupted." if console.is_terminal else "Interrupted.")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        raise  # the reader of the output went away: a normal end (chatcli.__main__ ends quietly)
    except Exception as exc:
        return _fail(exc, what, json_mode())


def _fail(exc: Exception, what: str, json_mode: bool) -> int:
    """Show ``exc`` and return its exit code: a :class:`ChatcliError`'s own; anything else is a
    bug, whose traceback goes to the log file (the message points there), exit 1."""
    if isinstance(exc, ChatcliError):
        _show_error(exc, json_mode)
        return exc.exit_code
    from chatcli.logs import log_exception

    _show_error(exc, json_mode, log_exception(exc, what))
    return ExitCode.USER


def _show_error(exc: BaseException, json_mode: bool, log: Path | None = None) -> None:
    from chatcli.render.terminal import render_error

    if json_mode:
        from chatcli.render.jsonout import dump_json, error_to_json

        dump_json(error_to_json(exc), sys.stderr)
    else:
        render_error(exc, _console(stderr=True), log_path=log)


def run_sessions(argv: Sequence[str]) -> int:
    """``chatcli sessions …``: run one session command and render its result (or its error).

    ``argv`` is the command line after ``chatcli``; the ``sessions`` word may be left out. The
    global options (``--sessions-dir PATH``, ``--json``) are read wherever they stand.
    """
    from chatcli.commands.catalog import build_registry

    registry = build_registry()
    options = ParsedArgs()

    def invoke() -> int:
        nonlocal options
        options, words = registry.split_command_line(argv)
        return _run_command(registry, words[1:] if words[:1] == ["sessions"] else words, options)

    return _boundary(invoke, "chatcli " + " ".join(argv), lambda: options.flag("json"))


def _run_command(registry: Registry, words: list[str], options: ParsedArgs) -> int:
    """Run one session command (``words`` after ``sessions``) and render what it returns."""
    from chatcli.commands.context import CommandContext
    from chatcli.commands.spec import HelpRequested
    from chatcli.render.plain import write_plain
    from chatcli.session.all_projects import open_file_projects
    from chatcli.session.location import discover_sessions_dir

    if words[:1] in (["-h"], ["--help"], ["help"]):
        from chatcli.render.terminal import render

        render(registry.help(["sessions"], scope="cli", prefix="chatcli "), _console())
        return ExitCode.OK
    if options.flag("tsv"):
        _check_tsv(registry, words, options)
    location = discover_sessions_dir(options.text("sessions_dir"))
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    projects = open_file_projects(location, _warn)
    ctx = CommandContext(
        projects.here.service,
        confirm=_terminal_confirm if interactive else None,
        prefix="chatcli ",
        sessions_folder=location.describe(),
        trash_retention=_trash_retention,
        projects=projects,
        progress=_progress_bar if sys.stderr.isatty() and not options.flag("json") else None,
    )
    command = ["sessions", *words]
    guard: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if registry.stops_cleanly(command, scope="cli"):
        from chatcli.sigint import sigint_stops  # (and asyncio: only for the commands it serves)

        guard = sigint_stops(ctx.cancelled)
    try:
        with guard:
            result = registry.run(ctx, command, scope="cli")
    except HelpRequested as req:
        from chatcli.commands.results import HelpResult
        from chatcli.render.terminal import render

        help_for = (registry.help_for(req.command, "chatcli "),)
        render(HelpResult(f"chatcli {req.command.name}", req.command.summary, help_for, True), _console())
        return ExitCode.OK
    if options.flag("json"):
        from chatcli.render.jsonout import dump_json, to_json

        dump_json(to_json(result), sys.stdout)
    elif options.flag("tsv") and isinstance(result, _tsv_types()):
        _print_tsv(result)
    elif not write_plain(result, sys.stdout):  # a line or two to a pipe: without loading rich
        from chatcli.render.terminal import render

        render(result, _console())
    return ExitCode.INTERRUPTED if ctx.cancelled.is_set() else _result_exit_code(result)


def _tsv_types() -> tuple[type[ListResult], type[SearchResult], type[PruneResult]]:
    """The results ``--tsv`` prints (imported when it is given)."""
    from chatcli.session.outcomes import ListResult, PruneResult, SearchResult

    return ListResult, SearchResult, PruneResult


def _check_tsv(registry: Registry, words: list[str], options: ParsedArgs) -> None:
    """``--tsv`` is for the commands that print records (list, search, prune), and not with ``--json``."""
    from chatcli.commands.sessions_table import TSV_COMMANDS
    from chatcli.commands.spec import UsageError

    usage = "chatcli sessions list|search|prune … --tsv"
    if options.flag("json"):
        raise UsageError("give either --json or --tsv, not both", usage)
    if not words:  # `sessions` alone lists the recent sessions
        return
    if "--all-projects" in words:
        raise UsageError("--tsv lists one project: with --all-projects, use --json", usage)
    command, _ = registry.find(["sessions", *words], scope="cli", prefix="chatcli ")
    if command.words not in TSV_COMMANDS:
        raise UsageError(f"--tsv is for sessions list, search and prune, not {command.name}", usage)


def _warn(text: str) -> None:
    """A warning on stderr (what went wrong beside a command that worked)."""
    from chatcli.render.styles import warning

    _console(stderr=True).print(warning(text))


def _trash_retention() -> str:
    """The ``trash_retention`` setting (read only when a command may apply it)."""
    from chatcli.config import load_settings

    return load_settings().trash_retention


def _print_tsv(result: ListResult | SearchResult | PruneResult) -> None:
    """The records on stdout as tab-separated values; the warnings that go with them on stderr."""
    from chatcli.render.styles import warning
    from chatcli.render.tsv import to_tsv
    from chatcli.session.outcomes import ListResult, PruneResult

    sys.stdout.write(to_tsv(result))
    sys.stdout.flush()
    notes = [p.user_message() for p in result.problems] if isinstance(result, ListResult) else []
    if isinstance(result, PruneResult):
        notes += [f"kept {session_id[:8]}: {reason}" for session_id, reason in result.failures]
    for note in notes:
        _console(stderr=True).print(warning(note))


def _result_exit_code(result: object) -> int:
    """A command that ran but could not do all it was asked exits 1: a prune (or an emptying of the
    trash) that kept some of its sessions, a doctor that found problems (without ``--repair``) or
    could not repair them all, an import with a record that failed (or that found nothing to
    import: not an export). Sessions an import left alone because they already exist are not
    failures.

    Each type is looked up only if its module is loaded: a result of a type whose module was
    never imported cannot exist, and importing it here would load the importers for nothing."""
    for removal in ("PruneResult", "EmptyTrashResult"):
        if isinstance(result, _loaded("chatcli.session.outcomes", removal)) and (
            result.failures or result.not_reached
        ):
            return ExitCode.USER
    if isinstance(result, _loaded("chatcli.commands.results", "ImportReport")):
        done = result.result
        return ExitCode.USER if done.skipped or not (done.imported or done.existing) else ExitCode.OK
    if isinstance(result, _loaded("chatcli.importers.outcome", "ToolImport")):
        return ExitCode.USER if result.problems or not result.entries else ExitCode.OK
    if isinstance(result, _loaded("chatcli.session.health", "DoctorReport")) and not result.healthy:
        return ExitCode.USER
    return ExitCode.OK


def _loaded(module: str, name: str) -> Any:
    """The class ``name`` of ``module`` if that module is loaded, else a type nothing is an instance of."""
    found = sys.modules.get(module)
    return getattr(found, name) if found is not None else _NoSuchType


class _NoSuchType:
    """Stands for a result type whose module is not loaded (see :func:`_loaded`)."""
