"""In a terminal: the session browser (pins, tags, content search, every project) and an import's
progress bar.

End to end: the real ``chatcli`` binary in a pseudo-terminal, driven with pexpect
(:mod:`tests.helpers.pty`). Every wait is bounded; on a timeout the assertion message carries the
screen so far with the ANSI sequences stripped, so a failure shows what the user would have seen."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pexpect
import pytest

from chatcli.session.store import FileRepository
from tests.helpers import ago, chatcli, seed, write_corpus
from tests.helpers.pty import (
    CHATCLI,
    ESC,
    PROMPT,
    TIMEOUT,
    Spawn,
    expect,
    finish,
    in_terminal,
    screen,
    session_ids,
)

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- issue 14: pins and tags


def test_the_picker_lists_a_pinned_session_first_and_tags_complete(spawn: Spawn, sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    seed(repo, "alpha question", replies=["alpha answer"], when=ago(5), name="alpha-proj")
    beta = seed(repo, "beta question", replies=["beta answer"], when=ago(10), name="beta-proj")
    repo.update(beta.id, lambda m: (m.pin(), m.add_tags(["backend"])))

    child = spawn("--resume")
    expect(child, "Resume which session")
    child.send("\r")  # the first row: the pinned session, though alpha is newer
    expect(child, "Resumed session beta-proj")
    expect(child, PROMPT)
    child.send("/sessions untag . ba\t")
    expect(child, "backend")
    child.send("\r")
    expect(child, "Untagged")
    expect(child, PROMPT)
    finish(child)
    assert repo.get(beta.id).tags == [] and repo.get(beta.id).pinned


def test_search_shows_one_row_per_session_with_correct_counts(spawn: Spawn, sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    busy = seed(repo, "token one", replies=["token two", "token three", "token four"], when=ago(60))
    seed(repo, "nothing here", when=ago(30))
    child = spawn()
    expect(child, PROMPT)
    child.send("/sessions search token\r")
    expect(child, re.escape("4 matches for 'token' in 1 session; 2 searched"))
    expect(child, PROMPT)
    assert screen(child).count(busy.id[:8]) == 1, screen(child)
    child.send("/sessions search token --messages\r")
    expect(child, re.escape("4 matches for 'token'"))
    expect(child, PROMPT)  # the rows come between the heading and the next prompt
    rows = [
        line
        for line in screen(child).splitlines()
        if "token " in line and ("user" in line or "assistant" in line)
    ]
    assert len(rows) == 4, screen(child)
    child.send('/sessions search "token\r')
    expect(child, "No closing quotation")  # the REPL's command line is read first
    expect(child, PROMPT)
    finish(child)


# --------------------------------------------------------------------------- issue 15: the session browser


def test_the_browser_finds_by_content_previews_renames_pins_and_trashes(
    spawn: Spawn, sessions_dir: Path
) -> None:
    repo = FileRepository(sessions_dir)
    target = seed(repo, "a question about birds", replies=["the flamingo migrates south"], when=ago(30))
    seed(repo, "other work", replies=["nothing to see"], when=ago(5), name="notes")
    seed(repo, "more work", replies=["still nothing"], when=ago(10))
    child, term = in_terminal(spawn, "--resume", size=(30, 100))
    term.settle(lambda rows: any("Tab preview" in row for row in rows), "the keys line")
    child.send("flamingo")  # only inside a reply: found through the content index
    rows = term.settle(lambda rows: any("↳ the flamingo migrates" in row for row in rows), "the snippet")
    assert any("1 of 3 sessions" in row for row in rows)
    assert any(row.startswith("  a question about birds") for row in rows)
    child.send("\t")
    term.settle(lambda rows: any("assistant: the flamingo migrates south" in row for row in rows), "preview")
    child.send("\x12")  # Ctrl-R
    term.settle(lambda rows: any("new name ›" in row for row in rows), "the name prompt")
    child.send("birds\r")
    term.settle(lambda rows: any("Renamed to birds." in row for row in rows), "the rename")
    assert repo.get(target.id).name == "birds"
    child.send("\x10")  # Ctrl-P
    term.settle(lambda rows: any(row.startswith("* birds") for row in rows), "the pin mark")
    assert repo.get(target.id).pinned
    child.send("\x04")  # Ctrl-D
    term.settle(
        lambda rows: any("Move pinned session birds to the trash? y/N" in row for row in rows), "the question"
    )
    child.send("y")
    term.settle(lambda rows: any("Moved birds to the trash" in row for row in rows), "the delete")
    assert target.id not in session_ids(sessions_dir)
    assert [t.metadata.id for t in repo.trashed()] == [target.id]
    child.send(ESC)
    expect(child, "No session chosen.")
    expect(child, pexpect.EOF)


def _other_project(tmp_path: Path) -> tuple[Path, str]:
    """A session in another project, remembered in the registry as chatcli would have."""
    from chatcli.session.projects import ProjectRegistry, data_dir

    other = tmp_path / "elsewhere" / ".amazonq" / "sessions"
    meta = seed(FileRepository(other), "the lighthouse plan", replies=["noted"])
    assert ProjectRegistry(data_dir()).remember(other) is None
    return other, meta.id


def test_the_browser_lists_every_project_and_resumes_one_in_its_store(
    spawn: Spawn, sessions_dir: Path, tmp_path: Path
) -> None:
    """Ctrl-O in ``chatcli --resume`` lists another project's sessions (the registry is in the
    data folder under tmp_path); the one chosen is continued in that project's store."""
    mine = seed(FileRepository(sessions_dir), "the garden plan", replies=["ok"], when=ago(5))
    other, sid = _other_project(tmp_path)
    child, term = in_terminal(spawn, "--resume", size=(30, 120))
    term.settle(lambda rows: any("^O all projects" in row for row in rows), "the key in the status line")
    assert not any("lighthouse" in row for row in term.rows())
    child.send("\x0f")  # Ctrl-O
    rows = term.settle(lambda rows: any("2 of 2 sessions in every project" in row for row in rows), "all")
    assert any("the lighthouse plan" in row and "elsewhere" in row for row in rows)
    child.send("lighthouse")
    term.settle(lambda rows: any("1 of 2 sessions in every project" in row for row in rows), "the filter")
    child.send("\r")
    expect(child, "is in project")
    expect(child, f"Resumed session {sid[:8]}")
    expect(child, PROMPT)
    child.send("and the keeper?\r")
    expect(child, "Offline reply #2")
    expect(child, PROMPT)
    assert f"--sessions-dir {other} --resume" in finish(child)
    lines = (other / sid / "conversation.jsonl").read_text().splitlines()
    assert [json.loads(line)["content"] for line in lines][2] == "and the keeper?"
    assert FileRepository(sessions_dir).get(mine.id).message_count == 2  # project A untouched


def test_resume_with_no_session_here_opens_on_every_projects_sessions(
    spawn: Spawn, sessions_dir: Path, tmp_path: Path
) -> None:
    other, sid = _other_project(tmp_path)
    child, term = in_terminal(spawn, "--resume", size=(30, 120))
    term.settle(lambda rows: any("1 of 1 sessions in every project" in row for row in rows), "every project")
    child.send("\r")
    expect(child, f"Resumed session {sid[:8]}")
    expect(child, PROMPT)
    assert f"--sessions-dir {other} --resume" in finish(child)
    assert session_ids(sessions_dir) == []


def test_resume_of_another_projects_session_continues_in_its_store(
    spawn: Spawn, sessions_dir: Path, tmp_path: Path
) -> None:
    other, sid = _other_project(tmp_path)
    child = spawn("--resume", sid[:8])
    expect(child, "is in project")
    expect(child, f"Resumed session {sid[:8]}")
    expect(child, PROMPT)
    child.send("and the keeper?\r")
    expect(child, "Offline reply #2")
    expect(child, PROMPT)
    assert f"--sessions-dir {other} --resume" in finish(child)
    lines = (other / sid / "conversation.jsonl").read_text().splitlines()
    assert [json.loads(line)["content"] for line in lines][2] == "and the keeper?"
    assert session_ids(sessions_dir) == []


def test_slash_resume_reaches_another_project(spawn: Spawn, sessions_dir: Path, tmp_path: Path) -> None:
    other, sid = _other_project(tmp_path)
    child = spawn()
    expect(child, PROMPT)
    child.send(f"/resume {sid[:8]}\r")
    expect(child, "is in project")
    expect(child, f"Resumed session {sid[:8]}")
    expect(child, PROMPT)
    child.send("lamp oil\r")
    expect(child, "Offline reply #2")
    expect(child, PROMPT)
    child.send("/sessions list --all-projects\r")
    expect(child, "Sessions of 1 project")
    expect(child, PROMPT)
    finish(child)
    contents = [
        json.loads(line)["content"] for line in (other / sid / "conversation.jsonl").read_text().splitlines()
    ]
    assert "lamp oil" in contents
    assert session_ids(sessions_dir) == []


def test_import_shows_a_progress_bar_on_a_terminal_only(tmp_path: Path, sessions_dir: Path) -> None:
    """On a terminal ``sessions import`` draws a bar while it works; piped, it prints none."""
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 300, 1)
    child = pexpect.spawn(
        CHATCLI[0],
        [*CHATCLI[1:], "sessions", "--sessions-dir", str(sessions_dir), "import", str(corpus)],
        cwd=str(tmp_path),
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    expect(child, "Importing corpus.jsonl")
    expect(child, pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, screen(child)
    assert len(session_ids(sessions_dir)) == 300
    piped = chatcli(
        ["sessions", "--sessions-dir", str(tmp_path / "piped"), "import", str(corpus)], cwd=tmp_path
    )
    assert piped.code == 0 and "Importing" not in piped.out + piped.err, piped
