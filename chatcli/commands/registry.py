"""The command registry: the one table that dispatch, help, suggestions and completion read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from chatcli.commands.spec import (
    Command,
    Handler,
    Option,
    ParsedArgs,
    UsageError,
    extract_options,
    parse_args,
    split_line,
)
from chatcli.session.errors import SessionNotFound

if TYPE_CHECKING:
    from chatcli.commands.context import CommandContext
    from chatcli.commands.results import CommandHelp, HelpResult

__all__ = ["Registry", "UnknownCommand"]


class UnknownCommand(UsageError):
    """No command has these words; ``suggestions`` holds close matches."""

    kind = "unknown_command"
    title = "Unknown command"

    def __init__(
        self, typed: str, suggestions: Sequence[str], prefix: str, usage: str = "", *, group: str = ""
    ) -> None:
        hint = f" — did you mean {' or '.join(prefix + s for s in suggestions)}?" if suggestions else ""
        sub = typed.removeprefix(f"{group} ") if group else ""
        problem = (
            f"'{sub}' is not a {prefix}{group} command" if sub else f"'{prefix}{typed}' is not a command"
        )
        super().__init__(problem + hint, usage or f"{prefix}help")
        self.typed = typed
        self.suggestions = list(suggestions)

    def user_message(self) -> str:
        """The problem, then where the commands are listed (a sentence, not a usage line)."""
        return f"{self.message}\n'{self.usage}' lists every command."


def _close_matches(word: str, options: Sequence[str], n: int, cutoff: float) -> list[str]:
    """``difflib.get_close_matches``, imported only when a word was mistyped (start-up)."""
    import difflib

    return difflib.get_close_matches(word, options, n=n, cutoff=cutoff)


class Registry:
    """Commands by their words and aliases."""

    def __init__(
        self,
        commands: Iterable[Command] = (),
        *,
        group_options: Mapping[str, tuple[Option, ...]] | None = None,
        command_line_options: tuple[Option, ...] = (),
        group_defaults: Mapping[str, Handler] | None = None,
    ) -> None:
        self._commands: list[Command] = []
        self._by_words: dict[tuple[str, ...], Command] = {}
        #: Options every command of a group takes (``sessions`` -> ``--json``), added on registration.
        self.group_options: Mapping[str, tuple[Option, ...]] = dict(group_options or {})
        #: The command line's global options (``--sessions-dir``, ``--json``), read before the command.
        self.command_line_options = command_line_options
        #: What a group's word alone runs (``sessions`` -> the recent sessions); otherwise its help.
        self.group_defaults: Mapping[str, Handler] = dict(group_defaults or {})
        for command in commands:
            self.register(command)

    def register(self, command: Command) -> None:
        """Add a command (with its group's options); its words and every alias must be new."""
        shared = self.group_options.get(command.words[0], ()) if len(command.words) > 1 else ()
        if shared:
            command = command._replace(options=(*command.options, *shared))
        keys = [command.words, *((*command.words[:-1], alias) for alias in command.aliases)]
        for key in keys:
            if key in self._by_words:
                raise ValueError(f"command {' '.join(key)!r} is registered twice")
        self._commands.append(command)
        for key in keys:
            self._by_words[key] = command

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands)

    def commands(self, *, scope: str = "repl") -> list[Command]:
        """Commands available in ``scope``: ``repl`` (all) or ``cli`` (those not REPL-only)."""
        return [c for c in self._commands if scope == "repl" or c.scope == "both"]

    def group_names(self, scope: str = "repl") -> set[str]:
        """First words shared by several commands (e.g. ``sessions``)."""
        return {c.words[0] for c in self.commands(scope=scope) if len(c.words) > 1}

    def words_after(self, head: tuple[str, ...], scope: str = "repl") -> list[str]:
        """The possible next words (with aliases) after ``head``: what completion offers."""
        out: list[str] = []
        for key, command in self._by_words.items():
            if (
                len(key) == len(head) + 1
                and key[: len(head)] == head
                and (scope == "repl" or command.scope == "both")
            ):
                out.append(key[-1])
        return sorted(set(out))

    def subcommands(self, head: tuple[str, ...], scope: str = "repl") -> list[Command]:
        """The commands one word after ``head`` (each once, aliases not repeated), by name."""
        found = [
            c
            for c in self.commands(scope=scope)
            if len(c.words) == len(head) + 1 and c.words[: len(head)] == head
        ]
        return sorted(found, key=lambda c: c.words[-1])

    def split_command_line(
        self, argv: Sequence[str], prefix: str = "chatcli "
    ) -> tuple[ParsedArgs, list[str]]:
        """The command line's global options (wherever they stand) and the remaining words."""
        usage = f"{prefix}[--sessions-dir PATH] sessions COMMAND … [--json]"
        return extract_options(argv, self.command_line_options, usage)

    def find(
        self, words: Sequence[str], *, scope: str = "repl", prefix: str = "/"
    ) -> tuple[Command, list[str]]:
        """The command named by the longest leading run of ``words``, and the remaining words."""
        for length in range(min(len(words), 3), 0, -1):
            command = self._by_words.get(tuple(words[:length]))
            if command is not None and (scope == "repl" or command.scope == "both"):
                return command, list(words[length:])
        typed = (
            " ".join(words[:2])
            if words and self._group_like(words[0], scope)
            else (words[0] if words else "")
        )
        # The command line has no 'help' command: point at the groups' --help there.
        usage = (
            ""
            if scope == "repl"
            else "' or '".join(f"{prefix}{g} --help" for g in sorted(self.group_names(scope)))
        )
        group = words[0] if words and words[0] in self.group_names(scope) and len(words) > 1 else ""
        raise UnknownCommand(typed, self.suggest(words, scope=scope), prefix, usage, group=group)

    def _group_like(self, word: str, scope: str) -> str | None:
        """The group ``word`` names or is a typo of (``sesions`` -> ``sessions``), if any."""
        groups = sorted(self.group_names(scope))
        if word in groups:
            return word
        close = _close_matches(word, groups, n=1, cutoff=0.75)
        return close[0] if close else None

    def suggest(self, words: Sequence[str], *, scope: str = "repl") -> list[str]:
        """Close matches for a mistyped command (for "did you mean …?")."""
        names = [" ".join(key) for key, c in self._by_words.items() if scope == "repl" or c.scope == "both"]
        if not words:
            return []
        group = self._group_like(words[0], scope)
        if group is not None and len(words) > 1:
            # Compare the subcommand word alone: the shared group word would make everything "close".
            subs = self.words_after((group,), scope)
            return [f"{group} {w}" for w in _close_matches(words[1], subs, n=3, cutoff=0.6)]
        if group is not None and group != words[0]:
            return [group]
        return _close_matches(words[0], names, n=3, cutoff=0.6)

    def parse(self, line: str, *, scope: str = "repl", prefix: str = "/") -> tuple[Command, list[str]]:
        """Split a slash-command line (without its leading ``/``) and find its command."""
        words = split_line(line)
        if not words:
            raise UsageError(
                f"type a command after '{prefix}'", f"{prefix}COMMAND … ({prefix}help lists them)"
            )
        return self.find(words, scope=scope, prefix=prefix)

    def stops_cleanly(self, words: Sequence[str], *, scope: str = "repl") -> bool:
        """True when ``words`` name a command that Ctrl-C stops cleanly (``Command.stops_cleanly``);
        False for anything else, unknown commands included (running them reports those)."""
        try:
            return self.find(words, scope=scope)[0].stops_cleanly
        except UnknownCommand:
            return False

    def run(self, ctx: CommandContext, words: Sequence[str], *, scope: str = "repl") -> object:
        """Find, parse and run a command; errors propagate to the caller's single error boundary."""
        if len(words) == 1 and words[0] in self.group_names(scope):
            default = self.group_defaults.get(words[0])
            if default is not None:
                return default(ctx, ParsedArgs())
            return self.help(words, scope=scope, prefix=ctx.prefix)
        command, rest = self.find(words, scope=scope, prefix=ctx.prefix)
        args = parse_args(command, rest, prefix=ctx.prefix)
        try:
            return command.resolve()(ctx, args)
        except SessionNotFound as exc:  # say where it looked, in the words of this front end
            exc.locate(ctx.sessions_folder, ctx.prefix)
            raise

    def help_for(self, command: Command, prefix: str = "/") -> CommandHelp:
        """The help record of one command, straight from its spec."""
        from chatcli.commands.results import CommandHelp  # help only: not on a command's path

        return CommandHelp(
            name=command.name,
            usage=command.usage(prefix),
            summary=command.summary,
            aliases=command.aliases,
            arguments=tuple((a.name.upper(), a.help) for a in command.args),
            options=tuple((o.label(), o.help) for o in command.options),
            details="\n".join(
                p for p in (command.details, *(f"  {prefix}{e}" for e in command.examples)) if p
            ),
        )

    def help(self, words: Sequence[str] = (), *, scope: str = "repl", prefix: str = "/") -> HelpResult:
        """Help for everything, for a group (``sessions``) or for one command."""
        from chatcli.commands.results import HelpResult

        if not words:
            return self._overview(scope, prefix)
        if len(words) == 1 and words[0] in self.group_names(scope):
            chosen = [c for c in self.commands(scope=scope) if c.words[0] == words[0] and len(c.words) > 1]
            detail = (
                f"{prefix}help {words[0]} COMMAND"
                if scope == "repl"
                else f"{prefix}{words[0]} COMMAND --help"
            )
            return HelpResult(
                f"{prefix}{words[0]} commands",
                f"Sessions are saved as you chat. IDs take a full id, a unique prefix (4+ characters) "
                f"or a session name. '{detail}' shows one command in detail."
                + (
                    f" '{prefix}{words[0]}' alone lists the recent ones."
                    if words[0] in self.group_defaults
                    else ""
                ),
                tuple(self.help_for(c, prefix) for c in chosen),
            )
        command, rest = self.find(list(words), scope=scope, prefix=prefix)
        if rest:
            raise UsageError(f"no help for {' '.join(words)!r}", f"{prefix}help [COMMAND]")
        return HelpResult(f"{prefix}{command.name}", command.summary, (self.help_for(command, prefix),), True)

    def _overview(self, scope: str, prefix: str) -> HelpResult:
        """The short page ``/help`` shows: the commands of one word, then each group's words."""
        from chatcli.commands.results import HelpResult

        groups = sorted(self.group_names(scope))
        return HelpResult(
            "chatcli commands",
            "Details: " + "".join(f"'{prefix}help {g}', " for g in groups) + f"'{prefix}help COMMAND'.",
            tuple(self.help_for(c, prefix) for c in self.commands(scope=scope) if len(c.words) == 1),
            groups=tuple(
                (
                    f"{prefix}{g} COMMAND" + (f"  (alone: recent {g})" if g in self.group_defaults else ""),
                    tuple(
                        dict.fromkeys(  # 'trash' once, for 'trash' and 'trash empty'
                            c.words[1]
                            for c in self.commands(scope=scope)
                            if c.words[0] == g and len(c.words) > 1
                        )
                    ),
                )
                for g in groups
            ),
        )
