"""Entry point for ``chatcli`` and ``python -m chatcli``.

Kept tiny so ``chatcli --version`` answers without importing anything heavy.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Run chatcli with ``argv`` (default: the process arguments); returns the exit code.

    A reader that goes away before the output ends (``chatcli sessions list | head -1``) is a
    normal end: chatcli stops writing and exits 0 without a word (see :func:`_closed_pipe`).
    """
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return code
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """Standard output's reader is gone: silence it and end quietly."""
    silence_stdout()
    return 0


def silence_stdout() -> None:
    """Point standard output at /dev/null once its reader is gone, so later writes and the
    interpreter's last flush cannot fail again and print a traceback, as Python's documentation
    recommends (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout already closed or replaced: nothing left to flush
        pass
    finally:
        os.close(devnull)


def _main(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        from chatcli import __version__

        sys.stdout.write(f"chatcli {__version__}\n")
        return 0
    from chatcli.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
