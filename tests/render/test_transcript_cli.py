"""The one transcript look through the real binary: ``sessions show`` and ``sessions export``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from chatcli.session.models import Message
from chatcli.session.store import FileRepository
from tests.helpers import chatcli, seed

WHEN = datetime(2026, 12, 2, 9, 16, 20, 873115, tzinfo=UTC)
TYPED = "line one\nline *two*\n```\nmy own fence\n```"


def _seed(sessions_dir: Path) -> None:
    messages = [
        Message(role="user", content=TYPED, timestamp=WHEN),
        Message(role="assistant", content="Use `grep`:\n\n```sh\ngrep -r x\n", timestamp=WHEN),  # unclosed
    ]
    seed(FileRepository(sessions_dir), messages=messages, name="fix-login")


def test_export_has_readable_times_and_keeps_messages_verbatim(tmp_path: Path, sessions_dir: Path) -> None:
    _seed(sessions_dir)
    run = chatcli(["sessions", "export", "fix-login", "--sessions-dir", str(sessions_dir)], cwd=tmp_path)
    assert run.code == 0, run
    assert "2026-12-02T09:16:20.873115+00:00" not in run.out
    assert "- created: 2026-12-02 09:16 UTC" in run.out
    assert "**You** · 2026-12-02 09:16 UTC\n\n````text\n" + TYPED + "\n````\n" in run.out
    # a reply whose code fence never closes would swallow the rest: it is fenced whole instead
    assert run.out.endswith(
        "**Assistant** · 2026-12-02 09:16 UTC\n\n````text\nUse `grep`:\n\n```sh\ngrep -r x\n````\n"
    )


def test_show_uses_the_same_labels(tmp_path: Path, sessions_dir: Path) -> None:
    _seed(sessions_dir)
    run = chatcli(["sessions", "show", "fix-login", "--sessions-dir", str(sessions_dir)], cwd=tmp_path)
    assert run.code == 0, run
    assert "\nYou · " in run.out and "\nAssistant · " in run.out
    assert TYPED in run.out
