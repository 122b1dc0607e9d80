"""Terminal rendering of every command result, errors and model replies."""

from __future__ import annotations

import importlib
import inspect
import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from chatcli.commands.catalog import build_registry
from chatcli.commands.registry import Registry, UnknownCommand
from chatcli.commands.results import Cancelled, CommandHelp, ExportResult, HelpResult, SessionChanged
from chatcli.commands.spec import Arg, Command, Option, UsageError
from chatcli.errors import ChatcliError
from chatcli.render.help import brief
from chatcli.render.reply import render_reply_markdown
from chatcli.render.tables import PRUNE_SHOWN
from chatcli.render.terminal import render, render_error
from chatcli.render.transcript import MESSAGE_PREVIEW_CHARS
from chatcli.session.errors import AmbiguousId, CorruptedSession, SessionError, SessionNotFound, StorageError
from chatcli.session.models import Message, SessionMetadata, new_session_id, utc_now
from chatcli.session.outcomes import (
    DeleteResult,
    ListResult,
    PruneResult,
    SearchHit,
    SearchResult,
    SessionDetail,
    SessionMatches,
)
from chatcli.session.transfer import ImportResult

SGR = re.compile(r"\x1b\[[0-9;]*m")
#: Never on screen: control characters other than newline (tab only inside message content).
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

HOSTILE_NAME_PARTS = [
    "[bold red]x[/]",
    "[link=https://evil]x[/link]",
    "\x1b[2J",
    "\x1b]52;c;aGk=\x07",
    "\x1b]8;;http://x\x1b\\t\x1b]8;;\x1b\\",
    "\x9b2J",
    "nul\x00",
    "safe\rEVIL",
    "rtl\u202eevil",
]
HOSTILE = " ".join(HOSTILE_NAME_PARTS)
VISIBLE = ["[bold red]x[/]", "[link=https://evil]x[/link]", "␛[2J", "␛]52;c;aGk=␇", "\\x9b2J", "safe␍EVIL"]


def make_meta(
    first: str = "How do I fix the login bug?",
    *,
    name: str | None = None,
    messages: int = 3,
    age: timedelta = timedelta(minutes=5),
    archived: bool = False,
) -> SessionMetadata:
    meta = SessionMetadata.new(new_session_id(), first)
    meta.message_count = messages
    meta.last_active = utc_now() - age
    if name is not None:
        meta.set_name(name)
    if archived:
        meta.archive()
    return meta


def hostile_meta() -> SessionMetadata:
    """Metadata whose name bypasses validation (as a hand-edited file could)."""
    meta = make_meta(HOSTILE)
    return meta.model_copy(update={"name": HOSTILE})


def plain_console(width: int = 100) -> tuple[Console, StringIO]:
    buf = StringIO()
    return Console(file=buf, force_terminal=False, width=width, color_system=None), buf


def terminal_console(width: int = 160) -> tuple[Console, StringIO]:
    buf = StringIO()
    return Console(file=buf, force_terminal=True, color_system="truecolor", width=width), buf


def render_plain(result: object, width: int = 100) -> str:
    console, buf = plain_console(width)
    render(result, console)
    return buf.getvalue()


def render_terminal(result: object, width: int = 160) -> str:
    console, buf = terminal_console(width)
    render(result, console)
    return buf.getvalue()


def assert_inert(output: str, *, bidi_allowed: bool = False) -> str:
    """Assert no escape sequence other than rich's SGR styling; return the text without SGR.

    Bidi controls may only appear inside message content (``bidi_allowed``), never in names,
    ids, table cells or error messages.
    """
    stripped = SGR.sub("", output)
    assert "\x1b" not in stripped, repr(stripped)
    assert FORBIDDEN.search(stripped) is None, repr(stripped)
    if not bidi_allowed:
        assert BIDI.search(stripped) is None, repr(stripped)
    return stripped


def squash(text: str) -> str:
    """Output with table borders and whitespace removed, for content checks across cells."""
    return re.sub(r"[\s|│]+", " ", text)


# ------------------------------------------------------------------------------------ list


def test_list_shows_a_table_of_sessions() -> None:
    meta = make_meta(name="fix-login", messages=12)
    output = render_plain(ListResult([meta, make_meta("second one")], [], "active"))
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
    meta = make_meta(age=timedelta(days=90))
    output = render_plain(ListResult([meta], [], "all"))
    assert meta.last_active.astimezone().strftime("%Y-%m-%d") in output
    assert "All sessions (1)" in output


def test_list_cuts_long_first_messages_to_the_width() -> None:
    meta = make_meta("word " * 200)
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
    named = make_meta("fix the login page", name="fix-login", messages=12)
    unnamed = [make_meta(LOGGING + "a file?"), make_meta(LOGGING + "syslog?")]
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
    output = render_plain(ListResult([make_meta(), make_meta(archived=True)], [], "all"), width=60)
    assert "Status" in output and "archived" in output


def test_list_folds_newlines_in_first_messages() -> None:
    output = render_plain(ListResult([make_meta("line one\nline two\ttab")], [], "active"))
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
    output = render_plain(ListResult([make_meta()], [problem], "active"))
    assert "Warning:" in output
    assert "metadata.json is truncated" in output
    assert "doctor --repair" in output
    assert output.index("Warning:") > output.index("First message")


def test_list_archived_status_is_shown() -> None:
    output = render_plain(ListResult([make_meta(archived=True)], [], "archived"))
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
    meta = make_meta(name="fix-login", messages=10)
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
    output = render_plain(SessionDetail(make_meta(messages=0), [], 0, []))
    assert "No messages yet." in output
    assert "(none)" in output


def test_detail_cuts_very_long_messages() -> None:
    content = "x" * (MESSAGE_PREVIEW_CHARS + 250)
    output = render_plain(SessionDetail(make_meta(), [Message(role="user", content=content)], 1, []))
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


# ------------------------------------------------------------------------------------ search


def make_hit(snippet: str, *, name: str | None = "fix-login", role: str = "user") -> SearchHit:
    return SearchHit(new_session_id(), name, role, utc_now() - timedelta(hours=3), snippet, 4)


def found(hit: SearchHit, count: int = 1) -> SessionMatches:
    """A session's matches with ``hit`` as its best (and only listed) hit."""
    return SessionMatches(hit.session_id, hit.session_name, hit.timestamp, count, hit, [hit], float(-count))


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


# ------------------------------------------------------------------------------------ writes


def test_delete() -> None:
    meta = make_meta(name="old-stuff", messages=4)
    output = render_plain(DeleteResult(meta))
    assert f"Deleted session old-stuff ({meta.id[:8]}, 4 messages) for good." in output
    trashed = render_plain(DeleteResult(meta, "x", f"/sessions restore {meta.id[:8]}"))
    assert f"Moved session old-stuff ({meta.id[:8]}, 4 messages) to the trash." in trashed
    assert f"Undo with: /sessions restore {meta.id[:8]}" in trashed


def test_import_counts_skips_and_notes() -> None:
    imported = [make_meta("imported one", name="imp")]
    result = ImportResult(imported, [("record 3", "not valid JSON")], ["record 2: name taken"])
    output = render_plain(result)
    assert "Imported 1 session" in output
    assert "imported one" in output
    assert "Could not import 1:" in output
    assert "record 3: not valid JSON" in output
    assert "record 2: name taken" in output


def test_import_of_nothing() -> None:
    output = render_plain(ImportResult([], [("record 1", "\x1b[2Jbad")], []))
    assert "Nothing was imported." in output
    assert "record 1: ␛[2Jbad" in output


def test_prune_dry_run_and_done() -> None:
    cutoff = utc_now() - timedelta(days=30)
    old = [make_meta("ancient", age=timedelta(days=60))]
    dry = render_plain(PruneResult(old, True, cutoff))
    assert "Would delete 1 session last active before" in dry
    assert "(dry run)" in dry
    assert "ancient" in dry
    done = render_plain(PruneResult(old, False, cutoff, [("abcdef12-3456", "it was used again; kept")]))
    assert "Deleted 1 session last active before" in done
    assert "Kept abcdef12: it was used again; kept" in done


def test_a_big_prune_shows_a_sample_and_counts_the_rest() -> None:
    cutoff = utc_now() - timedelta(days=30)
    many = [make_meta(f"ancient {i}", age=timedelta(days=60 + i)) for i in range(PRUNE_SHOWN + 12)]
    dry = render_plain(PruneResult(many, True, cutoff))
    assert f"Would delete {PRUNE_SHOWN + 12} sessions" in dry
    assert "… and 12 more (--json lists every one)." in dry
    assert "ancient 0" in dry and f"ancient {PRUNE_SHOWN + 5}" not in dry
    cancelled = render_plain(PruneResult(many[:3], False, cutoff, [], 9))
    assert "Deleted 3 sessions" in cancelled and "Cancelled: 9 sessions not deleted." in cancelled
    nothing_done = render_plain(PruneResult([], False, cutoff, [], 4))
    assert "Cancelled: 4 sessions not deleted." in nothing_done and "nothing to prune" not in nothing_done


def test_prune_with_nothing_to_do() -> None:
    output = render_plain(PruneResult([], True, utc_now() - timedelta(days=30)))
    assert "nothing to prune" in output


@pytest.mark.parametrize(
    ("verb", "expected"),
    [("renamed", "Renamed {short} to fix-login"), ("archived", "Archived {short} (fix-login)")],
)
def test_session_changed(verb: str, expected: str) -> None:
    meta = make_meta(name="fix-login")
    assert expected.format(short=meta.id[:8]) in render_plain(SessionChanged(verb, meta))


def test_session_changed_unarchive_and_name_removal() -> None:
    meta = make_meta()
    assert f"Unarchived {meta.id[:8]}" in render_plain(SessionChanged("unarchived", meta))
    assert f"Removed the name of {meta.id[:8]}" in render_plain(SessionChanged("renamed", meta))


def test_session_changed_fork() -> None:
    source = make_meta()
    fork = make_meta(name="branch")
    output = render_plain(SessionChanged("forked", fork, source.id))
    assert f"Forked {source.id[:8]} into {fork.id[:8]} (branch)" in output


def test_export_to_a_file() -> None:
    output = render_plain(ExportResult(new_session_id(), "markdown", path=Path("/tmp/out.md")))
    assert "Exported" in output
    assert "as markdown to /tmp/out.md" in output


def test_export_to_a_pipe_is_byte_exact() -> None:
    text = "# Session [bold]x[/]\n\n\tcode\x1b[31m\n"
    assert render_plain(ExportResult(new_session_id(), "markdown", text=text)) == text


def test_export_to_a_terminal_is_raw_but_sanitised() -> None:
    text = "# Session [bold]x[/] **bold**\n\x1b]52;c;aGk=\x07 line\n"
    output = assert_inert(render_terminal(ExportResult(new_session_id(), "markdown", text=text)))
    assert "# Session [bold]x[/] **bold**" in output
    assert "␛]52;c;aGk=␇ line" in output
    assert "\x1b[1m" not in render_terminal(ExportResult(new_session_id(), "markdown", text=text))


def test_cancelled() -> None:
    assert "Nothing was deleted." in render_plain(Cancelled("Nothing was deleted."))


def test_unknown_result_type_is_an_error() -> None:
    with pytest.raises(TypeError, match="no renderer for object"):
        render_plain(object())


# ------------------------------------------------------------------------------------ help


def _handler(*_args: object) -> object:
    return None


def make_registry() -> Registry:
    return Registry(
        [
            Command(
                ("sessions", "list"),
                "List saved sessions",
                _handler,
                options=(
                    Option(("--archived",), "archived", "Show archived sessions"),
                    Option(("-n", "--limit"), "limit", "Show at most N", kind="int", metavar="N"),
                ),
                aliases=("ls",),
                details="Sessions are listed newest first.",
                examples=("sessions list --limit 5",),
            ),
            Command(
                ("sessions", "show"), "Show one session", _handler, args=(Arg("id", "session", "A session"),)
            ),
        ]
    )


def test_help_overview_lists_groups_and_the_group_page_each_command() -> None:
    overview = render_plain(make_registry().help())
    assert "chatcli commands" in overview
    assert "/sessions COMMAND\n  list  show\n" in overview
    group = render_plain(make_registry().help(["sessions"]))
    assert "/sessions list [--archived] [--limit N]" in group
    assert "List saved sessions" in group
    assert "(alias: ls)" in group
    assert "/sessions show ID" in group


@pytest.mark.parametrize("width", [50, 80, 100])
def test_the_real_help_overview_fits_a_24_row_window(width: int) -> None:
    """Issue 12 item 18: /help printed over 32 lines; with the prompt lines it must fit 24 rows.

    Each command is one line, cut with an ellipsis rather than wrapped."""
    lines = render_plain(build_registry().help(), width=width).splitlines()
    assert len(lines) <= 18, "\n".join(lines)
    assert all(len(line) <= width for line in lines)
    text = "\n".join(lines)
    assert "/resume [ID]" in text and "/quit" in text and "(also /exit, /q)" in text
    assert "prune" in text and "'/help sessions'" in text
    retry = next(line for line in lines if line.startswith("  /retry"))
    assert retry.endswith("no reply" if width >= 80 else "…")


def test_brief_keeps_the_main_clause() -> None:
    assert brief("Start a fresh session (saved on its first message)") == "Start a fresh session"
    assert brief("Show commands; '/help sessions' for details") == "Show commands"
    assert brief("Clear the screen") == "Clear the screen"


def test_help_detail_shows_arguments_options_and_details() -> None:
    output = render_plain(make_registry().help(["sessions", "list"]))
    assert "Usage: /sessions list [--archived] [--limit N]" in output
    assert "Options:" in output
    assert "-n, --limit N" in output
    assert "Show at most N" in output
    assert "Sessions are listed newest first." in output
    assert "/sessions list --limit 5" in output
    assert "Aliases: ls" in output
    show = render_plain(make_registry().help(["sessions", "show"]))
    assert "Arguments:" in show
    assert "A session" in show


def test_help_text_is_not_markup() -> None:
    entry = CommandHelp("x", "/x [bold]", "[red]summary[/red]", (), (), ())
    output = assert_inert(render_terminal(HelpResult("Help", "[i]intro[/i]", (entry,))))
    assert "/x [bold]" in output
    assert "[red]summary[/red]" in output
    assert "[i]intro[/i]" in output


# ------------------------------------------------------------------------------------ errors


def render_error_plain(exc: BaseException, log_path: str | None = None) -> str:
    console, buf = plain_console()
    render_error(exc, console, log_path=log_path)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("exc", "title"),
    [
        (SessionNotFound("abcd"), "Session not found"),
        (AmbiguousId("ab12", ["ab12aaaa-1", "ab12bbbb-2"]), "Ambiguous session"),
        (StorageError("no space left on the device"), "Storage error"),
        (UsageError("missing ID", "/sessions show ID"), "Usage error"),
        (UnknownCommand("sesions", ["sessions list"], "/"), "Unknown command"),
    ],
)
def test_error_panels_show_the_user_message(exc: SessionError | UsageError, title: str) -> None:
    console, buf = terminal_console()
    render_error(exc, console)
    output = SGR.sub("", buf.getvalue())
    assert title in output
    for line in exc.user_message().splitlines():
        assert squash(line) in squash(output)
    assert "╭" in output
    # Plain (a pipe): one "error:" line, then the hints, unboxed and unwrapped.
    plain = render_error_plain(exc)
    assert plain == "error: " + exc.user_message() + "\n"


def test_error_panel_for_any_chatcli_error_uses_its_title_and_message() -> None:
    class Custom(ChatcliError):
        kind = "quota_exceeded"
        title = "Quota exceeded"

        def user_message(self) -> str:
            return "You ran out of [bold]quota[/bold]."

    console, buf = terminal_console()
    render_error(Custom("quota"), console)
    assert "Quota exceeded" in SGR.sub("", buf.getvalue())
    output = render_error_plain(Custom("quota"))
    assert "You ran out of [bold]quota[/bold]." in output


def test_an_exception_that_merely_looks_like_a_chatcli_error_is_unexpected() -> None:
    class Lookalike(Exception):
        kind = "quota_exceeded"

        def user_message(self) -> str:
            return "You ran out of quota."

    output = render_error_plain(Lookalike())
    assert "Unexpected error: Lookalike" in output
    assert "Quota exceeded" not in output


def test_unexpected_errors_point_at_the_log() -> None:
    output = render_error_plain(ValueError("boom"), log_path="/var/log/chatcli.log")
    assert "Unexpected error: ValueError: boom" in output
    assert "Details were written to /var/log/chatcli.log." in output
    assert "Details" not in render_error_plain(KeyError("k"))


def test_error_panel_is_red_on_a_terminal() -> None:
    console, buf = terminal_console()
    render_error(SessionNotFound("abcd"), console)
    assert "\x1b[31m" in buf.getvalue() or "\x1b[1;31m" in buf.getvalue()


def test_hostile_error_details_render_literally() -> None:
    console, buf = terminal_console()
    render_error(SessionNotFound(HOSTILE), console)
    render_error(RuntimeError(HOSTILE), console, log_path=HOSTILE)
    output = assert_inert(buf.getvalue())
    assert "[bold red]x[/]" in output
    assert "␛[2J" in output


# ------------------------------------------------------------------------------------ replies


def test_reply_markdown_is_formatted() -> None:
    console, buf = plain_console()
    console.print(render_reply_markdown("# Title\n\n* one\n* two\n\n```python\nprint('hi')\n```"))
    output = buf.getvalue()
    assert "Title" in output
    assert "one" in output
    assert "print('hi')" in output


def test_reply_markdown_is_sanitised() -> None:
    console, buf = terminal_console()
    console.print(render_reply_markdown(f"Hello **there** {HOSTILE}\n\n`{HOSTILE}`"))
    output = assert_inert(buf.getvalue(), bidi_allowed=True)
    assert "␛[2J" in output
    assert "␛]52;c;aGk=␇" in output
    assert "[bold red]x[/]" in output


def test_reply_markdown_links() -> None:
    console, buf = terminal_console()
    console.print(render_reply_markdown("see [docs](https://example.com/a)", hyperlinks=False))
    assert "https://example.com/a" in SGR.sub("", buf.getvalue())
    assert "\x1b]8" not in buf.getvalue()
    console, buf = terminal_console()
    console.print(render_reply_markdown("see [docs](https://example.com/a\x1b]52;c;x\x07)", hyperlinks=True))
    # Rich writes the OSC 8 link itself; the URL inside is percent-encoded printable ASCII.
    urls = re.findall(r"\x1b\]8;id=\d+;([^\x1b]*)\x1b\\", buf.getvalue())
    assert urls
    assert all(re.fullmatch(r"[\x21-\x7e]+", url) for url in urls), urls
    assert "docs" in SGR.sub("", buf.getvalue())


def test_unsafe_link_schemes_stay_text() -> None:
    console, buf = terminal_console()
    console.print(render_reply_markdown("see [docs](javascript:alert(1))"))
    assert "\x1b]8" not in buf.getvalue()
    assert "[docs](javascript:alert(1))" in buf.getvalue()


def _named(reference: str) -> object:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def test_every_result_with_a_json_form_has_a_renderer() -> None:
    from chatcli.render import jsonout
    from chatcli.render.terminal import RENDERERS

    def listed(cls: type) -> bool:
        return any(f"{c.__module__}:{c.__qualname__}" in RENDERERS for c in cls.__mro__)

    assert [cls.__name__ for cls in jsonout._CONVERTERS if not listed(cls)] == []


def test_every_renderer_reference_names_a_result_class_and_a_renderer() -> None:
    """The lazy table is checked here, since nothing imports its entries until they are used."""
    from chatcli.render.terminal import RENDERERS

    for result, renderer in RENDERERS.items():
        cls = _named(result)
        assert isinstance(cls, type) and f"{cls.__module__}:{cls.__qualname__}" == result
        function = _named(renderer)
        assert callable(function)
        parameters = list(inspect.signature(function).parameters.values())
        assert parameters[1].name == "console", renderer
        assert all(p.default is not inspect.Parameter.empty for p in parameters[2:]), renderer
        assert parameters[0].annotation.split(" | ")[0] == cls.__name__, renderer


@pytest.mark.parametrize("width", [40, 60, 79])
def test_narrow_screens_keep_ids_and_drop_minor_columns(width: int) -> None:
    meta = make_meta("How do I fix the login bug when the token expires", name="a-rather-long-session-name")
    listing = render_plain(ListResult([meta], [], "active"), width=width)
    assert all(len(line) <= width for line in listing.splitlines())
    assert meta.id[:8] in listing
    assert "Status" not in listing
    snippet = "…when the token expires and the user is logged out of the application entirely…"
    hit = SearchHit(meta.id, meta.name, "assistant", utc_now(), snippet, 0)
    shown = render_plain(SearchResult("token", [found(hit)], 1, 1, 1), width=width)
    assert all(len(line) <= width for line in shown.splitlines())
    assert meta.id[:8] in shown
    # every character of the snippet is there, in order (a narrow column folds long words)
    assert "".join(snippet.split()) in "".join(shown.split("match", 2)[2].split())
