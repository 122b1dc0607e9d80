"""Where the checkout is, and the ``sessions`` subcommands it offers."""

from __future__ import annotations

from pathlib import Path

#: The checkout: the folder holding ``chatcli/`` and ``tests/``.
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Every ``sessions`` subcommand the issues ask for, in the order the README lists them.
SESSION_SUBCOMMANDS = (
    "list",
    "show",
    "name",
    "archive",
    "unarchive",
    "delete",
    "search",
    "export",
    "import",
    "fork",
    "prune",
    "trash",
    "restore",
    "doctor",
    "pin",
    "unpin",
    "tag",
    "untag",
)
