"""The ``sessions`` family's commands as specs: words, aliases, arguments, options, help, and a
``"module:function"`` reference to each handler.

The registry (:mod:`chatcli.commands.catalog`) is built from these records alone, so dispatch,
help and completion never import a handler's module: the one a command needs is imported when
it runs (:meth:`chatcli.commands.spec.Command.resolve`). Keep this module light: it imports
nothing but the spec types. The handlers are in ``sessions.py`` (list, show, name, archive,
delete, export, fork, prune, doctor), ``search.py``, ``importing.py``, ``labels.py`` (pins and
tags) and ``trash.py``.
"""

from __future__ import annotations

from chatcli.commands.refs import CURRENT_SESSION, SESSION
from chatcli.commands.spec import Arg, Command, Option
from chatcli.importers import TOOLS

__all__ = [
    "ALL_PROJECTS",
    "LABEL_COMMANDS",
    "SESSION_COMMANDS",
    "TAG_FILTER",
    "TRASH_COMMANDS",
    "TSV_COMMANDS",
]

#: The commands whose records ``--tsv`` prints as tab-separated values (on the command line).
TSV_COMMANDS = (("sessions", "list"), ("sessions", "search"), ("sessions", "prune"))
_TSV_DETAILS = "On the command line, --tsv prints tab-separated values, one record a line (see the README)."

_YES = Option(("-y", "--yes"), "yes", "do not ask for confirmation")

#: ``list --tag T`` / ``search --tag T``: repeatable, every tag must match.
TAG_FILTER = Option(
    ("-t", "--tag"),
    "tag",
    "only sessions tagged TAG (repeat it: every tag must match)",
    kind="tag",
    metavar="TAG",
    repeat=True,
)

_TAGS = Arg(
    "tag", "tag", "one or more tags (letters, digits, '-', '_', '.'; case does not matter)", rest=True
)

#: ``--all-projects``: every known project (``sessions list`` and ``sessions search``).
ALL_PROJECTS = Option(
    ("--all-projects",),
    "all_projects",
    "every project chatcli has saved sessions in, with a project column",
)

SEARCH_COMMAND = Command(
    ("sessions", "search"),
    "Search the text of every message of every session",
    "chatcli.commands.search:search_sessions",
    args=(Arg("text", "text", 'words (all must match), "exact phrases", prefix*', rest=True),),
    options=(
        Option(("-n", "--limit"), "limit", "show at most N sessions (default 20)", kind="int", metavar="N"),
        Option(("--messages",), "messages", "list every matching message, not one row per session"),
        Option(("--sort",), "sort", "order (default recent)", kind="choice", choices=("recent", "relevance")),
        Option(("--active",), "active", "only active sessions"),
        Option(("--archived",), "archived", "only archived sessions"),
        Option(("--trash",), "trash", "search the sessions in the trash instead"),
        TAG_FILTER,
        ALL_PROJECTS,
    ),
    aliases=("grep",),
    details="Case and accents are ignored; text in Chinese, Japanese, Korean or Thai matches "
    "anywhere inside words. On the command line, --tsv prints tab-separated values, one record "
    "a line (see the README).",
    examples=(
        "sessions search retry backoff",
        'sessions search "connection reset" --messages',
        "sessions search dock* --sort relevance",
        "sessions search retry --all-projects",
    ),
)

IMPORT_COMMAND = Command(
    ("sessions", "import"),
    "Import sessions from a JSON export, JSON Lines, or another assistant (--from)",
    "chatcli.commands.importing:import_sessions",
    args=(
        Arg(
            "file",
            "path",
            "a file written by 'sessions export --format json', or JSON Lines; - reads standard input; "
            "with --from: the tool's files or folders (default: where the tool keeps this project's)",
            required=False,
            rest=True,
        ),
    ),
    options=(
        Option(
            ("--from",),
            "from_tool",
            "import another assistant's conversations",
            kind="choice",
            choices=TOOLS,
        ),
        Option(("--all-projects",), "all_projects", "with --from: every project the tool knows"),
        Option(("--dry-run",), "dry_run", "with --from: only show what would be imported"),
        Option(("--new-ids",), "new_ids", "import a session whose id exists as a copy with a new id"),
        Option(("-v", "--verbose"), "verbose", "list the sessions skipped because they already exist"),
    ),
    details="Re-running --from imports only what is new; the SQLite files of other tools are only read.",
    examples=(
        "sessions import backup.jsonl",
        "sessions import - --new-ids < s.json",
        "sessions import --from claude-code",
        "sessions import --from amazon-q ~/saved.json --dry-run",
    ),
    stops_cleanly=True,
)

SESSION_COMMANDS: tuple[Command, ...] = (
    Command(
        ("sessions", "list"),
        "List saved sessions, newest first (active ones unless --archived or --all)",
        "chatcli.commands.listing:list_sessions",
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
            ALL_PROJECTS,
        ),
        aliases=("ls",),
        details=_TSV_DETAILS,
        examples=(
            "sessions list --all --limit 20",
            "sessions list --all-projects",
            "sessions list --search docker",
            "sessions list --tag bug",
        ),
    ),
    Command(
        ("sessions", "show"),
        "Show a session's details and its last messages",
        "chatcli.commands.listing:show_session",
        args=(CURRENT_SESSION,),
        options=(
            Option(("--last",), "last", "show the last N messages (default 6)", kind="int", metavar="N"),
        ),
        examples=("sessions show 1a2b", "sessions show fix-login --last 20"),
    ),
    Command(
        ("sessions", "name"),
        "Name a session (names are unique; letters, digits, '-' and '_')",
        "chatcli.commands.sessions:name_session",
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
        "chatcli.commands.sessions:archive_session",
        args=(CURRENT_SESSION,),
    ),
    Command(
        ("sessions", "unarchive"),
        "Bring an archived session back to the default list",
        "chatcli.commands.sessions:unarchive_session",
        args=(SESSION,),
    ),
    Command(
        ("sessions", "delete"),
        "Move a session to the trash (asks first; 'sessions restore' undoes it)",
        "chatcli.commands.sessions:delete_session",
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
    SEARCH_COMMAND,
    Command(
        ("sessions", "export"),
        "Export a session as Markdown (to read) or JSON (to import elsewhere)",
        "chatcli.commands.sessions:export_session",
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
    IMPORT_COMMAND,
    Command(
        ("sessions", "fork"),
        "Start a new session with a copy of another session's messages",
        "chatcli.commands.sessions:fork_session",
        args=(CURRENT_SESSION,),
        options=(Option(("--name",), "name", "name the new session", kind="name", metavar="NAME"),),
        aliases=("copy",),
    ),
    Command(
        ("sessions", "prune"),
        "Move sessions not used for a while to the trash (explicit only; never automatic)",
        "chatcli.commands.sessions:prune_sessions",
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
        stops_cleanly=True,
        examples=(
            "sessions prune --older-than 90d --dry-run",
            "sessions prune --older-than 1y --archived-only",
        ),
    ),
    Command(
        ("sessions", "doctor"),
        "Check every session file; --repair fixes what can be fixed without losing data",
        "chatcli.commands.sessions:doctor_sessions",
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

TRASH_COMMANDS: tuple[Command, ...] = (
    Command(
        ("sessions", "trash"),
        "List deleted sessions (kept in the trash until you empty it)",
        "chatcli.commands.trash:list_trash",
        details=(
            "Deleted and pruned sessions wait in .amazonq/sessions/.trash/: 'sessions restore ID' "
            "brings one back, 'sessions show' and 'sessions export' read them, 'sessions search "
            "--trash' searches them. 'sessions trash empty [--older-than DURATION]' erases them for good."
        ),
        examples=("sessions trash", "sessions trash empty --older-than 30d"),
    ),
    Command(
        ("sessions", "trash", "empty"),
        "Erase sessions in the trash for good (asks first)",
        "chatcli.commands.trash:empty_trash",
        options=(
            Option(
                ("--older-than",),
                "older_than",
                "only those deleted longer ago than DURATION (e.g. 30d, 12w, 6mo)",
                kind="duration",
                metavar="DURATION",
            ),
            Option(("--dry-run",), "dry_run", "only show what would be erased"),
            Option(("-y", "--yes"), "yes", "do not ask for confirmation"),
        ),
        details="Without a terminal to ask on, it refuses unless --yes is given.",
        stops_cleanly=True,
    ),
    Command(
        ("sessions", "restore"),
        "Bring a deleted session back from the trash",
        "chatcli.commands.trash:restore_session",
        args=(Arg("id", "text", "the session's id, unique id prefix (4+ characters) or name"),),
        aliases=("undelete",),
        details="A name another session has taken meanwhile is not restored: the session comes back unnamed.",
        examples=("sessions restore 1a2b", "sessions restore fix-login"),
    ),
)

LABEL_COMMANDS: tuple[Command, ...] = (
    Command(
        ("sessions", "pin"),
        "Pin a session: marked in lists, first in the picker, never pruned",
        "chatcli.commands.labels:pin_session",
        args=(CURRENT_SESSION,),
        details="Deleting a pinned session asks first, naming it as pinned (or needs --force).",
    ),
    Command(
        ("sessions", "unpin"),
        "Remove a session's pin",
        "chatcli.commands.labels:unpin_session",
        args=(CURRENT_SESSION,),
    ),
    Command(
        ("sessions", "tag"),
        "Tag a session (tags: letters, digits, '-', '_', '.'; at most 20 a session)",
        "chatcli.commands.labels:tag_session",
        args=(SESSION, _TAGS),
        examples=("sessions tag fix-login bug auth", "sessions list --tag bug --tag auth"),
        details="Tags are case-insensitive and stored in lower case. In the chat, '.' is this session.",
    ),
    Command(
        ("sessions", "untag"),
        "Remove tags from a session",
        "chatcli.commands.labels:untag_session",
        args=(SESSION, _TAGS),
        examples=("sessions untag fix-login auth",),
    ),
)
