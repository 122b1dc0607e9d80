"""``chatcli sessions …`` in scripts and pipes, through the real entry point in a subprocess.

Piped output is plain (aligned columns, ``--tsv``), errors are one ``error: …`` line plus hints,
a reader that goes away early is a normal end, ``import`` reports failures in its exit status,
"not found" says where it looked, and the wording reads naturally.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatcli.errors import ExitCode
from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from tests.helpers import SESSION_SUBCOMMANDS, seed

#: Environment variables that change how output looks; removed so each test sets what it checks.
_STYLE_VARS = ("FORCE_COLOR", "NO_COLOR", "COLUMNS", "LINES", "TERM", "COLORTERM", "CLICOLOR_FORCE")
#: Box-drawing characters: ASCII grids and rich's boxes.
_BOX = ("+-", "-+", "|", "─", "│", "╭", "╰", "┃", "━")


@dataclass(frozen=True)
class Run:
    """One finished ``chatcli`` process."""

    code: int
    out: str
    err: str


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STYLE_VARS}
    env.update(extra or {})
    return env


def chatcli(*args: str, cwd: Path, stdin: bytes | None = None, env: Mapping[str, str] | None = None) -> Run:
    """Run ``python -m chatcli ARGS`` with piped stdout and stderr (no terminal)."""
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=_env(env),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    run = Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))
    assert "Traceback" not in run.out + run.err, run
    return run


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder for the child process (not the sessions folder)."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def two(repo: FileRepository) -> tuple[SessionMetadata, SessionMetadata]:
    """A named session with three messages (two of them mention 'token') and an unnamed one."""
    named = seed(repo, "fix the login token bug", name="fix-login", replies=["the token expired", "ok"])
    unnamed = seed(repo, "another question about token stuff that is long " * 3)
    return named, unnamed


# --------------------------------------------------------------------------- 14: a closed pipe


@pytest.mark.parametrize(
    "words",
    [
        ["list"],
        ["list", "--json"],
        ["search", "token"],
        ["show", "fix-login"],
        ["export", "fix-login"],
        ["export", "fix-login", "--format", "json"],
        ["--help"],
    ],
    ids="-".join,
)
def test_a_closed_pipe_is_a_quiet_normal_end(
    words: list[str], two: tuple[SessionMetadata, SessionMetadata], sessions_dir: Path, work: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatcli", "sessions", "--sessions-dir", str(sessions_dir), *words],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=work,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first byte: `| true`
    with proc.stderr:
        err = proc.stderr.read().decode("utf-8")
    code = proc.wait(timeout=60)
    assert "Traceback" not in err and "Broken pipe" not in err and "Unexpected" not in err, err
    assert err == ""
    assert code == ExitCode.OK


def test_a_reader_that_stops_early_ends_a_long_export_quietly(
    repo: FileRepository, sessions_dir: Path, work: Path
) -> None:
    seed(repo, "long " * 40_000, name="long")  # well over a pipe's buffer
    line = f"{sys.executable} -m chatcli sessions --sessions-dir '{sessions_dir}' export long | head -c 10"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        capture_output=True,
        env=_env(),
        cwd=work,
        timeout=60,
        check=False,
    )
    assert proc.stdout == b"# Session " or len(proc.stdout) == 10
    assert proc.stderr == b"", proc.stderr
    assert proc.returncode == 0


# --------------------------------------------------------------------------- 13: plain output in pipes


def _no_box(text: str) -> None:
    assert not any(mark in text for mark in _BOX), text


def test_piped_tables_are_plain_aligned_columns(
    two: tuple[SessionMetadata, SessionMetadata], sessions_dir: Path, work: Path
) -> None:
    named, _unnamed = two
    for words in (["list"], ["search", "token"], ["prune", "--older-than", "1d", "--dry-run"]):
        run = chatcli("sessions", "--sessions-dir", str(sessions_dir), *words, cwd=work)
        assert run.code == 0, run
        _no_box(run.out)
        assert not any(line.endswith(" ") for line in run.out.splitlines()), run.out
        header = next(line for line in run.out.splitlines() if line.startswith(("ID ", "Session ")))
        row = next(line for line in run.out.splitlines() if line.startswith(named.id[:8]))
        # The columns line up under their headings.
        second = header.split()[1]
        assert (
            row[header.index(second) :]
            .lstrip()
            .startswith(("fix-login", "assistant", "user", "active", "1", "2", "3"))
        ), (
            header,
            row,
        )


def test_tsv_gives_tab_separated_values(
    two: tuple[SessionMetadata, SessionMetadata], sessions_dir: Path, work: Path
) -> None:
    named, unnamed = two
    where = ("sessions", "--sessions-dir", str(sessions_dir))
    listing = chatcli(*where, "list", "--tsv", cwd=work)
    assert listing.code == 0 and listing.err == "", listing
    rows = [line.split("\t") for line in listing.out.splitlines()]
    assert [row[0] for row in rows] == [named.id, unnamed.id] or [row[0] for row in rows] == [
        unnamed.id,
        named.id,
    ]
    by_id = {row[0]: row for row in rows}
    assert by_id[named.id][1:4] == ["fix-login", "active", "3"]
    assert by_id[unnamed.id][1] == ""
    assert all(len(row) == 8 for row in rows)  # ... first_message, pinned, tags
    assert by_id[named.id][5] == "fix the login token bug"
    found = chatcli(*where, "search", "token", "--tsv", cwd=work)
    assert found.code == 0, found
    hits = [line.split("\t") for line in found.out.splitlines()]
    assert {row[0] for row in hits} == {named.id, unnamed.id}
    assert all("token" in row[-1] for row in hits)
    pruned = chatcli(*where, "prune", "--older-than", "1d", "--dry-run", "--tsv", cwd=work)
    assert pruned.code == 0, pruned
    assert sorted(line.split("\t")[0] for line in pruned.out.splitlines()) == sorted([named.id, unnamed.id])
    refused = chatcli(*where, "show", "fix-login", "--tsv", cwd=work)
    assert refused.code == ExitCode.USAGE and refused.out == "", refused
    assert "--tsv" in refused.err
    assert json.loads(chatcli(*where, "list", "--json", cwd=work).out)["sessions"]


def test_piped_errors_are_one_plain_line_plus_hints(
    two: tuple[SessionMetadata, SessionMetadata], sessions_dir: Path, work: Path
) -> None:
    named, _ = two
    where = ("sessions", "--sessions-dir", str(sessions_dir))
    for words, code in (
        (["show", "nope"], ExitCode.USER),
        (["bogus"], ExitCode.USAGE),
        (["delete", "fix-login"], ExitCode.USER),
    ):
        run = chatcli(*where, *words, cwd=work, env={"COLUMNS": "40"})
        assert run.code == code and run.out == "", run
        _no_box(run.err)
        lines = run.err.splitlines()
        assert lines[0].startswith("error: "), run.err
        assert not any(line.startswith("error: ") for line in lines[1:]), run.err
    # A suggested command is never wrapped in two, however narrow the window.
    assert f"chatcli sessions delete {named.id} --yes" in run.err


# --------------------------------------------------------------------------- 15: import


def _export(repo: FileRepository, meta: SessionMetadata, folder: Path) -> Path:
    from chatcli.session.service import SessionService

    path = folder / f"{meta.id}.json"
    path.write_text(SessionService(repo).export(meta.id), encoding="utf-8")
    return path


def test_import_exits_1_when_a_record_failed_or_the_file_is_not_an_export(
    two: tuple[SessionMetadata, SessionMetadata], repo: FileRepository, sessions_dir: Path, work: Path
) -> None:
    where = ("sessions", "--sessions-dir", str(sessions_dir))
    (work / "notes.txt").write_text("just some notes\n", encoding="utf-8")
    (work / "object.json").write_text('{"hello": "world"}\n', encoding="utf-8")
    for name in ("notes.txt", "object.json"):
        run = chatcli(*where, "import", name, cwd=work)
        assert run.code == ExitCode.USER, run
        assert "Nothing was imported" in run.out
    good = json.loads(_export(repo, two[0], work).read_text(encoding="utf-8"))
    good["session"]["id"] = "0" * 8 + good["session"]["id"][8:]
    good["session"]["name"] = None
    (work / "mixed.json").write_text(json.dumps([good, {"messages": "nope"}]), encoding="utf-8")
    mixed = chatcli(*where, "import", "mixed.json", cwd=work)
    assert mixed.code == ExitCode.USER, mixed
    assert "Imported 1 session" in mixed.out
    assert len(repo.list()) == 3


def test_reimport_prints_one_line_for_duplicates_and_verbose_lists_them(
    two: tuple[SessionMetadata, SessionMetadata], repo: FileRepository, sessions_dir: Path, work: Path
) -> None:
    where = ("sessions", "--sessions-dir", str(sessions_dir))
    records = [json.loads(_export(repo, meta, work).read_text(encoding="utf-8")) for meta in two]
    (work / "both.json").write_text(json.dumps(records), encoding="utf-8")
    again = chatcli(*where, "import", "both.json", cwd=work)
    assert again.code == 0, again  # duplicates are skipped, not failures
    assert "Skipped 2 sessions that already exist" in again.out
    assert "--verbose" in again.out
    assert two[0].id not in again.out and two[1].id not in again.out
    assert len(again.out.splitlines()) <= 3, again.out
    verbose = chatcli(*where, "import", "both.json", "--verbose", cwd=work)
    assert verbose.code == 0, verbose
    assert two[0].id in verbose.out and two[1].id in verbose.out
    assert json.loads(chatcli(*where, "import", "both.json", "--json", cwd=work).out)["skipped"] == [
        {"source": meta.id, "reason": "a session with this id already exists; left untouched"} for meta in two
    ]


def test_import_dash_reads_standard_input_and_new_ids_imports_copies(
    two: tuple[SessionMetadata, SessionMetadata], repo: FileRepository, sessions_dir: Path, work: Path
) -> None:
    where = ("sessions", "--sessions-dir", str(sessions_dir))
    named = two[0]
    document = _export(repo, named, work).read_bytes()
    piped = chatcli(*where, "import", "-", "--new-ids", cwd=work, stdin=document)
    assert piped.code == 0, piped
    assert "Imported 1 session" in piped.out
    copies = [m for m in repo.list() if m.id not in {two[0].id, two[1].id}]
    assert len(copies) == 1
    copy = copies[0]
    assert copy.first_message == named.first_message and copy.message_count == named.message_count
    assert copy.name is None  # the name stays with the original
    assert repo.get(named.id).name == "fix-login"
    plain = chatcli(*where, "import", "-", cwd=work, stdin=document)
    assert plain.code == 0 and "Skipped 1 session that already exists" in plain.out, plain
    empty = chatcli(*where, "import", "-", cwd=work, stdin=b"")
    assert empty.code == ExitCode.USER and "Nothing was imported" in empty.out, empty


# --------------------------------------------------------------------------- 16: not found says where


def test_not_found_names_the_folder_searched_and_shell_commands(
    two: tuple[SessionMetadata, SessionMetadata], sessions_dir: Path, work: Path
) -> None:
    run = chatcli("sessions", "--sessions-dir", str(sessions_dir), "show", "nope", cwd=work)
    assert run.code == ExitCode.USER, run
    assert str(sessions_dir) in run.err
    assert "--sessions-dir" in run.err
    assert "'chatcli sessions list --all'" in run.err
    assert "'/sessions" not in run.err
    # `chatcli --resume NAME` in another folder: the folder it found (none here), and the way out.
    resume = chatcli("--resume", "fix-login", cwd=work)
    assert resume.code == ExitCode.USER, resume
    assert str(work) in resume.err and "--sessions-dir" in resume.err
    assert "'chatcli sessions list --all'" in resume.err and "'/sessions" not in resume.err


def test_not_found_in_the_repl_suggests_slash_commands(
    two: tuple[SessionMetadata, SessionMetadata], sessions_dir: Path, work: Path
) -> None:
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "chatcli", "--backend", "offline", "--sessions-dir", str(sessions_dir)],
        env={**_env(), "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1", "COLUMNS": "200"},
        cwd=str(work),
        dimensions=(40, 200),
        encoding="utf-8",
        timeout=20,
    )
    try:
        child.expect("you ›")
        child.send("/sessions show nope\r")
        child.expect(r"--sessions-dir PATH\.|available sessions\.")
        seen = " ".join(re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|[│╭╮╰╯─]", " ", child.before + child.after).split())
        # Ctrl-D only once the prompt is back: sent while the terminal is between prompts (cooked
        # mode), the line discipline would take it as an end of file instead of passing it on.
        child.expect("you ›")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert "Session 'nope' not found in" in seen and str(sessions_dir.name) in seen, seen
    assert "'/sessions list --all'" in seen and "--sessions-dir" in seen, seen
    assert "'chatcli sessions list" not in seen, seen


# --------------------------------------------------------------------------- 20: wording


def _spawn(*args: str, cwd: Path) -> Any:
    """``chatcli ARGS`` in a pseudo-terminal (80x24)."""
    import pexpect

    return pexpect.spawn(
        sys.executable,
        ["-m", "chatcli", *args],
        env={**_env(), "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"},
        cwd=str(cwd),
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=20,
    )


def test_nothing_changed_says_so(
    two: tuple[SessionMetadata, SessionMetadata], repo: FileRepository, sessions_dir: Path, work: Path
) -> None:
    named, unnamed = two
    where = ("sessions", "--sessions-dir", str(sessions_dir))
    assert chatcli(*where, "archive", "fix-login", cwd=work).out.startswith("Archived")
    again = chatcli(*where, "archive", "fix-login", cwd=work)
    assert again.code == 0 and "is already archived" in again.out and "Archived" not in again.out, again
    active = chatcli(*where, "unarchive", unnamed.id[:8], cwd=work)
    assert active.code == 0 and "is already active" in active.out and "Unarchived" not in active.out
    clear = chatcli(*where, "name", unnamed.id[:8], "--clear", cwd=work)
    assert clear.code == 0 and "has no name" in clear.out and "Removed" not in clear.out, clear
    deleted = chatcli(*where, "delete", "fix-login", "--yes", cwd=work)
    assert deleted.out == (
        f"Moved session fix-login ({named.id[:8]}, 3 messages) to the trash.\n"
        f"Undo with: chatcli sessions restore {named.id[:8]}\n"
    ), deleted
    unknown = chatcli(*where, "bogus", cwd=work)
    assert unknown.err.splitlines() == [
        "error: 'bogus' is not a chatcli sessions command",
        "'chatcli sessions --help' lists every command.",
    ], unknown


def test_help_lines_never_end_in_spaces(work: Path) -> None:
    pages = [chatcli("--help", cwd=work).out, chatcli("sessions", "--help", cwd=work).out]
    pages += [chatcli("sessions", sub, "--help", cwd=work).out for sub in SESSION_SUBCOMMANDS]
    for page in pages:
        assert page and not [line for line in page.splitlines() if line.endswith(" ")], page


def test_the_delete_question_reads_naturally_and_ctrl_c_ends_its_line(
    two: tuple[SessionMetadata, SessionMetadata], repo: FileRepository, sessions_dir: Path, work: Path
) -> None:
    import pexpect

    named, _ = two
    child = _spawn("sessions", "--sessions-dir", str(sessions_dir), "delete", "fix-login", cwd=work)
    try:
        child.expect(re.escape(f"Move session fix-login ({named.id[:8]}, 3 messages) to the trash? [y/N]"))
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert "^CInterrupted" not in child.before and "\nInterrupted." in child.before, child.before
    assert child.exitstatus == ExitCode.INTERRUPTED
    assert repo.get(named.id).id == named.id  # nothing was deleted


@pytest.mark.parametrize("answer", [("y", True), ("yes", True), ("n", False), ("", False)], ids=repr)
def test_the_delete_question_takes_the_typed_answer(
    two: tuple[SessionMetadata, SessionMetadata],
    repo: FileRepository,
    sessions_dir: Path,
    work: Path,
    answer: tuple[str, bool],
) -> None:
    """The command line's own question reader (select + one read, so a quick Ctrl-C is never
    left pending): what is typed decides."""
    import pexpect

    typed, moved = answer
    named, _ = two
    child = _spawn("sessions", "--sessions-dir", str(sessions_dir), "delete", "fix-login", cwd=work)
    try:
        child.expect(re.escape("to the trash? [y/N]"))
        child.send(typed + "\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    assert repo.exists(named.id) is not moved
    said = re.sub(r"\x1b\[[0-9;]*m", "", child.before)  # colours on a terminal
    assert ("Moved session fix-login" in said) is moved, said


def test_the_quit_hint_of_an_unnamed_session_uses_a_short_id(sessions_dir: Path, work: Path) -> None:
    import pexpect

    child = _spawn("--backend", "offline", "--sessions-dir", str(sessions_dir), cwd=work)
    try:
        child.expect("you ›")
        child.send("hello there\r")
        child.expect("Offline reply")
        child.expect("you ›")
        child.sendcontrol("d")
        child.expect(r"--resume ([0-9a-f-]+)")
        ref = child.match.group(1)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    [folder] = [p for p in sessions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(ref) == 8 and folder.name.startswith(ref), (ref, folder.name)


def test_tsv_fields_stay_one_line_and_inert(repo: FileRepository, sessions_dir: Path, work: Path) -> None:
    hostile = "col\tumn\nnext line \x1b[2J clear \x1b]52;c;aGk=\x07 [bold]x[/]"
    meta = seed(repo, hostile, replies=[hostile])
    where = ("sessions", "--sessions-dir", str(sessions_dir))
    # (columns, the one holding the text): list ends with pinned and tags, search with the snippet
    for words, columns, text in ((["list", "--tsv"], 8, 5), (["search", "clear", "--tsv"], 6, 5)):
        run = chatcli(*where, *words, cwd=work)
        assert run.code == 0 and "\x1b" not in run.out, run
        rows = [line.split("\t") for line in run.out.splitlines()]
        assert rows and all(len(row) == columns and row[0] == meta.id for row in rows), rows
        assert all("[bold]x[/]" in row[text] for row in rows)
