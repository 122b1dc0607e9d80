"""How the trash's results look: the listing (id, name, when, why, first message), a restore that
left its name off, an emptying; untrusted text is shown literally, never as escapes or markup."""

from __future__ import annotations

import io
from datetime import timedelta

from rich.console import Console

from chatcli.render.terminal import render
from chatcli.session.fields import utc_now
from chatcli.session.outcomes import EmptyTrashResult, RestoreResult, TrashResult
from chatcli.session.trashed import TrashedSession, TrashRecord, trash_entry_name
from tests.helpers import RAW_CONTROLS, make_meta


def _plain(result: object) -> str:
    out = io.StringIO()
    render(result, Console(file=out, width=160, color_system=None, force_terminal=False))
    return out.getvalue()


def _entry(name: str | None, reason: str, first: str = "hello") -> TrashedSession:
    meta = make_meta(name=name, first_message=first)
    when = utc_now() - timedelta(hours=3)
    return TrashedSession(trash_entry_name(meta.id, when), meta, TrashRecord(meta.id, when, reason, name))


def test_the_trash_listing_shows_id_name_when_why_and_first_message() -> None:
    entry = _entry("fix-login", "deleted", "the login fails")
    out = _plain(TrashResult([entry], []))
    assert "1 session in the trash" in out
    for part in (entry.session_id[:8], "fix-login", "3h ago", "deleted", "the login fails"):
        assert part in out
    assert "sessions restore ID" in out
    assert "The trash is empty." in _plain(TrashResult([], []))


def test_untrusted_text_in_the_trash_is_shown_literally() -> None:
    entry = _entry(None, "pruned \x1b[31m[red]x[/red]", "\x1b]0;pwned\x07 [bold]hi[/bold]")
    out = _plain(TrashResult([entry], []))
    assert not any(raw in out for raw in RAW_CONTROLS)
    assert "[red]x[/red]" in out and "[bold]hi[/bold]" in out


def test_a_restore_that_left_the_name_off_says_so() -> None:
    meta = make_meta(name=None)
    out = _plain(RestoreResult(meta, "deploy", "abcdef12-0000-4000-8000-000000000000"))
    assert f"Restored session {meta.id[:8]}" in out
    assert "'deploy' is used by session abcdef12" in out and "came back unnamed" in out
    assert "unnamed" not in _plain(RestoreResult(meta))


def test_an_emptying_by_retention_names_the_setting() -> None:
    entry = _entry("old", "deleted")
    assert "Would erase 1 session from the trash (dry run)" in _plain(EmptyTrashResult([entry], True))
    by_retention = _plain(EmptyTrashResult([entry], False, retention="30d"))
    assert "deleted more than 30d ago (trash_retention)" in by_retention
    failed = _plain(EmptyTrashResult([], False, [(entry.session_id, "permission denied")], 2))
    assert "Kept" in failed and "2 sessions left in the trash" in failed
