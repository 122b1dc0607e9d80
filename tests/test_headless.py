"""``chatcli -p`` with the offline backend (no server): the real binary, its output, the disk.

The turns against a real server (failures, ``--continue`` context, Ctrl-C) are in
``tests/chat/test_headless_llmock.py``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatcli.commands.spec import UsageError
from chatcli.errors import ExitCode
from chatcli.headless import PlainReplyOutput, message_text
from tests.helpers import Run, chatcli


def prompt(tmp_path: Path, *args: str, stdin: bytes | None = None) -> Run:
    """``chatcli --sessions-dir tmp_path/sessions ARGS`` (offline backend, the default)."""
    return chatcli(["--sessions-dir", str(tmp_path / "sessions"), *args], cwd=tmp_path, stdin=stdin)


def sessions(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every session's transcript lines, by id."""
    root = tmp_path / "sessions"
    if not root.exists():
        return {}
    return {
        folder.name: [json.loads(line) for line in (folder / "conversation.jsonl").read_text().splitlines()]
        for folder in root.iterdir()
        if not folder.name.startswith(".")
    }


def test_prompt_prints_the_reply_as_plain_text_and_saves_the_turn(tmp_path: Path) -> None:
    run = prompt(tmp_path, "-p", "say [bold]hi[/bold] and **bye**")
    assert run.code == ExitCode.OK, run
    [(sid, lines)] = sessions(tmp_path).items()
    assert [line["role"] for line in lines] == ["user", "assistant"]
    assert lines[0]["content"] == "say [bold]hi[/bold] and **bye**"
    assert run.out == lines[1]["content"] + "\n"  # the Markdown as written: nothing interpreted
    assert "**Offline reply #1**" in run.out and "> say [bold]hi[/bold] and **bye**" in run.out
    assert run.err == f"session {sid}\n"


def test_prompt_from_stdin_and_continue_in_the_same_session(tmp_path: Path) -> None:
    first = prompt(tmp_path, "-p", "-", stdin=b"from a pipe\n")
    second = prompt(tmp_path, "--continue", "-p", "again")
    assert (first.code, second.code) == (ExitCode.OK, ExitCode.OK), (first, second)
    [(sid, lines)] = sessions(tmp_path).items()
    assert [line["content"] for line in lines[::2]] == ["from a pipe", "again"]
    assert "Offline reply #2" in second.out  # the offline model counts the user turns it was sent
    assert first.err == second.err == f"session {sid}\n"


def test_json_prints_one_document_and_nothing_on_stderr(tmp_path: Path) -> None:
    run = prompt(tmp_path, "-p", "escape \x1b[2J here", "--json")
    assert run.code == ExitCode.OK, run
    doc = json.loads(run.out)
    [(sid, lines)] = sessions(tmp_path).items()
    assert doc == {"session_id": sid, "reply": lines[1]["content"], "usage": None}
    assert "\x1b[2J" in doc["reply"]  # JSON carries the exact text (escaped in the document)
    assert run.err == ""


def test_control_characters_in_a_reply_are_shown_not_executed(tmp_path: Path) -> None:
    run = prompt(tmp_path, "-p", "clear \x1b[2J this")  # the offline reply quotes it back
    assert run.code == ExitCode.OK, run
    assert "␛[2J" in run.out  # chatcli() itself fails on any raw control character in the output


def test_continue_without_an_earlier_session_starts_one(tmp_path: Path) -> None:
    run = prompt(tmp_path, "--continue", "-p", "hi")
    assert run.code == ExitCode.OK, run
    assert "starting a new one" in run.err
    assert len(sessions(tmp_path)) == 1


@pytest.mark.parametrize(
    ("args", "stdin", "said"),
    [
        (["-p", ""], None, "the message is empty"),
        (["-p", "-"], b" \n\n", "standard input held no text"),
        (["-p", "-"], b"\xff\xfe not text", "not UTF-8"),
        (["--resume", "-p", "hi"], None, "-p needs --resume ID|NAME"),
        (["--json"], None, "--json goes with -p"),
    ],
    ids=["empty", "blank-stdin", "binary-stdin", "resume-picker", "json-alone"],
)
def test_usage_errors_exit_2_and_send_nothing(
    tmp_path: Path, args: list[str], stdin: bytes | None, said: str
) -> None:
    run = prompt(tmp_path, *args, stdin=stdin)
    assert run.code == ExitCode.USAGE, run
    assert said in run.err and run.out == ""
    assert sessions(tmp_path) == {}


def test_resume_of_an_unknown_session_exits_1_and_creates_nothing(tmp_path: Path) -> None:
    prompt(tmp_path, "-p", "hi")
    before = sessions(tmp_path)
    run = prompt(tmp_path, "--resume", "no-such-name", "-p", "hi")
    assert run.code == ExitCode.USER, run
    assert "not found" in run.err and "--sessions-dir" in run.err
    assert sessions(tmp_path) == before


def test_prompt_never_imports_prompt_toolkit_or_the_repl(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chatcli", "-p", "hi", "--sessions-dir", "s"],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.decode().splitlines()}
    assert "chatcli.headless" in imported  # the check sees this path's imports
    assert not {m for m in imported if m.startswith(("prompt_toolkit", "chatcli.repl"))}


def test_a_closed_stdout_ends_quietly_and_the_whole_reply_is_saved(tmp_path: Path) -> None:
    message = " ".join(["word"] * 40_000)  # a reply far bigger than a pipe's buffer
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatcli", "--sessions-dir", "s", "-p", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.close()  # the reader is gone before the first byte
    _, err = proc.communicate(message.encode(), timeout=60)
    assert proc.returncode == ExitCode.OK, err
    assert "Traceback" not in err.decode() and err.decode().startswith("session ")
    [folder] = [p for p in (tmp_path / "s").iterdir() if not p.name.startswith(".")]
    lines = [json.loads(line) for line in (folder / "conversation.jsonl").read_text().splitlines()]
    assert lines[1]["role"] == "assistant" and not lines[1].get("interrupted")
    assert message in lines[1]["content"]


def test_plain_output_keeps_a_crlf_split_between_chunks_as_one_line_end() -> None:
    out = io.StringIO()
    view = PlainReplyOutput(out)
    view.show("one\r")
    assert out.getvalue() == "one"
    view.show("\ntwo\r")
    view.finish()
    assert out.getvalue() == "one\ntwo␍\n"
    ended = io.StringIO()
    view = PlainReplyOutput(ended)
    view.show("done\n")
    view.finish()
    assert ended.getvalue() == "done\n"


def test_message_text_strips_trailing_blank_space_only() -> None:
    assert message_text("-", io.StringIO("  indented\n\n")) == "  indented"
    with pytest.raises(UsageError):
        message_text("   ", io.StringIO(""))
