"""The registry: one table drives dispatch, help, "did you mean" and completion words."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatcli.commands.catalog import build_registry
from chatcli.commands.context import CommandContext
from chatcli.commands.registry import Registry, UnknownCommand
from chatcli.commands.results import NewSessionAction, QuitAction, RecentSessions
from chatcli.commands.sessions_table import LABEL_COMMANDS, SESSION_COMMANDS, TRASH_COMMANDS
from chatcli.commands.spec import Command, HelpRequested, ParsedArgs, UsageError
from chatcli.session.outcomes import ListResult
from tests.helpers import SESSION_SUBCOMMANDS

SESSION_WORDS = set(SESSION_SUBCOMMANDS)
#: Every ``sessions`` command's name (``sessions trash empty`` is the one of three words).
SESSION_NAMES = {f"sessions {w}" for w in SESSION_WORDS} | {"sessions trash empty"}
REPL_ONLY = {"help", "new", "resume", "retry", "clear", "quit"}

Ctx = Callable[..., CommandContext]


def test_every_session_command_of_the_issue_is_registered(registry: Registry) -> None:
    assert {c.words[1] for c in registry if c.words[0] == "sessions"} == SESSION_WORDS
    assert {c.name for c in registry if len(c.words) == 1} == REPL_ONLY


@pytest.mark.parametrize(
    ("words", "name", "rest"),
    [
        (["sessions", "list", "--all"], "sessions list", ["--all"]),
        (["sessions", "ls", "--all"], "sessions list", ["--all"]),
        (["sessions", "rm", "abcd"], "sessions delete", ["abcd"]),
        (["sessions", "rename", "a", "b"], "sessions name", ["a", "b"]),
        (["sessions", "grep", "x"], "sessions search", ["x"]),
        (["sessions", "copy", "x"], "sessions fork", ["x"]),
        (["help", "sessions", "list"], "help", ["sessions", "list"]),
        (["?"], "help", []),
        (["exit"], "quit", []),
        (["q"], "quit", []),
    ],
)
def test_find_takes_the_longest_match_and_aliases(
    registry: Registry, words: list[str], name: str, rest: list[str]
) -> None:
    command, remaining = registry.find(words)
    assert command.name == name
    assert remaining == rest


@pytest.mark.parametrize(
    ("words", "typed", "suggestions"),
    [
        (["sesions", "list"], "sesions list", ["sessions list"]),
        (["sessoins", "show", "abcd"], "sessoins show", ["sessions show"]),
        (["sessions", "delet", "abcd"], "sessions delet", ["sessions delete"]),
        (["sessions", "serch", "x"], "sessions serch", ["sessions search"]),
        (["hlep"], "hlep", ["help"]),
        (["sesions"], "sesions", ["sessions"]),
    ],
)
def test_unknown_command_suggests_close_commands(
    registry: Registry, words: list[str], typed: str, suggestions: list[str]
) -> None:
    with pytest.raises(UnknownCommand) as info:
        registry.find(words)
    err = info.value
    assert err.typed == typed
    assert err.suggestions[: len(suggestions)] == suggestions
    group = "sessions " if typed.startswith("sessions ") else ""
    named = (
        f"'{typed.removeprefix(group)}' is not a /{group.strip()} command"
        if group
        else f"'/{typed}' is not a command"
    )
    assert err.message.startswith(f"{named} — did you mean /{suggestions[0]}")
    assert err.exit_code == 2
    assert isinstance(err, UsageError)


def test_unknown_command_without_close_matches(registry: Registry) -> None:
    with pytest.raises(UnknownCommand) as info:
        registry.find(["xyzzy"])
    assert info.value.suggestions == []
    assert info.value.message == "'/xyzzy' is not a command"
    assert info.value.user_message().endswith("'/help' lists every command.")
    assert "help" in info.value.usage
    with pytest.raises(UnknownCommand) as sub:
        registry.find(["sessions", "qqqqq"])
    assert sub.value.message == "'qqqqq' is not a /sessions command"


def test_repl_only_commands_do_not_exist_on_the_command_line(registry: Registry) -> None:
    for word in REPL_ONLY:
        assert registry.find([word])[0].name == word
        with pytest.raises(UnknownCommand):
            registry.find([word], scope="cli")
    assert {c.name for c in registry.commands(scope="cli")} == SESSION_NAMES
    assert set(registry.words_after(())) >= REPL_ONLY
    assert registry.words_after((), scope="cli") == []
    assert registry.group_names(scope="cli") == {"sessions"}
    # A REPL-only command is not even suggested on the command line.
    with pytest.raises(UnknownCommand) as info:
        registry.find(["hlep"], scope="cli", prefix="chatcli ")
    assert info.value.suggestions == []


def test_words_after_offers_subcommands_and_aliases(registry: Registry) -> None:
    words = registry.words_after(("sessions",))
    assert set(words) >= SESSION_WORDS
    assert set(words) >= {"ls", "rm", "rename", "grep", "copy"}
    assert words == sorted(words)
    assert registry.group_names() == {"sessions"}


def test_registering_a_name_twice_is_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(SESSION_COMMANDS[0])
    clash = Command(("sessions", "ls"), "clashes with an alias", lambda ctx, args: None)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(clash)


def test_parse_splits_and_finds(registry: Registry) -> None:
    command, rest = registry.parse("sessions name abcd 'new-name'")
    assert command.name == "sessions name"
    assert rest == ["abcd", "new-name"]
    with pytest.raises(UsageError, match="type a command"):
        registry.parse("   ")
    with pytest.raises(UsageError, match="close the quote"):
        registry.parse("sessions show 'abcd")


# --------------------------------------------------------------------------- help


def test_help_for_everything_is_a_short_overview(registry: Registry) -> None:
    """Issue 12 item 18: /help listed every command with its usage and scrolled off a 24-row
    window; now the chat commands are one line each and the session commands one list of words."""
    page = registry.help()
    assert [c.name for c in page.commands] == [c.name for c in registry if len(c.words) == 1]
    assert {c.name for c in page.commands} == REPL_ONLY
    assert page.detailed is False
    [(heading, words)] = page.groups
    assert heading == "/sessions COMMAND  (alone: recent sessions)"
    assert set(words) == set(SESSION_WORDS)
    assert "'/help sessions'" in page.intro and "'/help COMMAND'" in page.intro
    cli_page = registry.help(scope="cli", prefix="chatcli ")
    assert cli_page.commands == ()
    assert [h for h, _ in cli_page.groups] == ["chatcli sessions COMMAND  (alone: recent sessions)"]


def test_help_for_the_sessions_group(registry: Registry) -> None:
    page = registry.help(["sessions"])
    assert page.title == "/sessions commands"
    assert [c.name for c in page.commands] == [
        c.name for c in (*SESSION_COMMANDS, *TRASH_COMMANDS, *LABEL_COMMANDS)
    ]
    assert "4+ characters" in page.intro


@pytest.mark.parametrize("words", [["sessions", "list"], ["sessions", "ls"]])
def test_help_for_one_command_comes_from_its_spec(registry: Registry, words: list[str]) -> None:
    page = registry.help(words)
    assert page.detailed is True
    (entry,) = page.commands
    command = registry.find(["sessions", "list"])[0]
    assert entry.name == "sessions list"
    assert (
        entry.usage
        == command.usage("/")
        == "/sessions list [--archived] [--all] [--search TEXT] [--limit N] [--no-limit] [--tag TAG] "
        "[--all-projects] [--json]"
    )
    assert entry.summary == command.summary
    assert entry.aliases == ("ls",)
    assert dict(entry.options)["-n, --limit N"] == "show at most N (default 50)"
    assert "/sessions list --search docker" in entry.details


def test_help_for_a_command_lists_its_arguments(registry: Registry) -> None:
    (entry,) = registry.help(["sessions", "name"]).commands
    assert [name for name, _ in entry.arguments] == ["ID", "NAME"]
    # In the chat the ID may be left out (the session in use); on the command line it may not.
    assert entry.usage == "/sessions name [--clear] [--json] [ID] [NAME]"
    (entry,) = registry.help(["sessions", "name"], scope="cli", prefix="chatcli ").commands
    assert entry.usage == "chatcli sessions name [--clear] [--json] ID [NAME]"


def test_help_for_unknown_things(registry: Registry) -> None:
    with pytest.raises(UnknownCommand):
        registry.help(["nonsense"])
    with pytest.raises(UsageError, match="no help for"):
        registry.help(["sessions", "list", "extra"])


def test_run_of_the_bare_group_lists_the_recent_sessions(registry: Registry, make_ctx: Ctx) -> None:
    """Issue 12 item 18: ``/sessions`` alone printed help; now it lists the recent sessions."""
    result = registry.run(make_ctx(), ["sessions"])
    assert isinstance(result, RecentSessions) and isinstance(result, ListResult)
    assert result.hint == "More: /sessions list · commands: /help sessions"
    cli = registry.run(make_ctx(prefix="chatcli "), ["sessions"], scope="cli")
    assert isinstance(cli, RecentSessions)
    assert cli.hint == "More: chatcli sessions list · commands: chatcli sessions --help"


def test_a_bare_group_without_a_default_shows_its_help(make_ctx: Ctx) -> None:
    plain = Registry(build_registry())
    assert plain.run(make_ctx(), ["sessions"]) == plain.help(["sessions"])


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ([], None),
        (["sessions"], ["sessions"]),
        (["/sessions", "list"], ["sessions", "list"]),
        (["sessions list"], ["sessions", "list"]),
        (["resume"], ["resume"]),
    ],
)
def test_help_command(
    registry: Registry, make_ctx: Ctx, topic: list[str], expected: list[str] | None
) -> None:
    result = registry.run(make_ctx(), ["help", *topic])
    assert result == registry.help(expected or [])


def test_help_command_for_an_unknown_topic(registry: Registry, make_ctx: Ctx) -> None:
    with pytest.raises(UnknownCommand) as info:
        registry.run(make_ctx(), ["help", "sesions", "lst"])
    assert "did you mean" in info.value.message


def test_run_dispatches_to_the_handler(registry: Registry, make_ctx: Ctx) -> None:
    assert isinstance(registry.run(make_ctx(), ["sessions", "ls", "--all"]), ListResult)
    assert isinstance(registry.run(make_ctx(), ["new"]), NewSessionAction)
    assert isinstance(registry.run(make_ctx(), ["exit"]), QuitAction)
    with pytest.raises(UnknownCommand):
        registry.run(make_ctx(), ["new"], scope="cli")


def test_run_reports_bad_arguments_with_the_prefix(registry: Registry, make_ctx: Ctx) -> None:
    with pytest.raises(UsageError) as info:
        registry.run(make_ctx(prefix="chatcli "), ["sessions", "show"], scope="cli")
    assert info.value.user_message() == (
        "missing ID (a session id, unique id prefix or name; see: chatcli sessions list)\n"
        "Usage: chatcli sessions show [--last N] [--json] ID"
    )
    with pytest.raises(HelpRequested) as req:
        registry.run(make_ctx(), ["sessions", "prune", "--help"])
    assert req.value.command.name == "sessions prune"


def test_handlers_receive_parsed_arguments() -> None:
    seen: list[ParsedArgs] = []

    def handler(ctx: CommandContext, args: ParsedArgs) -> str:
        seen.append(args)
        return "done"

    from chatcli.commands.spec import Arg

    reg = Registry([Command(("echo",), "echo", handler, args=(Arg("words", "text", "words", rest=True),))])
    ctx = CommandContext(service=None)  # type: ignore[arg-type]
    assert reg.run(ctx, ["echo", "a", "b"]) == "done"
    assert seen[0].text("words") == "a b"
