"""FileRepository and damaged files: torn, garbage and invalid transcript lines, corrupted, missing
or newer metadata, and what a repair sets aside."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from chatcli.session.errors import (
    CorruptedSession,
    StorageError,
    UnsafePath,
    UnsupportedVersion,
)
from chatcli.session.models import Message, SessionStatus, new_session_id
from chatcli.session.repository import SessionFilter
from chatcli.session.store import FileRepository, durable
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers import (
    assistant,
    make_meta,
    session_with_messages,
    snapshot,
    transcript_lines,
    user,
)

QUARANTINE = ".quarantine"


def _quarantined(repo: FileRepository) -> dict[str, bytes]:
    folder = repo.root / QUARANTINE
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


# --------------------------------------------------------------------------- transcripts


def test_append_then_load(repo: FileRepository) -> None:
    meta = make_meta("")
    repo.save(meta)
    sent = [user("ünïcödé ✓ 🙂"), assistant("line one\nline two"), Message(role="system", content="")]
    for message in sent:
        repo.append_message(meta.id, message)

    transcript = FileRepository(repo.root).load_messages(meta.id)  # a fresh instance reads the same
    assert transcript.messages == sent
    assert transcript.warnings == []
    assert len(transcript_lines(repo, meta.id)) == 3


def test_torn_last_line(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 3)
    conv = repo.root / meta.id / CONVERSATION_FILE
    complete = conv.read_bytes()
    torn = b'{"role": "assistant", "content": "the reply was cut sh'
    conv.write_bytes(complete + torn)

    transcript = repo.load_messages(meta.id)
    assert transcript.torn_tail
    assert [m.content for m in transcript.messages] == ["question 0", "answer 1", "question 2"]
    assert transcript.skipped_lines == []
    assert any("incomplete" in w for w in transcript.warnings)

    new = user("after the crash")
    after = repo.append_message(meta.id, new)

    assert conv.read_bytes() == complete + (new.to_line() + "\n").encode()
    assert list(_quarantined(repo).values()) == [torn], "the torn bytes are kept aside, never dropped"
    assert after.message_count == 4
    assert repo.load_messages(meta.id).warnings == []


def test_repair_sets_a_torn_tail_aside(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 2)
    conv = repo.root / meta.id / CONVERSATION_FILE
    complete = conv.read_bytes()
    conv.write_bytes(complete + b'{"ro')

    report = repo.repair(meta.id)

    assert report.changed and "incomplete last line (4 bytes)" in report.actions[0]
    assert conv.read_bytes() == complete
    assert list(_quarantined(repo).values()) == [b'{"ro']
    assert not repo.repair(meta.id).changed, "a second repair has nothing to do"


def test_torn_tail_without_any_newline(repo: FileRepository) -> None:
    meta = make_meta("")
    repo.save(meta)
    conv = repo.root / meta.id / CONVERSATION_FILE
    conv.write_bytes(b'{"role": "us')

    assert repo.load_messages(meta.id).messages == []
    repo.append_message(meta.id, user("first real"))
    assert [m.content for m in repo.load_messages(meta.id).messages] == ["first real"]
    assert list(_quarantined(repo).values()) == [b'{"role": "us']


def test_complete_last_line_missing_only_its_newline_is_kept(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 2)
    conv = repo.root / meta.id / CONVERSATION_FILE
    complete = conv.read_bytes()
    last = user("written by an editor without a final newline")
    conv.write_bytes(complete + last.to_line().encode())

    transcript = repo.load_messages(meta.id)
    assert transcript.messages[-1] == last

    new = assistant("next")
    repo.append_message(meta.id, new)
    assert conv.read_bytes() == complete + (last.to_line() + "\n" + new.to_line() + "\n").encode()
    assert _quarantined(repo) == {}
    assert repo.load_messages(meta.id).messages[-2:] == [last, new]


def test_garbage_line_in_the_middle_is_skipped(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 2)
    conv = repo.root / meta.id / CONVERSATION_FILE
    lines = conv.read_bytes().split(b"\n")
    lines.insert(1, b"this is not json")
    lines.insert(2, b"")  # blank lines are not problems
    lines.insert(3, b'{"role": "narrator", "content": "wrong role"}')
    conv.write_bytes(b"\n".join(lines))

    transcript = repo.load_messages(meta.id)
    assert [m.content for m in transcript.messages] == ["question 0", "answer 1"]
    assert transcript.skipped_lines == [2, 4]
    assert not transcript.torn_tail
    assert "skipped 2 unreadable line(s): 2, 4" in transcript.warnings[0]

    repo.append_message(meta.id, user("still fine"))
    assert b"this is not json" in conv.read_bytes(), "complete lines are never touched"
    assert repo.load_messages(meta.id).skipped_lines == [2, 4]


def test_invalid_utf8_inside_a_line_is_salvaged(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 1)
    conv = repo.root / meta.id / CONVERSATION_FILE
    bad = (
        b'{"role": "user", "content": "caf\xc3 \xff\xfe ok", '
        b'"timestamp": "2025-01-01T00:00:00Z", "id": "u8"}\n'
    )
    conv.write_bytes(conv.read_bytes() + bad)

    transcript = repo.load_messages(meta.id)
    assert transcript.skipped_lines == []
    salvaged = transcript.messages[-1]
    assert salvaged.id == "u8"
    assert salvaged.content.startswith("caf") and salvaged.content.endswith(" ok")
    assert "\ufffd" in salvaged.content


def test_failed_append_leaves_no_partial_line(repo: FileRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that fills up in the middle of the write: the half-written line is cut back off."""
    meta = session_with_messages(repo, 2)
    conv = repo.root / meta.id / CONVERSATION_FILE
    before_conv, before_meta = conv.read_bytes(), repo.get(meta.id)
    real_write_all = durable.write_all

    def half_then_enospc(fd: int, data: bytes) -> None:
        if data.startswith(b'{"role"'):
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(durable, "write_all", half_then_enospc)
    with pytest.raises(StorageError) as err:
        repo.append_message(meta.id, user("lost to a full disk"))
    assert "no space left" in err.value.user_message()
    monkeypatch.undo()

    assert conv.read_bytes() == before_conv
    assert repo.get(meta.id) == before_meta
    repo.append_message(meta.id, user("disk has room again"))
    assert repo.load_messages(meta.id).warnings == []


# --------------------------------------------------------------------------- damaged metadata


def _good_metadata(repo: FileRepository, sid: str) -> dict[str, Any]:
    return dict(json.loads((repo.root / sid / METADATA_FILE).read_text()))


CORRUPTIONS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "truncated": lambda good: json.dumps(good).encode()[:40],
    "empty": lambda good: b"",
    "whitespace": lambda good: b"  \n\n",
    "json-array": lambda good: json.dumps([good]).encode(),
    "not-utf8": lambda good: b"\xff\xfe{\x00",
    "wrong-types": lambda good: json.dumps({**good, "message_count": "many", "created": [1]}).encode(),
    "missing-field": lambda good: json.dumps({k: v for k, v in good.items() if k != "created"}).encode(),
    "huge-garbage": lambda good: b"\x8b" * (50 * 1024 * 1024),
    "id-mismatch": lambda good: json.dumps({**good, "id": new_session_id()}).encode(),
}
#: Corruptions after which the JSON still parses, so name and status are salvaged by repair().
SALVAGEABLE = {"wrong-types", "missing-field", "id-mismatch"}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupted_metadata_is_reported_and_repaired(repo: FileRepository, kind: str) -> None:
    good = [session_with_messages(repo, 1) for _ in range(2)]
    bad = session_with_messages(repo, 3, name="keep-me")
    repo.update(bad.id, lambda m: m.archive())
    broken = CORRUPTIONS[kind](_good_metadata(repo, bad.id))
    (repo.root / bad.id / METADATA_FILE).write_bytes(broken)

    listed = repo.list()
    assert {m.id for m in listed} == {m.id for m in good}
    assert len(listed.problems) == 1
    problem = listed.problems[0]
    assert isinstance(problem, CorruptedSession) and problem.session_id == bad.id
    assert problem.is_recoverable()
    assert "doctor" in problem.user_message()
    with pytest.raises(CorruptedSession):
        repo.get(bad.id)

    report = repo.repair(bad.id)

    assert report.changed
    assert list(_quarantined(repo).values()) == [broken], "the broken file is kept byte for byte"
    fixed = repo.get(bad.id)
    assert fixed.message_count == 3
    assert fixed.first_message == "question 0"
    if kind in SALVAGEABLE:
        assert (fixed.name, fixed.status) == ("keep-me", SessionStatus.ARCHIVED)
    else:
        assert (fixed.name, fixed.status) == (None, SessionStatus.ACTIVE)
    assert repo.list(SessionFilter()).problems == []
    assert len(repo.list()) == 3


def test_missing_metadata_is_rebuilt_from_the_transcript(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 4)
    (repo.root / meta.id / METADATA_FILE).unlink()

    problems = repo.list().problems
    assert len(problems) == 1 and "missing" in str(problems[0])

    report = repo.repair(meta.id)
    assert report.changed and _quarantined(repo) == {}
    rebuilt = repo.get(meta.id)
    assert rebuilt.message_count == 4 and rebuilt.first_message == "question 0"
    assert rebuilt.created == repo.load_messages(meta.id).messages[0].timestamp


def test_append_repairs_corrupted_metadata_first(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 2)
    (repo.root / meta.id / METADATA_FILE).write_bytes(b'{"version": 1, "id"')

    after = repo.append_message(meta.id, user("the chat goes on"))

    assert after.message_count == 3
    assert list(_quarantined(repo).values()) == [b'{"version": 1, "id"']


def test_save_over_corrupted_metadata_quarantines_it(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 1)
    (repo.root / meta.id / METADATA_FILE).write_bytes(b"[]")
    repo.save(meta)
    assert repo.get(meta.id) == meta
    assert list(_quarantined(repo).values()) == [b"[]"]


def test_repair_recounts_messages(repo: FileRepository) -> None:
    """A crash between the transcript append and the metadata write leaves the count one behind."""
    meta = session_with_messages(repo, 3)
    repo.update(meta.id, lambda m: setattr(m, "message_count", 1))

    report = repo.repair(meta.id)

    assert report.changed and "count" in report.actions[0]
    assert repo.get(meta.id).message_count == 3


def test_repair_sets_unfinished_temp_files_aside(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 1)
    stale = repo.root / meta.id / f".{METADATA_FILE}.4242.deadbeef.tmp"
    stale.write_bytes(b'{"version": 1, "id": "half')

    report = repo.repair(meta.id)

    assert not stale.exists() and "temporary" in report.actions[0]
    assert sorted(os.listdir(repo.root / meta.id)) == [CONVERSATION_FILE, METADATA_FILE]


def test_newer_version_is_never_overwritten(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 2)
    path = repo.root / meta.id / METADATA_FILE
    future = {**_good_metadata(repo, meta.id), "version": 999, "shiny_new_field": [1, 2]}
    path.write_text(json.dumps(future))
    before = snapshot(repo.root / meta.id)

    problems = repo.list().problems
    assert len(problems) == 1 and isinstance(problems[0], UnsupportedVersion)
    assert "Upgrade chatcli" in problems[0].user_message()
    assert not problems[0].is_recoverable()

    for attempt in (
        lambda: repo.get(meta.id),
        lambda: repo.save(make_meta(session_id=meta.id)),
        lambda: repo.repair(meta.id),
        lambda: repo.update(meta.id, lambda m: m.archive()),
        lambda: repo.append_message(meta.id, user("x")),
    ):
        with pytest.raises(UnsupportedVersion):
            attempt()

    assert snapshot(repo.root / meta.id) == before
    assert _quarantined(repo) == {}


def test_metadata_that_is_a_folder(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 1)
    (repo.root / meta.id / METADATA_FILE).unlink()
    (repo.root / meta.id / METADATA_FILE).mkdir()
    problems = repo.list().problems
    assert len(problems) == 1 and isinstance(problems[0], CorruptedSession)


def test_session_folder_that_is_a_file(repo: FileRepository) -> None:
    repo.save(make_meta())
    (repo.root / new_session_id()).write_text("not a folder")
    problems = repo.list().problems
    assert len(problems) == 1 and isinstance(problems[0], UnsafePath)
