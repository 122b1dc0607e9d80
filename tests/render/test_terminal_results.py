"""Terminal rendering of command results (delete, import, prune, changes, export) and of help."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.commands.catalog import build_registry
from chatcli.commands.registry import Registry
from chatcli.commands.results import Cancelled, CommandHelp, ExportResult, HelpResult, SessionChanged
from chatcli.commands.spec import Arg, Command, Option
from chatcli.render.help import brief
from chatcli.render.tables import PRUNE_SHOWN
from chatcli.session.models import new_session_id, utc_now
from chatcli.session.outcomes import (
    DeleteResult,
    PruneResult,
)
from chatcli.session.transfer import ImportResult
from tests.helpers.rendering import assert_inert, listed_meta, render_plain, render_terminal

# ------------------------------------------------------------------------------------ writes


def test_delete() -> None:
    meta = listed_meta(name="old-stuff", messages=4)
    output = render_plain(DeleteResult(meta))
    assert f"Deleted session old-stuff ({meta.id[:8]}, 4 messages) for good." in output
    trashed = render_plain(DeleteResult(meta, "x", f"/sessions restore {meta.id[:8]}"))
    assert f"Moved session old-stuff ({meta.id[:8]}, 4 messages) to the trash." in trashed
    assert f"Undo with: /sessions restore {meta.id[:8]}" in trashed


def test_import_counts_skips_and_notes() -> None:
    imported = [listed_meta("imported one", name="imp")]
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
    old = [listed_meta("ancient", age=timedelta(days=60))]
    dry = render_plain(PruneResult(old, True, cutoff))
    assert "Would delete 1 session last active before" in dry
    assert "(dry run)" in dry
    assert "ancient" in dry
    done = render_plain(PruneResult(old, False, cutoff, [("abcdef12-3456", "it was used again; kept")]))
    assert "Deleted 1 session last active before" in done
    assert "Kept abcdef12: it was used again; kept" in done


def test_a_big_prune_shows_a_sample_and_counts_the_rest() -> None:
    cutoff = utc_now() - timedelta(days=30)
    many = [listed_meta(f"ancient {i}", age=timedelta(days=60 + i)) for i in range(PRUNE_SHOWN + 12)]
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
    meta = listed_meta(name="fix-login")
    assert expected.format(short=meta.id[:8]) in render_plain(SessionChanged(verb, meta))


def test_session_changed_unarchive_and_name_removal() -> None:
    meta = listed_meta()
    assert f"Unarchived {meta.id[:8]}" in render_plain(SessionChanged("unarchived", meta))
    assert f"Removed the name of {meta.id[:8]}" in render_plain(SessionChanged("renamed", meta))


def test_session_changed_fork() -> None:
    source = listed_meta()
    fork = listed_meta(name="branch")
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
