"""Entry point for ``chatcli`` and ``python -m chatcli``.

Kept tiny so ``chatcli --version`` answers without importing anything heavy.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run chatcli with ``argv`` (default: the process arguments); returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        from chatcli import __version__

        sys.stdout.write(f"chatcli {__version__}\n")
        return 0
    from chatcli.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
