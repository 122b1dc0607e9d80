"""``chatcli -p`` end to end: the real binary against a real third-party server (llmock, from PyPI).

Every test asserts on the request bodies llmock received (user/assistant alternating from a user
message, the earlier context carried by ``--continue``/``--resume``) and on what is on disk, not
only on what chatcli printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chatcli.errors import ExitCode
from tests.helpers import Llmock, Run, assert_well_formed, chatcli

pytestmark = pytest.mark.slow


def headless(
    llmock: Llmock, tmp_path: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> Run:
    """``chatcli --backend openai … ARGS`` against ``llmock``, sessions in ``tmp_path/sessions``."""
    return chatcli(
        ["--backend", "openai", "--base-url", llmock.url + "/v1", "--model", "gpt-4o-mini", *args],
        cwd=tmp_path,
        env={"CHATCLI_SESSIONS_DIR": str(tmp_path / "sessions"), **(env or {})},
        stdin=stdin,
    )


def session_lines(tmp_path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The one session's id and its transcript lines."""
    [folder] = [p for p in (tmp_path / "sessions").iterdir() if not p.name.startswith(".")]
    lines = (folder / "conversation.jsonl").read_text(encoding="utf-8").splitlines()
    return folder.name, [json.loads(line) for line in lines]


def reported_id(run: Run) -> str:
    """The session id ``chatcli -p`` printed on stderr (``session <id>``)."""
    ids = [line.split()[1] for line in run.err.splitlines() if line.startswith("session ")]
    assert len(ids) == 1, run
    return ids[0]


def test_prompt_streams_the_reply_saves_the_turn_and_reports_its_id(llmock: Llmock, tmp_path: Path) -> None:
    llmock.queue({"type": "reply", "text": "Paris is the capital of France."})
    run = headless(llmock, tmp_path, "-p", "capital of France?")
    assert run.code == ExitCode.OK, run
    assert run.out == "Paris is the capital of France.\n"
    sid, lines = session_lines(tmp_path)
    assert reported_id(run) == sid
    assert [(line["role"], line["content"]) for line in lines] == [
        ("user", "capital of France?"),
        ("assistant", "Paris is the capital of France."),
    ]
    assert llmock.bodies() == [[("user", "capital of France?")]]


def test_prompt_dash_reads_the_message_from_stdin(llmock: Llmock, tmp_path: Path) -> None:
    run = headless(llmock, tmp_path, "-p", "-", stdin=b"first line\nsecond line\n\n")
    assert run.code == ExitCode.OK, run
    assert llmock.bodies() == [[("user", "first line\nsecond line")]]
    _, lines = session_lines(tmp_path)
    assert run.out == lines[1]["content"] + "\n"


def test_continue_and_resume_carry_the_earlier_context(llmock: Llmock, tmp_path: Path) -> None:
    llmock.queue({"type": "reply", "text": "One."}, {"type": "reply", "text": "Two."})
    assert headless(llmock, tmp_path, "-p", "count with me").code == ExitCode.OK
    second = headless(llmock, tmp_path, "--continue", "-p", "-", stdin=b"go on\n")
    assert second.code == ExitCode.OK, second
    sid = reported_id(second)
    third = headless(llmock, tmp_path, "--resume", sid[:8], "-p", "and now?")
    assert third.code == ExitCode.OK, third
    assert reported_id(third) == sid

    bodies = llmock.bodies()
    for body in bodies:
        assert_well_formed(body)
    assert bodies[1] == [("user", "count with me"), ("assistant", "One."), ("user", "go on")]
    assert bodies[2] == [*bodies[1], ("assistant", "Two."), ("user", "and now?")]
    _, lines = session_lines(tmp_path)
    assert len(lines) == 6  # one session, three exchanges


def test_failed_turns_exit_backend_and_leave_the_session_usable(llmock: Llmock, tmp_path: Path) -> None:
    llmock.queue({"type": "fail", "status": 401, "times": 1})
    refused = headless(llmock, tmp_path, "-p", "hi")
    assert refused.code == ExitCode.BACKEND, refused
    assert refused.out == ""
    assert "refused the API key (HTTP 401)" in refused.err and "OPENAI_API_KEY" in refused.err
    assert "your message is saved, not answered" in refused.err
    sid = reported_id(refused)

    llmock.queue({"type": "fail", "status": 500, "times": 1})
    broken = headless(llmock, tmp_path, "--continue", "-p", "still there?")
    assert broken.code == ExitCode.BACKEND, broken
    assert "(HTTP 500)" in broken.err and reported_id(broken) == sid

    llmock.queue({"type": "reply", "text": "Yes, here."})
    answered = headless(llmock, tmp_path, "--continue", "-p", "hello?")
    assert answered.code == ExitCode.OK, answered
    assert answered.out == "Yes, here.\n"

    bodies = llmock.bodies()
    for body in bodies:
        assert_well_formed(body)
    assert bodies == [
        [("user", "hi")],
        [("user", "hi\n\nstill there?")],
        [("user", "hi\n\nstill there?\n\nhello?")],
    ]
    _, lines = session_lines(tmp_path)
    assert [line["role"] for line in lines] == ["user", "user", "user", "assistant"]

    llmock.queue({"type": "reply", "text": "Fine."})
    after = headless(llmock, tmp_path, "--continue", "-p", "all good?")
    assert after.code == ExitCode.OK, after
    assert llmock.bodies()[-1] == [
        ("user", "hi\n\nstill there?\n\nhello?"),
        ("assistant", "Yes, here."),
        ("user", "all good?"),
    ]


def test_json_prints_the_session_id_the_reply_and_usage(llmock: Llmock, tmp_path: Path) -> None:
    # llmock's own reply (nothing queued), so that asking again gives the same usage
    run = headless(llmock, tmp_path, "--json", "-p", "hi")
    assert run.code == ExitCode.OK, run
    doc = json.loads(run.out)
    sid, lines = session_lines(tmp_path)
    assert doc["session_id"] == sid
    assert doc["reply"] == lines[1]["content"] != ""
    [body] = llmock.raw_bodies()
    assert body["stream_options"] == {"include_usage": True}
    reported = llmock.usage_for(body)
    assert doc["usage"] == {
        key: reported[key] for key in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
    assert lines[1]["usage"] == doc["usage"], "the reply's usage is saved with it"
    assert run.err == ""


def test_system_prompt_goes_first_and_stays_with_the_session(llmock: Llmock, tmp_path: Path) -> None:
    first = headless(llmock, tmp_path, "--system", "Be brief.", "-p", "hi")
    assert first.code == ExitCode.OK, first
    again = headless(llmock, tmp_path, "--resume", reported_id(first), "-p", "more")
    assert again.code == ExitCode.OK, again
    bodies = llmock.raw_bodies()
    assert [body["messages"][0] for body in bodies] == [{"role": "system", "content": "Be brief."}] * 2
    replaced = headless(llmock, tmp_path, "--continue", "--system", "Be long.", "-p", "and?")
    assert replaced.code == ExitCode.OK, replaced
    assert llmock.raw_bodies()[-1]["messages"][0] == {"role": "system", "content": "Be long."}
    shown = json.loads(
        chatcli(
            ["sessions", "show", reported_id(first), "--json", "--sessions-dir", str(tmp_path / "sessions")],
            cwd=tmp_path,
        ).out
    )
    assert shown["system_prompt"] == "Be long."


def test_json_after_a_failed_turn_keeps_stdout_json_and_puts_the_error_on_stderr(
    llmock: Llmock, tmp_path: Path
) -> None:
    llmock.queue({"type": "fail", "status": 500, "times": 1})
    run = headless(llmock, tmp_path, "-p", "hi", "--json")
    assert run.code == ExitCode.BACKEND, run
    doc = json.loads(run.out)
    sid, lines = session_lines(tmp_path)
    assert doc == {"session_id": sid, "reply": "", "usage": None}
    assert json.loads(run.err)["error"]["kind"]
    assert [line["role"] for line in lines] == ["user"]


def _start(llmock: Llmock, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NO_COLOR": "1", "CHATCLI_SESSIONS_DIR": str(tmp_path / "sessions")}
    command = [sys.executable, "-m", "chatcli", "--backend", "openai", "--base-url", llmock.url + "/v1"]
    return subprocess.Popen(
        [*command, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )


def test_ctrl_c_mid_stream_keeps_what_arrived_and_exits_130(llmock: Llmock, tmp_path: Path) -> None:
    words = " ".join(f"word{i}" for i in range(40))
    llmock.queue(
        {"type": "reply", "text": words},
        {"type": "stream_fault", "kind": "stall", "after_chunks": 3, "stall_seconds": 30},
    )
    proc = _start(llmock, tmp_path, "-p", "talk to me")
    assert proc.stdout is not None
    first = proc.stdout.read1(4096)  # type: ignore[attr-defined]
    assert first, "no reply arrived"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err.decode()
    assert "what arrived was saved" in err.decode()
    _, lines = session_lines(tmp_path)
    assert lines[-1]["role"] == "assistant" and lines[-1]["interrupted"] is True
    partial = lines[-1]["content"]
    assert partial and words.startswith(partial)
    assert (first + out).decode() == partial + "\n"

    llmock.queue({"type": "reply", "text": "Done."})
    after = headless(llmock, tmp_path, "--continue", "-p", "finish")
    assert after.code == ExitCode.OK, after
    assert llmock.bodies()[-1] == [("user", "talk to me"), ("assistant", partial), ("user", "finish")]


def test_ctrl_c_before_the_first_token_leaves_the_message_unanswered(llmock: Llmock, tmp_path: Path) -> None:
    llmock.queue({"type": "slow_first_token", "seconds": 30})
    proc = _start(llmock, tmp_path, "-p", "anyone?")
    deadline = time.monotonic() + 20
    while not (tmp_path / "sessions").exists() or not any(
        p for p in (tmp_path / "sessions").iterdir() if not p.name.startswith(".")
    ):
        assert time.monotonic() < deadline and proc.poll() is None, "the message was not saved"
        time.sleep(0.05)
    time.sleep(1.0)  # the request is on its way: the message is saved before it is sent
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert out == b"" and "Traceback" not in err.decode()
    assert "nterrupted" in err.decode()
    _, lines = session_lines(tmp_path)
    assert [line["role"] for line in lines] == ["user"]

    llmock.queue({"type": "reply", "text": "Here."})
    after = headless(llmock, tmp_path, "--continue", "-p", "hello?")
    assert after.code == ExitCode.OK, after
    assert llmock.bodies()[-1] == [("user", "anyone?\n\nhello?")]
