"""Transcripts with other line endings: ``\\r`` (old Mac) and ``\\r\\n`` (Windows) end a line as
``\\n`` does. Every command keeps every message; a complete message is never set aside as torn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE, QUARANTINE_DIR
from chatcli.session.transcript import parse_transcript
from tests.helpers import numbered, seed, user

ENDINGS = {"cr": b"\r", "crlf": b"\r\n"}


def _chatcli(root: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "250"}
    proc = subprocess.run(
        [sys.executable, "-m", "chatcli", "sessions", "--sessions-dir", str(root), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    out = proc.stdout.decode() + proc.stderr.decode()
    assert "Traceback" not in out and "Unexpected error" not in out, out
    return proc.returncode, out


def _rewrite(repo: FileRepository, session_id: str, ending: bytes, *, last: bool = True) -> Path:
    """Turn the transcript's line ends into ``ending`` (without one after the last line if not ``last``)."""
    conv = repo.root / session_id / CONVERSATION_FILE
    data = conv.read_bytes().replace(b"\n", ending)
    conv.write_bytes(data if last else data[: -len(ending)])
    return conv


def _quarantined(repo: FileRepository) -> list[str]:
    folder = repo.root / QUARANTINE_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("ending", list(ENDINGS.values()), ids=list(ENDINGS))
def test_parsing_accepts_cr_and_crlf(ending: bytes) -> None:
    msgs = numbered(3)
    body = ending.join(m.to_line().encode() for m in msgs)
    for data in (body + ending, body):  # with or without an end after the last line
        transcript = parse_transcript(data)
        assert transcript.messages == msgs
        assert transcript.skipped_lines == [] and not transcript.torn_tail
        assert transcript.warnings == []
    torn = parse_transcript(body + ending + b'{"role": "us')
    assert torn.messages == msgs and torn.torn_tail and torn.skipped_lines == []
    bad = parse_transcript(body.replace(ending, ending + b"garbage" + ending, 1) + ending)
    assert bad.messages == msgs and bad.skipped_lines == [2]


@pytest.mark.parametrize("ending", list(ENDINGS.values()), ids=list(ENDINGS))
def test_every_command_keeps_every_message(repo: FileRepository, ending: bytes) -> None:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    other = seed(repo, messages=numbered(2)).id
    conv = _rewrite(repo, sid, ending)
    before = conv.read_bytes()

    code, shown = _chatcli(repo.root, "show", sid)
    assert code == 0 and "Messages     3" in shown and "incomplete" not in shown, shown
    assert all(m.content in shown for m in msgs)
    code, listed = _chatcli(repo.root, "list", "--json")
    assert code == 0
    assert {s["id"]: s["message_count"] for s in json.loads(listed)["sessions"]} == {sid: 3, other: 2}
    code, found = _chatcli(repo.root, "search", "message 2")
    assert code == 0 and sid[:8] in found, found
    code, doctor = _chatcli(repo.root, "doctor")
    assert code == 0, doctor
    code, repaired = _chatcli(repo.root, "doctor", "--repair")
    assert code == 0, repaired
    assert conv.read_bytes() == before, "nothing to repair: the file is left as it is"
    assert _quarantined(repo) == []

    new = user("appended after")
    assert repo.append_message(sid, new).message_count == 4
    assert repo.load_messages(sid).messages == [*msgs, new]
    assert conv.read_bytes().startswith(before), "earlier lines are never touched"
    assert _quarantined(repo) == []
    assert SessionService(repo).show(sid).total_messages == 4


@pytest.mark.parametrize("ending", list(ENDINGS.values()), ids=list(ENDINGS))
def test_a_complete_last_message_without_its_end_is_kept(repo: FileRepository, ending: bytes) -> None:
    msgs = numbered(2)
    sid = seed(repo, messages=msgs).id
    _rewrite(repo, sid, ending, last=False)

    assert repo.load_messages(sid).messages == msgs
    assert not repo.load_messages(sid).torn_tail, "a complete message is not a torn write"
    assert [a for a in repo.repair(sid).actions if "set aside" in a] == []
    assert repo.load_messages(sid).messages == msgs
    new = user("next")
    repo.append_message(sid, new)
    assert repo.load_messages(sid).messages == [*msgs, new]
    assert _quarantined(repo) == []


@pytest.mark.parametrize("ending", list(ENDINGS.values()), ids=list(ENDINGS))
def test_only_a_torn_tail_is_set_aside(repo: FileRepository, ending: bytes) -> None:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    conv = _rewrite(repo, sid, ending)
    complete = conv.read_bytes()
    conv.write_bytes(complete + b'{"role": "assistant", "content": "cut sh')

    report = repo.repair(sid)

    assert any("incomplete last line (40 bytes)" in a for a in report.actions), report
    assert conv.read_bytes() == complete
    assert repo.load_messages(sid).messages == msgs
    [kept] = _quarantined(repo)
    assert (repo.root / QUARANTINE_DIR / kept).read_bytes() == b'{"role": "assistant", "content": "cut sh'
