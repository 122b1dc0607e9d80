"""The ``--resume`` picker: fuzzy filtering and the keys of the interactive list."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatcli.repl.completion.snapshot import SnapshotEntry
from chatcli.repl.picker import NEW_SESSION, VISIBLE_ROWS, _Picker, filter_entries, fuzzy_score, pick_session
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
    import chatcli.repl.picker as picker_module

    queries: list[str] = []
    original = picker_module.filter_entries

    def counting(entries: Sequence[SnapshotEntry], query: str) -> list[SnapshotEntry]:
        queries.append(query)
        return original(entries, query)

    monkeypatch.setattr(picker_module, "filter_entries", counting)
    assert pick("do" + DOWN + DOWN + UP + "\r") == ID_BETA
    assert queries.count("do") == 1 and queries.count("") <= 1 and queries.count("d") <= 1
