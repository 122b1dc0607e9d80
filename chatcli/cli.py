"""The command line: ``chatcli`` (the REPL) and ``chatcli sessions …`` (scriptable session commands).

Exit codes: 0 success; 1 a user-level failure (not found, invalid name, ambiguous id, refused);
2 a usage error; 3 a storage failure (permission denied, disk error, unsafe path); 130 interrupted.
This module is the command line's single error boundary: every error becomes a message (or a
JSON error object on stderr with ``--json``) and an exit code, and tracebacks go to the log file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from chatcli import __version__

__all__ = ["EXIT_OK", "EXIT_STORAGE", "EXIT_USAGE", "EXIT_USER", "build_parser", "run", "run_sessions"]

EXIT_OK = 0
EXIT_USER = 1
EXIT_USAGE = 2
EXIT_STORAGE = 3
EXIT_INTERRUPTED = 130

_SESSIONS_DIR_HELP = "where sessions are stored (default: .amazonq/sessions/ of this project)"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser (the REPL's flags); ``sessions …`` is parsed by the command registry."""
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
    parser.add_argument("--sessions-dir", metavar="PATH", help=_SESSIONS_DIR_HELP)
    parser.add_argument("--backend", choices=("offline", "openai"), help="model backend (default: offline)")
    parser.add_argument("--model", help="model name for the backend")
    parser.add_argument("--base-url", help="OpenAI-compatible API base URL")
    parser.add_argument("--print-config", action="store_true", help="show the effective settings and exit")
    parser.add_argument("--version", "-V", action="version", version=f"chatcli {__version__}")
    return parser


def run(argv: Sequence[str]) -> int:
    """Dispatch: ``sessions …`` to the session commands, anything else to the REPL."""
    args = list(argv)
    if args and args[0] == "sessions":
        return run_sessions(args[1:])
    # The top-level --sessions-dir also works in front of the session commands.
    if len(args) >= 3 and args[0] == "--sessions-dir" and args[2] == "sessions":
        return run_sessions([*args[:2], *args[3:]])
    if len(args) >= 2 and args[0].startswith("--sessions-dir=") and args[1] == "sessions":
        return run_sessions([args[0], *args[2:]])
    options = build_parser().parse_args(args)
    if options.print_config:
        return _print_config(options)
    from chatcli.repl.app import ReplOptions, run_repl

    return run_repl(
        ReplOptions(
            sessions_dir=options.sessions_dir,
            resume=options.resume,
            continue_latest=options.continue_,
            backend=options.backend,
            model=options.model,
            base_url=options.base_url,
        )
    )


def _print_config(options: argparse.Namespace) -> int:
    from chatcli.config import ConfigError, load_settings
    from chatcli.render.console import make_console
    from chatcli.render.results import render_error
    from chatcli.render.settings import render_settings

    console = make_console()
    try:
        settings = load_settings(
            {"backend": options.backend, "model": options.model, "base_url": options.base_url}
        )
    except ConfigError as exc:
        render_error(exc, make_console(stderr=True))
        return EXIT_USER
    from chatcli.session.location import discover_sessions_dir

    render_settings(settings, discover_sessions_dir(options.sessions_dir).describe(), console)
    return EXIT_OK


def _pop_option(args: list[str], flag: str) -> str | None:
    """Remove ``flag VALUE`` or ``flag=VALUE`` from ``args`` (before any ``--``); return VALUE."""
    value: str | None = None
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            break
        if token == flag:
            if index + 1 >= len(args):
                from chatcli.commands.spec import UsageError

                raise UsageError(f"{flag} needs a value", f"chatcli sessions {flag} PATH COMMAND …")
            value = args[index + 1]
            del args[index : index + 2]
            continue
        if token.startswith(flag + "="):
            value = token.split("=", 1)[1]
            del args[index]
            continue
        index += 1
    return value


def _terminal_confirm(question: str) -> bool:
    """Ask on the terminal; only 'y' or 'yes' confirms."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run_sessions(argv: Sequence[str]) -> int:
    """``chatcli sessions …``: run one session command and render its result (or error)."""
    from chatcli.commands.catalog import build_registry
    from chatcli.commands.context import CommandContext
    from chatcli.commands.results import HelpResult
    from chatcli.commands.spec import HelpRequested, UsageError
    from chatcli.render.console import make_console
    from chatcli.render.jsonout import dump_json, error_to_json, to_json
    from chatcli.render.results import render, render_error
    from chatcli.session.errors import SessionError
    from chatcli.session.location import discover_sessions_dir
    from chatcli.session.service import SessionService
    from chatcli.session.store import FileRepository

    args = list(argv)
    json_mode = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    err_console = make_console(stderr=True)

    def fail(exc: BaseException, code: int, log: Path | None = None) -> int:
        if json_mode:
            dump_json(error_to_json(exc), sys.stderr)
        else:
            render_error(exc, err_console, log_path=log)
        return code

    registry = build_registry()
    try:
        sessions_dir = _pop_option(args, "--sessions-dir")
        if not args or args[0] in ("-h", "--help", "help"):
            render(registry.help(["sessions"], scope="cli", prefix="chatcli "), make_console())
            return EXIT_OK
        location = discover_sessions_dir(sessions_dir)
        service = SessionService(FileRepository(location))
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        ctx = CommandContext(service, confirm=_terminal_confirm if interactive else None, prefix="chatcli ")
        result = registry.run(ctx, ["sessions", *args], scope="cli")
    except HelpRequested as req:
        help_page = HelpResult(
            f"chatcli {req.command.name}",
            req.command.summary,
            (registry.help_for(req.command, "chatcli "),),
            True,
        )
        render(help_page, make_console())
        return EXIT_OK
    except UsageError as exc:
        return fail(exc, EXIT_USAGE)
    except SessionError as exc:
        return fail(exc, exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the single boundary: log the traceback, show a short message
        from chatcli.logs import log_exception

        return fail(exc, EXIT_USER, log_exception(exc, "chatcli sessions " + " ".join(args)))
    if json_mode:
        dump_json(to_json(result), sys.stdout)
    else:
        render(result, make_console())
    return _result_exit_code(result)


def _result_exit_code(result: object) -> int:
    """A command that ran but could not do all it was asked exits 1: a prune that kept some of its
    sessions, a doctor that found problems (without ``--repair``) or could not repair them all."""
    from chatcli.session.health import DoctorReport
    from chatcli.session.service import PruneResult

    if isinstance(result, PruneResult) and (result.failures or result.not_reached):
        return EXIT_USER
    if isinstance(result, DoctorReport) and not result.healthy:
        return EXIT_USER
    return EXIT_OK
