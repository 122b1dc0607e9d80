"""Command records and the one argument parser shared by slash commands and the command line.

A :class:`Command` says everything about a command once: its words, aliases, summary, arguments
and options (with the kind of value each takes, which is also what completion offers), and its
handler. ``argparse`` is not used: it prints and exits on errors, while here a bad argument is a
:class:`UsageError` that the REPL shows as a usage line and the command line maps to exit code 2.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Literal, NamedTuple

from chatcli.errors import ChatcliError, ExitCode
from chatcli.sanitize import shorten

if TYPE_CHECKING:
    from chatcli.commands.context import CommandContext

__all__ = [
    "COMMAND_LINE_OPTIONS",
    "DURATION_MAX_YEARS",
    "INT_MAX",
    "JSON_OPTION",
    "REPL_PREFIX",
    "SESSIONS_DIR_OPTION",
    "TSV_OPTION",
    "Arg",
    "Command",
    "HelpRequested",
    "Option",
    "ParsedArgs",
    "UsageError",
    "ValueKind",
    "extract_options",
    "format_duration",
    "parse_args",
    "parse_duration",
    "split_line",
]

#: What kind of value an argument or option takes; completion offers candidates by kind.
ValueKind = Literal["session", "name", "text", "int", "duration", "path", "choice", "command", "tag"]


class UsageError(ChatcliError):
    """The command's words are wrong; ``usage`` is the line to show with the message."""

    kind = "usage"
    exit_code = ExitCode.USAGE
    title = "Usage error"

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def user_message(self) -> str:
        """The problem plus the usage line."""
        return f"{self.message}\nUsage: {self.usage}" if self.usage else self.message


class HelpRequested(Exception):
    """``--help`` was given: show the command's help instead of running it."""

    def __init__(self, command: Command) -> None:
        super().__init__(command.name)
        self.command = command


#: How commands are spelled in the chat (``/sessions …``); on the command line it is ``chatcli ``.
REPL_PREFIX = "/"


class Arg(NamedTuple):
    """A positional argument. ``rest`` takes every remaining word (joined with spaces).

    ``current``: a session argument that, in the chat only, may be left out for the session in
    use (the handler resolves it; see ``commands.refs.session_ref``).
    """

    name: str
    kind: ValueKind
    help: str
    required: bool = True
    rest: bool = False
    choices: tuple[str, ...] = ()
    current: bool = False

    def optional(self, prefix: str) -> bool:
        """True when the argument may be left out where commands are spelled with ``prefix``."""
        return not self.required or (self.current and prefix == REPL_PREFIX)


class Option(NamedTuple):
    """An option. ``kind`` None makes it a flag (no value); ``repeat`` collects every value given
    (``--tag a --tag b``) into a list."""

    flags: tuple[str, ...]
    dest: str
    help: str
    kind: ValueKind | None = None
    choices: tuple[str, ...] = ()
    default: object = None
    metavar: str = ""
    required: bool = False
    repeat: bool = False

    @property
    def takes_value(self) -> bool:
        """True unless this option is a plain flag."""
        return self.kind is not None

    def label(self) -> str:
        """The option as shown in help, e.g. ``-n, --limit N``."""
        meta = self.metavar or (self.dest.upper() if self.kind else "")
        if self.choices:
            meta = "|".join(self.choices)
        return ", ".join(self.flags) + (f" {meta}" if meta else "")


#: Every command of the ``sessions`` group takes it (the registry adds it): print JSON, not tables.
JSON_OPTION = Option(("--json",), "json", "print machine-readable JSON (see the README for the fields)")
#: Tab-separated records for scripts (``chatcli sessions list|search|prune``); read anywhere on
#: the command line (the REPL has no use for it).
TSV_OPTION = Option(("--tsv",), "tsv", "print tab-separated values, one record a line (for scripts)")
#: Where the sessions are; the command line takes it anywhere on the line.
SESSIONS_DIR_OPTION = Option(
    ("--sessions-dir",),
    "sessions_dir",
    "where sessions are stored (default: .amazonq/sessions/ of this project)",
    kind="path",
    metavar="PATH",
)
#: The command line's global options: read wherever they stand, before the command is parsed.
COMMAND_LINE_OPTIONS: tuple[Option, ...] = (SESSIONS_DIR_OPTION, JSON_OPTION, TSV_OPTION)

Handler = Callable[["CommandContext", "ParsedArgs"], object]


class Command(NamedTuple):
    """One command: its words (e.g. ``("sessions", "list")``), documentation, spec and handler.

    ``scope`` says where it exists: ``"both"`` (slash command and ``chatcli …``) or ``"repl"``.
    ``stops_cleanly``: Ctrl-C asks it to stop at its next step (``ctx.cancelled``) and what it
    did until then is shown, rather than abandoned unreported (a second Ctrl-C stops at once).
    ``handler`` is the function itself or a ``"module:function"`` reference to it, imported only
    when the command runs (:meth:`resolve`): help, completion and dispatch read the spec alone,
    so a command never pays for the imports of the others.
    """

    words: tuple[str, ...]
    summary: str
    handler: Handler | str
    args: tuple[Arg, ...] = ()
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    details: str = ""
    scope: Literal["both", "repl"] = "both"
    examples: tuple[str, ...] = ()
    stops_cleanly: bool = False

    @property
    def name(self) -> str:
        """The command's words joined, e.g. ``sessions list``."""
        return " ".join(self.words)

    def usage(self, prefix: str = "/") -> str:
        """The usage line, e.g. ``/sessions list [--archived] [--limit N]``."""
        parts = [prefix + self.name]
        for opt in self.options:
            label = opt.label().split(", ")[-1]
            parts.append(label if opt.required else f"[{label}]")
        for arg in self.args:
            label = arg.name.upper() + ("…" if arg.rest else "")
            if arg.choices:
                label = "|".join(arg.choices)
            parts.append(f"[{label}]" if arg.optional(prefix) else label)
        return " ".join(parts)

    def resolve(self) -> Handler:
        """The handler, its module imported now if it was given as ``"module:function"``."""
        if not isinstance(self.handler, str):
            return self.handler
        module, _, name = self.handler.partition(":")
        found: Handler = getattr(importlib.import_module(module), name)
        return found

    def option_for(self, flag: str) -> Option | None:
        """The option spelled ``flag`` (exact), if any."""
        for opt in self.options:
            if flag in opt.flags:
                return opt
        return None


class ParsedArgs:
    """Parsed values by ``dest``/``name``, with typed accessors.

    ``lists`` holds a ``rest`` argument's words as given (``values`` holds them joined with spaces).
    """

    __slots__ = ("lists", "values")

    def __init__(
        self, values: dict[str, object] | None = None, lists: dict[str, list[str]] | None = None
    ) -> None:
        self.values: dict[str, object] = {} if values is None else values
        self.lists: dict[str, list[str]] = {} if lists is None else lists

    def __repr__(self) -> str:
        return f"ParsedArgs(values={self.values!r}, lists={self.lists!r})"

    def words(self, key: str) -> list[str]:
        """A ``rest`` argument's words, one per word given ([] if absent)."""
        return list(self.lists.get(key, ()))

    def text(self, key: str) -> str | None:
        """A text value, or None if absent."""
        value = self.values.get(key)
        return value if isinstance(value, str) else None

    def required(self, key: str) -> str:
        """A required text value (the parser guarantees it is there)."""
        value = self.values.get(key)
        if not isinstance(value, str):
            raise UsageError(f"missing {key.upper()}")
        return value

    def texts(self, key: str) -> list[str]:
        """Every value of a repeated option (empty when it was not given)."""
        value = self.values.get(key)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def number(self, key: str) -> int | None:
        """An integer value, or None if absent."""
        value = self.values.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def flag(self, key: str) -> bool:
        """True if the flag was given."""
        return self.values.get(key) is True

    def duration(self, key: str) -> timedelta | None:
        """A duration value, or None if absent."""
        value = self.values.get(key)
        return value if isinstance(value, timedelta) else None


#: The longest duration taken (``--older-than``): 1000 years, far before any session.
DURATION_MAX_YEARS = 1000
#: The largest whole number an option takes (``--limit``, ``--last``): a million.
INT_MAX = 1_000_000

_HOUR = 3600
_DAY = 24 * _HOUR
#: Duration units in seconds. A month is 30 days and a year 365 (durations only select old
#: sessions, so calendar precision does not matter). There are no minutes nor seconds: ``m``
#: reads as months to many people, and nothing a duration is for (``prune``) needs them.
_UNITS: dict[str, int] = {"h": _HOUR, "d": _DAY, "w": 7 * _DAY, "mo": 30 * _DAY, "y": 365 * _DAY}
#: Spelled-out units (``6months``, ``2weeks``): the same as the short ones.
_SPELLED = {
    **dict.fromkeys(("hour", "hours", "hr", "hrs"), "h"),
    **dict.fromkeys(("day", "days"), "d"),
    **dict.fromkeys(("week", "weeks", "wk", "wks"), "w"),
    **dict.fromkeys(("month", "months", "mon", "mos"), "mo"),
    **dict.fromkeys(("year", "years", "yr", "yrs"), "y"),
}
#: Units refused on purpose, with the reason shown.
_REFUSED = {
    "m": "m is ambiguous: use mo for months or h for hours",
    **dict.fromkeys(
        ("min", "mins", "minute", "minutes"),
        "minutes are too short for a duration here: the shortest unit is h (hours)",
    ),
    **dict.fromkeys(
        ("s", "sec", "secs", "second", "seconds"), "seconds are not a unit here: the shortest is h (hours)"
    ),
}
_DURATION_PART = re.compile(r"(\d+)([a-z]+)")
_DURATION_UNITS_HELP = "h, d, w, mo or y (e.g. 12h, 30d, 2w, 6mo, 1y, 1w3d)"


def parse_duration(text: str) -> timedelta:
    """Parse ``30d``, ``12h``, ``2w``, ``6mo``, ``1y``, ``1w3d`` or ``6months`` into a timedelta.

    Units: ``h`` hours, ``d`` days, ``w`` weeks, ``mo`` months (30 days), ``y`` years (365 days),
    also spelled out (``3days``, ``2weeks``, ``1year``); ``m`` (ambiguous) and minutes or seconds
    are refused with a hint. The total is at most :data:`DURATION_MAX_YEARS` years. Raises
    ``ValueError`` with a message meant for the user.
    """
    raw = text.strip().lower()
    if not raw:
        raise ValueError("empty duration")
    shown = shorten(repr(text), 40)
    parts = _DURATION_PART.findall(raw)
    if "".join(number + unit for number, unit in parts) != raw:
        if raw.isdigit():
            raise ValueError(f"{shown} needs a unit: {_DURATION_UNITS_HELP}")
        raise ValueError(f"{shown} is not a duration (use {_DURATION_UNITS_HELP})")
    total = 0
    for number, word in parts:
        if word in _REFUSED:
            raise ValueError(f"{shown}: {_REFUSED[word]}")
        unit = _SPELLED.get(word, word)
        if unit not in _UNITS:
            raise ValueError(f"{shown}: unknown unit {word!r} (use {_DURATION_UNITS_HELP})")
        if len(number) > 12:  # past any limit; never turn thousands of digits into an int
            total = _UNITS["y"] * (DURATION_MAX_YEARS + 1)
            break
        total += int(number) * _UNITS[unit]
    if total <= 0:
        raise ValueError("the duration must be longer than zero")
    if total > DURATION_MAX_YEARS * _UNITS["y"]:
        raise ValueError(f"{shown} is too long: a duration is at most {DURATION_MAX_YEARS}y")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """A :func:`parse_duration` spelling of ``value`` (``1y``, ``2w``, ``90d``, ``36h``), rounded
    up to whole hours (what :func:`parse_duration` returns is always whole hours)."""
    hours = max(1, -(-int(value.total_seconds()) // _HOUR))
    seconds = hours * _HOUR
    for unit in ("y", "w", "d"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{hours}h"


def split_line(line: str) -> list[str]:
    """Split a command line into words like a shell (quotes group words, no expansion)."""
    import shlex  # only slash commands are split here (start-up of the command line)

    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot read the command: {exc} (close the quote)") from exc


def _convert(value: str, kind: ValueKind, label: str, choices: Sequence[str], usage: str) -> object:
    if choices and value not in choices:
        raise UsageError(f"{label} must be one of: {', '.join(choices)} (got {value!r})", usage)
    if kind == "int":
        return _whole_number(value, label, usage)
    if kind == "duration":
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise UsageError(f"{label}: {exc}", usage) from None
    return value


def _whole_number(value: str, label: str, usage: str) -> int:
    """``value`` as a whole number from 1 to :data:`INT_MAX`, else a :class:`UsageError`."""
    shown = shorten(repr(value), 40)
    digits = value.strip().lstrip("+").lstrip("0")
    if len(digits) > len(str(INT_MAX)) and digits.isascii() and digits.isdigit():  # never parse 4,300+ digits
        raise UsageError(f"{label} must be at most {INT_MAX} (got {shown})", usage)
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{label} must be a whole number (got {shown})", usage) from None
    if number < 1:
        raise UsageError(f"{label} must be at least 1 (got {number})", usage)
    if number > INT_MAX:
        raise UsageError(f"{label} must be at most {INT_MAX} (got {number})", usage)
    return number


def _take_option(
    opt: Option, token: str, items: Sequence[str], index: int, *, usage: str, parsed: ParsedArgs
) -> int:
    """Store ``opt``'s value (read from ``token`` or the next word); returns the next index."""
    flag, has_inline, inline = token.partition("=")
    if opt.kind is None:
        if has_inline:
            raise UsageError(f"{flag} takes no value", usage)
        parsed.values[opt.dest] = True
        return index
    if has_inline:
        value = inline
    elif index < len(items):
        value = items[index]
        index += 1
    else:
        raise UsageError(f"{flag} needs a value", usage)
    converted = _convert(value, opt.kind, flag, opt.choices, usage)
    if opt.repeat:
        earlier = parsed.values.get(opt.dest)
        parsed.values[opt.dest] = [*(earlier if isinstance(earlier, list) else []), converted]
    else:
        parsed.values[opt.dest] = converted
    return index


def _find_option(options: Sequence[Option], token: str) -> Option | None:
    flag = token.partition("=")[0]
    return next((opt for opt in options if flag in opt.flags), None)


def extract_options(
    tokens: Sequence[str], options: Sequence[Option], usage: str
) -> tuple[ParsedArgs, list[str]]:
    """Take ``options`` out of ``tokens`` wherever they stand before ``--``.

    Returns their parsed values and every other token, in order (``--`` and what follows
    included): the command line's global options (``--sessions-dir``, ``--json``) are read this
    way before the command itself is parsed.
    """
    parsed = ParsedArgs({opt.dest: opt.default for opt in options})
    rest: list[str] = []
    items = list(tokens)
    index = 0
    while index < len(items):
        token = items[index]
        index += 1
        if token == "--":
            rest.extend(items[index - 1 :])
            break
        opt = _find_option(options, token) if token.startswith("--") else None
        if opt is None:
            rest.append(token)
            continue
        index = _take_option(opt, token, items, index, usage=usage, parsed=parsed)
    return parsed, rest


def parse_args(command: Command, tokens: Sequence[str], *, prefix: str = "/") -> ParsedArgs:
    """Parse ``tokens`` (the words after the command's name) against the command's spec."""
    usage = command.usage(prefix)
    parsed = ParsedArgs({opt.dest: opt.default for opt in command.options})
    positionals: list[str] = []
    items = list(tokens)
    index = 0
    only_positionals = False
    while index < len(items):
        token = items[index]
        index += 1
        if only_positionals or token == "-" or not token.startswith("-") or _is_negative_number(token):
            positionals.append(token)
            continue
        if token == "--":
            only_positionals = True
            continue
        if token in ("-h", "--help"):
            raise HelpRequested(command)
        opt = _find_option(command.options, token)
        if opt is None:
            flag = token.partition("=")[0]
            raise UsageError(f"unknown option {token!r}{_option_hint(command, flag)}", usage)
        index = _take_option(opt, token, items, index, usage=usage, parsed=parsed)
    _assign_positionals(command, positionals, parsed, usage, prefix)
    for opt in command.options:
        if opt.required and parsed.values.get(opt.dest) is None:
            raise UsageError(f"missing {opt.label()}", usage)
    return parsed


def _assign_positionals(
    command: Command, positionals: list[str], parsed: ParsedArgs, usage: str, prefix: str
) -> None:
    for arg in command.args:
        if arg.rest:
            if positionals:
                parsed.values[arg.name] = " ".join(positionals)
                parsed.lists[arg.name] = list(positionals)
                positionals = []
            elif arg.required:
                raise UsageError(f"missing {arg.name.upper()}", usage)
            continue
        if positionals:
            parsed.values[arg.name] = _convert(
                positionals.pop(0), arg.kind, arg.name.upper(), arg.choices, usage
            )
        elif not arg.optional(prefix):
            # A session argument only the chat may leave out: say what to give on the command line.
            what = (
                " (a session id, unique id prefix or name; see: chatcli sessions list)" if arg.current else ""
            )
            raise UsageError(f"missing {arg.name.upper()}{what}", usage)
    if positionals:
        extra = " ".join(repr(p) for p in positionals[:3])
        raise UsageError(f"unexpected argument(s): {extra}", usage)


def _is_negative_number(token: str) -> bool:
    return len(token) > 1 and token[0] == "-" and token[1:].isdigit()


def _option_hint(command: Command, flag: str) -> str:
    import difflib

    known = [f for opt in command.options for f in opt.flags if f.startswith("--")]
    close = difflib.get_close_matches(flag, known, n=1)
    return f" — did you mean {close[0]}?" if close else ""
