"""An append either saves the message (and it is counted, or its count is repaired) or raises and
leaves no line behind, whatever the exception and wherever it happens after the line is written."""

from __future__ import annotations

import errno
import os

import pytest

from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository, durable
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.index import SessionIndex
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers import numbered, seed, transcript_lines, user

ERRORS = [OverflowError("out of range"), ValueError("bad value"), RuntimeError("a bug")]
#: (class, attribute) that fails: counting, the metadata write, its folder fsync, the index.
POINTS = [
    (SessionMetadata, "record_message"),
    (SessionFiles, "write_metadata"),
    (durable, "fsync_dir"),
    (SessionIndex, "store"),
    (SessionIndex, "mark_dirty"),
]


def _raiser(exc: Exception) -> object:
    def fail(*args: object, **kwargs: object) -> None:
        raise exc

    return fail


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("point", POINTS, ids=lambda p: p[1])
def test_an_append_is_saved_or_leaves_nothing(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch, point: tuple[object, str], error: Exception
) -> None:
    sid = seed(repo, messages=numbered(2)).id
    conv = repo.root / sid / CONVERSATION_FILE
    before = conv.read_bytes()
    meta_before = (repo.root / sid / METADATA_FILE).read_bytes()
    message = user("the message")
    monkeypatch.setattr(*point, _raiser(error))

    try:
        returned = repo.append_message(sid, message)
    except Exception as exc:  # any error must mean "not saved"
        assert exc is error or exc.__cause__ is error or isinstance(exc, type(error)), exc
        monkeypatch.undo()
        assert conv.read_bytes() == before, "an error was raised: the line must not be on disk"
        assert (repo.root / sid / METADATA_FILE).read_bytes() == meta_before
    else:
        monkeypatch.undo()
        assert conv.read_bytes() == before + (message.to_line() + "\n").encode()
        assert returned.message_count == 3
        fresh = FileRepository(repo.root)
        fresh.repair(sid)
        assert fresh.get(sid).message_count == 3, "saved, and counted (at worst by a repair)"
    assert len(transcript_lines(repo, sid)) in (2, 3)


def test_a_line_that_cannot_be_cut_back_is_reported_saved(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metadata write fails and the transcript cannot be truncated: the line is fsynced, so
    the message is saved; saying otherwise would make the user send it twice."""
    sid = seed(repo, messages=numbered(2)).id
    message = user("kept")

    def no_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(SessionFiles, "write_metadata", _raiser(RuntimeError("metadata write failed")))
    monkeypatch.setattr(os, "ftruncate", no_truncate)
    returned = repo.append_message(sid, message)
    monkeypatch.undo()

    assert returned.message_count == 3
    assert repo.load_messages(sid).messages[-1] == message
    assert repo.get(sid).message_count == 2, "the metadata write did fail"
    report = repo.repair(sid)
    assert any("message count (2 -> 3)" in action for action in report.actions), report
    assert repo.get(sid).message_count == 3
