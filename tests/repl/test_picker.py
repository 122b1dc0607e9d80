"""The ``--resume`` picker: fuzzy filtering and the keys of the interactive list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from prompt_toolkit.utils import get_cwidth

from chatcli.repl.completion.snapshot import SnapshotEntry
from chatcli.repl.picker import (
    NEW_SESSION,
    VISIBLE_ROWS,
    _Picker,
    filter_entries,
    fit,
    fuzzy_score,
    pick_session,
)
from tests.helpers import CTRL_C, entry, snapshot_of

ID_ALPHA = "aaaa0000-0000-4000-8000-000000000001"
ID_BETA = "bbbb0000-0000-4000-8000-000000000002"
ID_DOCKER = "cccc0000-0000-4000-8000-000000000003"
ID_OLD = "dddd0000-0000-4000-8000-000000000004"

ENTRIES = snapshot_of(
    [
        entry(ID_ALPHA, "alpha", "first thing", minutes_ago=1),
        entry(ID_BETA, "beta", "second thing about docker", minutes_ago=2),
        entry(ID_DOCKER, None, "docker compose networking", minutes_ago=3),
        entry(ID_OLD, "old-notes", "notes", minutes_ago=900, archived=True),
    ]
).entries

DOWN = "\x1b[B"
UP = "\x1b[A"
ESC = "\x1b"


def pick(keys: str, entries: Sequence[SnapshotEntry] = ENTRIES) -> str | None:
    """Run the picker with ``keys`` typed into it."""
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        return pick_session(entries, input=pipe, output=DummyOutput())


# --------------------------------------------------------------------------- scoring and filtering


def test_fuzzy_score_prefers_early_substrings_over_scattered_letters() -> None:
    assert fuzzy_score("", "anything") == 0
    assert fuzzy_score("dock", "docker compose") == 0
    assert fuzzy_score("compose", "docker compose") == 7
    assert fuzzy_score("DOCK", "docker") == 0
    scattered = fuzzy_score("dcr", "docker")
    assert scattered is not None
    assert scattered > 1000
    assert fuzzy_score("dcr", "d-c-r") is not None
    tighter = fuzzy_score("dcr", "dcxr")
    assert tighter is not None
    assert tighter < scattered
    assert fuzzy_score("rd", "docker") is None  # letters out of order
    assert fuzzy_score("z", "docker") is None


def test_filter_ranks_by_match_quality_then_recency() -> None:
    assert filter_entries(ENTRIES, "") == list(ENTRIES)
    # "docker" starts the first message of ID_DOCKER (score 0) but sits later in beta's.
    assert [e.id for e in filter_entries(ENTRIES, "docker")] == [ID_DOCKER, ID_BETA]
    # "thing" comes one character earlier in alpha's first message than in beta's.
    assert [e.id for e in filter_entries(ENTRIES, "thing")] == [ID_ALPHA, ID_BETA]
    # Equal scores keep the newest first.
    same = snapshot_of(
        [entry(ID_ALPHA, "proj-a", minutes_ago=9), entry(ID_BETA, "proj-b", minutes_ago=2)]
    ).entries
    assert [e.id for e in filter_entries(same, "proj")] == [ID_BETA, ID_ALPHA]
    assert [e.id for e in filter_entries(ENTRIES, "old-n")] == [ID_OLD]
    assert filter_entries(ENTRIES, "qqq") == []


def test_filter_matches_names_first_messages_and_ids() -> None:
    assert [e.id for e in filter_entries(ENTRIES, "alp")] == [ID_ALPHA]
    assert [e.id for e in filter_entries(ENTRIES, "networking")] == [ID_DOCKER]
    assert [e.id for e in filter_entries(ENTRIES, "bbbb0")] == [ID_BETA]
    assert [e.id for e in filter_entries(ENTRIES, "ntwrk")] == [ID_DOCKER]  # fuzzy


# --------------------------------------------------------------------------- keys


def test_enter_resumes_the_newest_by_default() -> None:
    assert pick("\r") == ID_ALPHA


def test_typing_a_query_then_enter_picks_the_best_match() -> None:
    assert pick("netw\r") == ID_DOCKER
    assert pick("bet\r") == ID_BETA


def test_down_and_up_move_the_selection() -> None:
    assert pick(DOWN + "\r") == ID_BETA
    assert pick(DOWN + DOWN + "\r") == ID_DOCKER
    assert pick(DOWN + DOWN + UP + "\r") == ID_BETA
    assert pick(UP + UP + "\r") == ID_ALPHA  # stops at the top
    assert pick(DOWN * 3 + "\r") == ID_OLD
    assert pick(DOWN * 10 + "\r") == NEW_SESSION  # stops at the bottom: the "new session" row
    assert pick(DOWN * 10 + UP + "\r") == ID_OLD


def test_typing_resets_the_selection_to_the_best_match() -> None:
    assert pick(DOWN + DOWN + "docker\r") == ID_DOCKER


def test_down_moves_within_the_filtered_list() -> None:
    assert pick("docker" + DOWN + "\r") == ID_BETA


@pytest.mark.parametrize("keys", [ESC, CTRL_C, "qqq\r" + ESC, DOWN + ESC, "alp" + CTRL_C])
def test_escape_and_ctrl_c_cancel_and_enter_on_no_match_does_nothing(keys: str) -> None:
    """Issue 12 item 9: Esc, Ctrl-C and Enter on "no match" all started a new chat."""
    assert pick(keys) is None


def test_starting_a_new_session_is_an_explicit_row() -> None:
    assert pick("qqq" + DOWN + "\r") == NEW_SESSION  # no match: chosen with the arrows
    assert pick("alp" + DOWN + "\r") == NEW_SESSION  # after the matches
    assert pick(DOWN + "\r", entries=()) == NEW_SESSION


def test_the_new_session_row_is_shown_and_highlighted_when_chosen() -> None:
    picker = _Picker(ENTRIES)
    text = "".join(fragment[1] for fragment in picker.rows())
    assert "+ Start a new session" in text
    picker.query.text = "qqq"
    rows = picker.rows()
    assert "no session matches" in rows[0][1]
    assert ("", "  + Start a new session\n") in rows  # not highlighted: Enter does nothing
    picker.moved = True
    assert ("reverse", "  + Start a new session\n") in picker.rows()


def test_nothing_to_pick_from() -> None:
    assert pick("\r" + ESC, entries=()) is None


def test_selection_below_the_visible_rows() -> None:
    many = snapshot_of(
        [
            entry(f"{i:08x}-0000-4000-8000-000000000000", f"s-{i:02d}", minutes_ago=i)
            for i in range(VISIBLE_ROWS + 5)
        ]
    ).entries
    target = VISIBLE_ROWS + 2
    assert pick(DOWN * target + "\r", many) == many[target].id


def test_each_query_is_filtered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redraws and arrow keys reuse the filtered list: at 100,000 sessions a filter is costly."""
    from chatcli.repl.picker_filter import Scan, SnapshotFilter

    queries: list[str] = []
    original = SnapshotFilter.begin

    def counting(self: SnapshotFilter, query: str) -> Scan:
        queries.append(query)
        return original(self, query)

    monkeypatch.setattr(SnapshotFilter, "begin", counting)
    assert pick("do" + DOWN + DOWN + UP + "\r") == ID_BETA
    assert queries.count("do") == 1 and queries.count("") <= 1 and queries.count("d") <= 1


# --------------------------------------------------------------------------- rows at narrow widths

ID_LOG1 = "c8d58a8f-0000-4000-8000-000000000001"
ID_LOG2 = "5703f3b3-0000-4000-8000-000000000002"
LONG_NAME = "q3-roadmap-and-a-very-long-session-name-indeed"
LOG = "How do I configure the logging module so that it writes to "


def narrow_entries() -> tuple[SnapshotEntry, ...]:
    """Two unnamed sessions whose first messages start alike, named ones, ages from now."""
    now = datetime.now(UTC)
    return snapshot_of(
        [
            entry(ID_LOG1, None, LOG + "a file?", minutes_ago=3, now=now),
            entry(ID_LOG2, None, LOG + "syslog?", minutes_ago=30, now=now),
            entry(ID_ALPHA, "fix-login", "fix the login page", minutes_ago=300, now=now),
            entry(ID_BETA, LONG_NAME, "quarterly roadmap planning", minutes_ago=60 * 24 * 3, now=now),
            entry(ID_DOCKER, "日本語の名前", "短い", minutes_ago=60, now=now),
        ]
    ).entries


def screen_lines(width: int) -> list[str]:
    """The picker's rows as they would show on a ``width``-column screen."""
    return "".join(fragment[1] for fragment in _Picker(narrow_entries()).rows(width)).splitlines()


@pytest.mark.parametrize("width", [100, 80, 50])
def test_rows_keep_the_title_then_the_age_then_the_id(width: int) -> None:
    """Issue 12 item 10: names were padded to 30 columns, first messages cut without an ellipsis,
    and at 50 columns no first message showed, so unnamed rows looked identical."""
    lines = screen_lines(width)
    assert all(get_cwidth(line) < width for line in lines), lines
    entries = narrow_entries()
    rows = lines[: len(entries)]
    assert len(set(rows)) == len(rows)  # no two rows alike, unnamed ones included
    by_id = {item.id: row for item in entries for row in rows if row.endswith(item.id[:8])}
    assert len(by_id) == len(entries)
    for item in entries:
        assert by_id[item.id].startswith("  " + (item.name or "How do I")[:6]), by_id[item.id]
    fix = by_id[ID_ALPHA]
    assert fix.startswith("  fix-login  fix the login p")  # the name is not padded
    assert "5h ago" in fix and "1h ago" in by_id[ID_DOCKER]
    assert by_id[ID_LOG1].split("  ")[1].endswith("…" if width < 100 else "a file?")


def test_at_50_columns_an_unnamed_row_shows_its_first_message_cut_with_an_ellipsis() -> None:
    row = screen_lines(50)[0]
    assert row.startswith("  How do I configure the l")
    assert "…" in row and row.endswith("3m ago  c8d58a8f")


def test_the_id_gives_way_first_then_the_age() -> None:
    rows = screen_lines(36)[:5]
    assert all("c8d58a8f" not in row for row in rows)
    assert rows[0].endswith("3m ago")
    assert screen_lines(24)[0] == "  How do I configure t…"  # and then the age


def test_the_status_line_is_shortened_to_fit() -> None:
    assert screen_lines(80)[-1] == "  5 of 5 sessions · Enter resumes · Esc cancels"
    assert screen_lines(40)[-1] == "  5 of 5 · Enter resumes · Esc cancels"
    assert screen_lines(30)[-1] == "  5/5 · Esc cancels"


def test_fit_counts_wide_characters_and_marks_a_cut() -> None:
    assert fit("short", 10) == "short"
    assert fit("exactly10!", 10) == "exactly10!"
    assert fit("eleven chars", 10) == "eleven ch…"
    assert fit("日本語の名前", 7) == "日本語…"
    assert get_cwidth(fit("日本語の名前", 8)) <= 8
    assert fit("anything", 0) == ""


def test_a_highlighted_row_is_reversed_across_its_width() -> None:
    rows = _Picker(narrow_entries()).rows(80)
    first_row = rows[: rows.index(("", "\n"))]
    assert all("reverse" in style for style, _text, *_ in first_row)
    assert ("bold", "fix-login") in rows  # the other rows: the name in bold, not highlighted
