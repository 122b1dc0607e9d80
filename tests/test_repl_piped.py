"""The chat with its input from a pipe, through the real program (``python -m chatcli``): a
command that opens the browser when the input has already ended must not end in an error."""

from __future__ import annotations

from pathlib import Path

from chatcli.session.store import FileRepository
from tests.helpers import chatcli, seed


def test_resume_browser_at_the_end_of_piped_input_chooses_nothing(tmp_path: Path, sessions_dir: Path) -> None:
    """``/resume`` alone as the last line of piped input: the browser meets the end of the input
    at once. An older version reported "Unexpected error: EOFError"; nothing chosen is what
    happened, and the chat ends as it does at the end of its input."""
    meta = seed(FileRepository(sessions_dir), "kept as it was", replies=["ok"], name="kept")
    work = tmp_path / "work"
    work.mkdir()
    run = chatcli(["--sessions-dir", str(sessions_dir)], cwd=work, stdin=b"/resume\n")
    assert run.code == 0, run
    assert "No session chosen: you are still in the new session." in run.out, run
    shown = chatcli(["sessions", "--sessions-dir", str(sessions_dir), "show", meta.id], cwd=work)
    assert "kept as it was" in shown.out
