"""The argument parser shared by slash commands and the command line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatcli.commands.context import CommandContext
from chatcli.commands.spec import (
    Arg,
    Command,
    HelpRequested,
    Option,
    ParsedArgs,
    UsageError,
    format_duration,
    parse_args,
    parse_duration,
    split_line,
)


def _noop(ctx: CommandContext, args: ParsedArgs) -> None:
    return None


DEMO = Command(
    ("demo", "run"),
    "a command exercising every kind of argument",
    _noop,
    args=(
        Arg("id", "session", "which one"),
        Arg("extra", "text", "optional second word", required=False),
    ),
    options=(
        Option(("-a", "--all"), "all", "a flag"),
        Option(("-n", "--limit"), "limit", "a number", kind="int", metavar="N"),
        Option(("--older-than",), "older_than", "a duration", kind="duration", metavar="DURATION"),
        Option(("-f", "--format"), "format", "a choice", kind="choice", choices=("markdown", "json")),
        Option(("--name",), "name", "a text value", kind="name", metavar="NAME", default="unset"),
    ),
)

SEARCH = Command(
    ("demo", "search"),
    "rest arguments",
    _noop,
    args=(Arg("text", "text", "words", rest=True),),
    options=(Option(("-n", "--limit"), "limit", "a number", kind="int", metavar="N"),),
)


def test_positionals_flags_and_values() -> None:
    parsed = parse_args(DEMO, ["abcd", "-a", "-n", "5", "--format", "json", "more"])
    assert parsed.required("id") == "abcd"
    assert parsed.text("extra") == "more"
    assert parsed.flag("all") is True
    assert parsed.number("limit") == 5
    assert parsed.text("format") == "json"
    assert parsed.text("name") == "unset"  # the default
    assert parsed.duration("older_than") is None


def test_defaults_when_nothing_is_given() -> None:
    parsed = parse_args(DEMO, ["abcd"])
    assert parsed.flag("all") is False
    assert parsed.number("limit") is None
    assert parsed.text("extra") is None


@pytest.mark.parametrize(
    "tokens",
    [["--limit=7", "x"], ["-n=7", "x"], ["x", "--limit", "7"], ["-n", "7", "x"], ["--limit=07", "x"]],
)
def test_option_spellings(tokens: list[str]) -> None:
    assert parse_args(DEMO, tokens).number("limit") == 7


def test_inline_value_may_contain_equals_and_spaces() -> None:
    assert parse_args(DEMO, ["x", "--name=a=b c"]).text("name") == "a=b c"


def test_missing_required_argument_shows_the_usage() -> None:
    with pytest.raises(UsageError) as info:
        parse_args(DEMO, ["-a"])
    assert info.value.message == "missing ID"
    assert info.value.usage == DEMO.usage("/")
    assert info.value.user_message() == f"missing ID\nUsage: {DEMO.usage('/')}"
    assert info.value.exit_code == 2


def test_extra_arguments_are_refused() -> None:
    with pytest.raises(UsageError, match=r"unexpected argument\(s\): 'three'"):
        parse_args(DEMO, ["one", "two", "three"])


def test_unknown_option_suggests_a_close_one() -> None:
    with pytest.raises(UsageError) as info:
        parse_args(DEMO, ["x", "--limt", "3"])
    assert "unknown option '--limt'" in info.value.message
    assert "did you mean --limit?" in info.value.message
    with pytest.raises(UsageError) as far:
        parse_args(DEMO, ["x", "--zzzzzz"])
    assert "did you mean" not in far.value.message


def test_usage_line_uses_the_given_prefix() -> None:
    with pytest.raises(UsageError) as info:
        parse_args(DEMO, [], prefix="chatcli ")
    assert info.value.usage.startswith("chatcli demo run ")
    assert "[--limit N]" in info.value.usage
    assert info.value.usage.endswith("ID [EXTRA]")


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["x", "--limit"], "--limit needs a value"),
        (["x", "--all=yes"], "--all takes no value"),
        (["x", "-n", "many"], "must be a whole number"),
        (["x", "-n", "0"], "must be at least 1"),
        (["x", "-n", "-3"], "must be at least 1"),
        (["x", "--format", "xml"], "must be one of: markdown, json"),
        (["x", "--older-than", "soon"], "--older-than"),
        (["x", "--older-than", "30"], "needs a unit"),
    ],
)
def test_bad_values_are_usage_errors(tokens: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_args(DEMO, tokens)
    assert message in info.value.message
    assert info.value.usage


def test_double_dash_ends_the_options() -> None:
    parsed = parse_args(SEARCH, ["-n", "2", "--", "--not-an-option", "-x", "--limit"])
    assert parsed.text("text") == "--not-an-option -x --limit"
    assert parsed.number("limit") == 2
    assert parse_args(DEMO, ["--", "-dash-id"]).text("id") == "-dash-id"


def test_rest_argument_joins_the_remaining_words() -> None:
    assert parse_args(SEARCH, ["retry", "with", "backoff"]).text("text") == "retry with backoff"
    assert parse_args(SEARCH, ["retry", "-n", "3", "backoff"]).text("text") == "retry backoff"
    with pytest.raises(UsageError, match="missing TEXT"):
        parse_args(SEARCH, ["-n", "3"])


def test_lone_dash_and_negative_numbers_are_positionals() -> None:
    assert parse_args(DEMO, ["-"]).text("id") == "-"
    assert parse_args(SEARCH, ["-42"]).text("text") == "-42"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_is_requested_before_anything_is_checked(flag: str) -> None:
    with pytest.raises(HelpRequested) as info:
        parse_args(DEMO, [flag])
    assert info.value.command is DEMO
    with pytest.raises(HelpRequested):
        parse_args(DEMO, ["x", flag, "--limit", "nope"])


def test_help_after_double_dash_is_a_value() -> None:
    assert parse_args(SEARCH, ["--", "--help"]).text("text") == "--help"


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("1w3d", timedelta(days=10)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("6mo", timedelta(days=180)),
        ("1y", timedelta(days=365)),
        ("1y6mo", timedelta(days=545)),
        (" 1D12H ", timedelta(days=1, hours=12)),
        ("6months", timedelta(days=180)),
        ("1month", timedelta(days=30)),
        ("2weeks", timedelta(weeks=2)),
        ("3days", timedelta(days=3)),
        ("1year", timedelta(days=365)),
        ("12hours", timedelta(hours=12)),
        ("1000y", timedelta(days=365_000)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "d", "30", "30x", "3.5d", "-3d", "0d", "1d 2h", "h1", "1dd"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("6m", "m is ambiguous: use mo for months or h for hours"),
        ("6M", "m is ambiguous: use mo for months or h for hours"),
        ("90min", "minutes are too short"),
        ("5minutes", "minutes are too short"),
        ("45s", "the shortest is h"),
        ("10seconds", "the shortest is h"),
        ("10000y", "at most 1000y"),
        ("1000y1h", "at most 1000y"),
        ("3000000w", "at most 1000y"),
        ("99999999999999999999d", "at most 1000y"),
        ("9" * 5000 + "d", "at most 1000y"),
    ],
)
def test_durations_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_duration(text)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("value", ["99999999999999999999", "1000001", "9" * 5000])
def test_whole_numbers_are_capped(value: str) -> None:
    with pytest.raises(UsageError, match="at most 1000000") as info:
        parse_args(DEMO, ["x", "-n", value])
    assert len(info.value.message) < 200
    assert parse_args(DEMO, ["x", "-n", "1000000"]).number("limit") == 1_000_000


def test_a_huge_duration_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="at most 1000y"):
        parse_args(DEMO, ["x", "--older-than", "99999999999999999999d"])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=90), "90d"),
        (timedelta(weeks=2), "2w"),
        (timedelta(hours=36), "36h"),
        (timedelta(days=365), "1y"),
        (timedelta(days=30), "30d"),
    ],
)
def test_format_duration_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


def test_duration_option_value() -> None:
    assert parse_args(DEMO, ["x", "--older-than", "1w3d"]).duration("older_than") == timedelta(days=10)


# --------------------------------------------------------------------------- splitting


def test_split_line_groups_quoted_words() -> None:
    assert split_line("""sessions name 'my id' "two words" plain""") == [
        "sessions",
        "name",
        "my id",
        "two words",
        "plain",
    ]
    assert split_line("   ") == []


@pytest.mark.parametrize("line", ["sessions show 'unclosed", 'search "half'])
def test_split_line_unclosed_quote_is_a_usage_error(line: str) -> None:
    with pytest.raises(UsageError, match="close the quote"):
        split_line(line)


def test_option_label_and_usage() -> None:
    assert DEMO.options[1].label() == "-n, --limit N"
    assert DEMO.options[3].label() == "-f, --format markdown|json"
    assert DEMO.options[0].label() == "-a, --all"
    assert SEARCH.usage() == "/demo search [--limit N] TEXT…"
    assert DEMO.option_for("-n") is DEMO.options[1]
    assert DEMO.option_for("--lim") is None
