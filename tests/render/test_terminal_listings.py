"""Terminal rendering of listings, session details and search results."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from chatcli.render.transcript import MESSAGE_PREVIEW_CHARS
from chatcli.session.errors import CorruptedSession
from chatcli.session.models import Message, new_session_id, utc_now
from chatcli.session.outcomes import (
    ListResult,
    SearchHit,
    SearchResult,
    SessionDetail,
)
from tests.helpers.rendering import (
    BIDI,
    HOSTILE,
    SGR,
    VISIBLE,
    assert_inert,
    found,
    hostile_meta,
    listed_meta,
    make_hit,
    render_plain,
    render_terminal,
)

# ------------------------------------------------------------------------------------ list


def test_list_shows_a_table_of_sessions() -> None:
    meta = listed_meta(name="fix-login", messages=12)
    output = render_plain(ListResult([meta, listed_meta("second one")], [], "active"))
    assert "Sessions (2)" in output
    for header in ("ID", "Name", "Status", "Msgs", "Last active", "First message"):
        assert header in output
    assert meta.id[:8] in output
    assert meta.id not in output
    assert "fix-login" in output
    assert "12" in output
    assert "5m ago" in output
    assert "How do I fix the login bug?" in output
    assert "second one" in output


def test_list_old_sessions_show_a_date() -> None:
    meta = listed_meta(age=timedelta(days=90))
    output = render_plain(ListResult([meta], [], "all"))
    assert meta.last_active.astimezone().strftime("%Y-%m-%d") in output
    assert "All sessions (1)" in output


def test_list_cuts_long_first_messages_to_the_width() -> None:
    meta = listed_meta("word " * 200)
    output = render_plain(ListResult([meta], [], "active"), width=70)
    assert all(len(line) <= 70 for line in output.splitlines())
    assert "…" in output
    assert meta.id[:8] in output


LOGGING = "How do I configure the logging module so that it writes to "


@pytest.mark.parametrize("width", [80, 50])
def test_a_narrow_list_gives_the_name_and_first_message_the_room(width: int) -> None:
    """Issue 12 item 10 for ``sessions list``: at 80 columns the first message had 12 columns
    (beside a name padded to 28 and a status column saying "active" on every row); at 50 the
    name was cut to 8. Now they share one column that keeps all the room the others leave."""
    named = listed_meta("fix the login page", name="fix-login", messages=12)
    unnamed = [listed_meta(LOGGING + "a file?"), listed_meta(LOGGING + "syslog?")]
    output = render_plain(ListResult([named, *unnamed], [], "active"), width=width)
    lines = output.splitlines()
    assert all(len(line) <= width for line in lines)
    header = lines[1].split()
    assert header[-1] == "Session" and "Name" not in header and "Status" not in header
    assert ("Msgs" in header) is (width >= 80)
    row = next(line for line in lines if named.id[:8] in line)
    assert "fix-login  fix the login page" in row
    for meta in unnamed:
        cells = next(line for line in lines if meta.id[:8] in line)
        assert "How do I configure the" in cells and cells.endswith("…")
    wide = render_plain(ListResult([named], [], "active"), width=100)
    assert "First message" in wide and "Name" in wide and "Status" in wide


def test_a_narrow_list_shows_the_status_when_it_mixes_statuses() -> None:
    output = render_plain(ListResult([listed_meta(), listed_meta(archived=True)], [], "all"), width=60)
    assert "Status" in output and "archived" in output


def test_list_folds_newlines_in_first_messages() -> None:
    output = render_plain(ListResult([listed_meta("line one\nline two\ttab")], [], "active"))
    assert "line one line two tab" in output


def test_empty_listing_is_helpful() -> None:
    output = render_plain(ListResult([], [], "active"))
    assert "No active sessions yet — start chatting and your conversation is saved automatically" in output
    assert "No archived sessions" in render_plain(ListResult([], [], "archived"))


def test_empty_search_listing_names_the_search() -> None:
    output = render_plain(ListResult([], [], "active", "login"))
    assert "No active sessions match 'login'" in output
    assert "No sessions match 'x'" in render_plain(ListResult([], [], "all", "x"))


def test_list_problems_are_warnings_after_the_table() -> None:
    problem = CorruptedSession("deadbeef-0000", "metadata.json is truncated")
    output = render_plain(ListResult([listed_meta()], [problem], "active"))
    assert "Warning:" in output
    assert "metadata.json is truncated" in output
    assert "doctor --repair" in output
    assert output.index("Warning:") > output.index("First message")


def test_list_archived_status_is_shown() -> None:
    output = render_plain(ListResult([listed_meta(archived=True)], [], "archived"))
    assert "archived" in output
    assert "Archived sessions (1)" in output


def test_hostile_list_renders_literally() -> None:
    result = ListResult([hostile_meta()], [CorruptedSession(HOSTILE, HOSTILE)], "active", HOSTILE)
    output = assert_inert(render_terminal(result, width=400))
    for visible in VISIBLE:
        assert visible in output
    assert "<U+202E>" in output
    assert "\x1b]8" not in render_terminal(result, width=400)


# ------------------------------------------------------------------------------------ show


def test_detail_shows_metadata_and_recent_messages() -> None:
    meta = listed_meta(name="fix-login", messages=10)
    meta.custom_fields = {"forked_from": "1a2b3c4d-0000"}
    messages = [
        Message(role="user", content="Why does login fail?"),
        Message(role="assistant", content="Because the token expired.", interrupted=True),
        Message(role="system", content="Be brief."),
    ]
    output = render_plain(SessionDetail(meta, messages, 10, ["line 7 of the transcript is unreadable"]))
    assert meta.id in output
    assert "fix-login" in output
    assert "active" in output
    assert "Last 3 of 10 messages" in output
    assert "You" in output
    assert "Assistant" in output
    assert "System" in output
    assert "(interrupted)" in output
    assert "Why does login fail?" in output
    assert "forked_from" in output
    assert "Warning: line 7 of the transcript is unreadable" in output


def test_detail_of_an_empty_session() -> None:
    output = render_plain(SessionDetail(listed_meta(messages=0), [], 0, []))
    assert "No messages yet." in output
    assert "(none)" in output


def test_detail_cuts_very_long_messages() -> None:
    content = "x" * (MESSAGE_PREVIEW_CHARS + 250)
    output = render_plain(SessionDetail(listed_meta(), [Message(role="user", content=content)], 1, []))
    assert "250 more characters" in output


def test_hostile_detail_renders_literally() -> None:
    meta = hostile_meta()
    meta.custom_fields = {HOSTILE: HOSTILE}
    messages = [Message(role="user", content=HOSTILE), Message(role="assistant", content=HOSTILE)]
    output = assert_inert(render_terminal(SessionDetail(meta, messages, 2, [HOSTILE])), bidi_allowed=True)
    for visible in VISIBLE:
        assert visible in output
    panel_and_warning = [line for line in output.splitlines() if "│" in line or "Warning" in line]
    assert panel_and_warning
    assert all(BIDI.search(line) is None for line in panel_and_warning)
    assert "<U+202E>" in output
    metadata_only = render_terminal(SessionDetail(meta, [], 0, [HOSTILE]))
    assert_inert(metadata_only)


def test_search_lists_one_row_per_session() -> None:
    hit = make_hit("…the login token expired…")
    other = make_hit("token again", name=None)
    output = render_plain(SearchResult("token", [found(hit, 3), found(other)], 4, 2, 7))
    assert "4 matches for 'token' in 2 sessions; 7 searched" in output
    assert hit.session_id[:8] in output and other.session_id[:8] in output
    assert "fix-login" in output
    assert "3h ago" in output
    assert "…the login token expired…" in output
    assert "--limit" not in output


def test_search_with_every_hit_lists_roles() -> None:
    hit = make_hit("…the login token expired…", role="assistant")
    output = render_plain(SearchResult("token", [found(hit, 1)], 1, 1, 7, every_hit=True))
    assert "assistant" in output and "…the login token expired…" in output


def test_search_truncated_points_at_limit() -> None:
    output = render_plain(SearchResult("token", [found(make_hit("token"))], 3, 2, 9))
    assert "(showing 1)" in output
    assert "use --limit N" in output


def test_a_search_too_broad_to_count_says_so_and_how_to_narrow_it() -> None:
    hits = [found(make_hit("kubernetes")) for _ in range(2)]
    output = render_plain(SearchResult("kubernetes", hits, 10_001, 2, 100_000, counted=False))
    assert "More than 10,000 matches for 'kubernetes'; 100,000 searched (showing the newest 2)" in output
    assert "in 2 sessions" not in output
    assert "add words to narrow the search" in output


def test_search_without_hits() -> None:
    output = render_plain(SearchResult("zebra", [], 0, 0, 3))
    assert "No messages match 'zebra' (3 searched)." in output


def test_search_highlights_matches_case_insensitively() -> None:
    result = SearchResult("login BUG", [found(make_hit("fix the Login  bug now"))], 1, 1, 1)
    output = render_terminal(result)
    # each word of the query is highlighted where it occurs
    assert re.search(r"\x1b\[1;7mLogin\x1b\[0m \x1b\[1;7mbug\x1b\[0m", output), repr(output)


def test_search_highlight_treats_the_query_literally() -> None:
    result = SearchResult("[bold].*(", [found(make_hit("see [bold].*( here and [bold]"))], 1, 1, 1)
    output = render_terminal(result)
    assert re.search(r"\x1b\[1;7m\[bold\]\.\*\(\x1b\[0m", output), repr(output)
    assert "see" in SGR.sub("", output)


def test_hostile_search_renders_literally() -> None:
    hit = SearchHit(new_session_id(), HOSTILE, HOSTILE, utc_now(), HOSTILE, 0)
    for every_hit in (False, True):
        result = SearchResult(HOSTILE, [found(hit)], 2, 2, 1, every_hit=every_hit)
        output = assert_inert(render_terminal(result, width=600))
        for visible in VISIBLE:
            # A snippet is one line: a carriage return in it is folded like any whitespace.
            assert visible in output or (visible == "safe␍EVIL" and "safe EVIL" in output), visible
