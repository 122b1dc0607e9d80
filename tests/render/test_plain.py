"""Plain output without rich (:mod:`chatcli.render.plain`): byte for byte what the plain rich
console writes, or nothing at all (the caller then renders with rich)."""

from __future__ import annotations

from io import StringIO

import pytest

from chatcli.render.console import make_console
from chatcli.render.plain import PLAIN_WIDTH, write_plain
from chatcli.render.terminal import render
from chatcli.session.models import new_session_id, utc_now
from chatcli.session.outcomes import SearchHit, SearchResult, SessionMatches

PIPE = {"NO_COLOR": "1"}


def nothing(query: str, **extra: object) -> SearchResult:
    return SearchResult(query, [], 0, 0, 12_345, **extra)  # type: ignore[arg-type]


def by_rich(result: object, env: dict[str, str]) -> str:
    out = StringIO()
    render(result, make_console(file=out, env=env))
    return out.getvalue()


def by_plain(result: object, env: dict[str, str], stream: StringIO | None = None) -> str | None:
    out = stream or StringIO()
    return out.getvalue() if write_plain(result, out, env) else None


@pytest.mark.parametrize(
    ("result", "env"),
    [
        (nothing("zqxjvnowhere"), PIPE),
        (nothing('"exact phrase" prefix*'), PIPE),
        (
            nothing(
                "retry", notice="This Python's SQLite has no full-text index: every transcript was scanned."
            ),
            PIPE,
        ),
        (nothing("x" * 60), PIPE),
        (nothing("x" * 60), {"COLUMNS": "60"}),
        (nothing("y" * 40), {"COLUMNS": "78"}),
        (nothing("y" * 40), {"COLUMNS": "79"}),  # 79 characters: an exact fit
        (nothing("two  spaces   "), {}),
    ],
)
def test_what_plain_writes_is_what_rich_writes(result: SearchResult, env: dict[str, str]) -> None:
    written = by_plain(result, env)
    assert written is None or written == by_rich(result, env)


def test_a_search_that_found_nothing_is_written_plain() -> None:
    result = nothing("zqxjvnowhere")
    assert (
        by_plain(result, PIPE)
        == "No messages match 'zqxjvnowhere' (12,345 searched).\n"
        == by_rich(result, PIPE)
    )


@pytest.mark.parametrize(
    ("result", "env"),
    [
        (nothing("x" * 60), {"COLUMNS": "40"}),  # rich wraps it
        (nothing("déjà vu"), PIPE),  # not ASCII: cell widths are rich's business
        (nothing("日本語"), PIPE),
        (nothing("retry", warnings=["session 1a2b3c4d could not be read"]), PIPE),  # styled lines
        (nothing("retry"), {"FORCE_COLOR": "1"}),  # terminal output asked for
    ],
)
def test_anything_else_is_left_to_rich(result: SearchResult, env: dict[str, str]) -> None:
    stream = StringIO()
    assert by_plain(result, env, stream) is None
    assert stream.getvalue() == ""


def test_results_with_rows_are_left_to_rich() -> None:
    hit = SearchHit(new_session_id(), None, "user", utc_now(), "the token", 0)
    result = SearchResult(
        "token", [SessionMatches(hit.session_id, None, hit.timestamp, 1, hit, [hit], -1.0)], 1, 1, 3
    )
    assert by_plain(result, PIPE) is None


def test_a_terminal_is_left_to_rich() -> None:
    class Tty(StringIO):
        def isatty(self) -> bool:
            return True

    assert by_plain(nothing("retry"), {"TERM": "dumb"}, Tty()) is None


def test_the_plain_width_is_the_consoles() -> None:
    assert make_console(file=StringIO(), env={}).width == PLAIN_WIDTH


def test_a_line_that_exactly_fits_is_written_plain_and_one_more_character_is_not() -> None:
    result = nothing("y" * 40)  # a line of 79 characters
    assert by_plain(result, {"COLUMNS": "79"}) == by_rich(result, {"COLUMNS": "79"})
    assert by_plain(result, {"COLUMNS": "78"}) is None
