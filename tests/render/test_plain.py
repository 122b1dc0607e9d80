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


def _one(snippet: str, *, name: str | None = None, total: int = 1, **extra: object) -> SearchResult:
    hit = SearchHit(new_session_id(), name, "user", utc_now(), snippet, 0)
    found = SessionMatches(hit.session_id, name, hit.timestamp, 1, hit, [hit], -1.0)
    return SearchResult("token", [found], total, 1, 3, **extra)  # type: ignore[arg-type]


def test_a_search_s_sessions_are_one_line_each_when_piped() -> None:
    result = _one("the token " + "word " * 60, name="fix-login")
    text = by_plain(result, PIPE)
    assert text is not None
    lines = text.splitlines()
    assert lines[0] == "1 match for 'token' in 1 session; 3 searched"
    assert lines[1].split() == ["Session", "Hits", "Active", "Best", "match"]
    sid = result.sessions[0].session_id
    assert lines[2].startswith(f"{sid[:8]} fix-login     1  just now  the token word")
    assert len(lines) == 3 and len(lines[2]) == PLAIN_WIDTH and lines[2].endswith("…")
    # As wide as COLUMNS says, never wrapped.
    narrow = by_plain(result, {**PIPE, "COLUMNS": "72"})
    assert narrow is not None and max(len(line) for line in narrow.splitlines()) <= 72
    assert len(narrow.splitlines()) == 3


@pytest.mark.parametrize("tail", ["", " and more words after it " * 4], ids=["at-the-end", "in-the-middle"])
def test_a_piped_row_keeps_the_match_in_view(tail: str) -> None:
    text = by_plain(_one("…" + "filler " * 30 + "the Token here" + tail), PIPE)
    assert text is not None
    row = text.splitlines()[2]
    assert "the Token here" in row and len(row) <= PLAIN_WIDTH
    assert row.split("  ")[-1].startswith("…")


def test_a_broad_search_piped_says_it_was_not_counted() -> None:
    text = by_plain(_one("the token", total=10_001, counted=False), PIPE)
    assert text is not None
    assert text.splitlines()[0] == "More than 10,000 matches for 'token'; 3 searched (showing the newest 1)"
    assert "too many matches to count" in text.splitlines()[-1]


@pytest.mark.parametrize(
    "result",
    [
        _one("東京タワー token"),  # wide characters: rich lays them out
        _one("token", name="名前"),
        _one("token", every_hit=True),
        _one("token", warnings=["session x was not searched"]),
    ],
    ids=["wide-snippet", "wide-name", "every-hit", "warnings"],
)
def test_what_plain_lines_cannot_lay_out_is_left_to_rich(result: SearchResult) -> None:
    assert by_plain(result, PIPE) is None
    assert by_plain(_one("token"), {**PIPE, "COLUMNS": "40"}) is None  # no room for the match


def test_hostile_text_in_a_piped_row_is_shown_inert() -> None:
    text = by_plain(_one("token \x1b[31mred\x07 \u202e", name="evil\x1b]0;x\x07"), PIPE)
    assert text is not None
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "evil␛]0;x␇" in text and "<U+202E>" in text


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
