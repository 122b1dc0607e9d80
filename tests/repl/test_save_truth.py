"""What the REPL says about a message is what is on disk.

A failure anywhere in saving a message (counting it, writing the metadata, refreshing the index)
either leaves the message saved and counted, and the REPL says nothing about "not sent", or cuts
the line back, and the REPL puts the message back on the input line. Resending never duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from chatcli.session.models import SessionMetadata
from chatcli.session.store.files import SessionFiles
from chatcli.session.store.index import SessionIndex
from tests.helpers import Repl, seed, until

NOT_SENT = "Your message was not sent"


def _raise(exc: Exception) -> Callable[..., None]:
    def fail(*args: object, **kwargs: object) -> None:
        raise exc

    return fail


#: Where a save can fail after the line might already be written, and with what.
FAILURES: dict[str, tuple[object, str, Exception]] = {
    "count-overflow": (SessionMetadata, "record_message", OverflowError("date value out of range")),
    "count-valueerror": (SessionMetadata, "record_message", ValueError("bad value")),
    "metadata-write-runtime": (SessionFiles, "write_metadata", RuntimeError("boom")),
    "metadata-write-overflow": (SessionFiles, "write_metadata", OverflowError("too large")),
    "index-overflow": (
        SessionIndex,
        "store",
        OverflowError("Python int too large to convert to SQLite INTEGER"),
    ),
    "index-runtime": (SessionIndex, "store", RuntimeError("index bug")),
}


def _user_lines(r: Repl, sid: str) -> list[str]:
    return [line["content"] for line in r.lines(sid) if line["role"] == "user"]


@pytest.mark.parametrize("where", list(FAILURES))
def test_the_screen_matches_the_transcript_when_a_save_fails(
    repl: Repl, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    target, attribute, error = FAILURES[where]

    async def scenario(r: Repl) -> None:
        r.type("first\r")
        await until(lambda: len(r.app.messages) == 2, what="the first exchange")
        sid = r.app.current_id
        assert sid is not None
        monkeypatch.setattr(target, attribute, _raise(error))
        shown = len(r.output)
        r.type("second\r")
        await until(lambda: "second" in r.app.messages[-1].content or NOT_SENT in r.output[shown:])
        await until(lambda: r.app.replies._task is None, what="the turn to end")
        said_not_sent = NOT_SENT in r.output[shown:]
        on_disk = _user_lines(r, sid)
        assert said_not_sent == ("second" not in on_disk), (where, said_not_sent, on_disk, r.output[shown:])
        assert [m.content for m in r.app.messages if m.role == "user"] == on_disk
        monkeypatch.undo()
        if said_not_sent:
            assert r.app._pending_input == "second"
            r.type("\r")  # sent again from the input line
            await until(lambda: _user_lines(r, sid) == ["first", "second"], what="the resent message")
        await until(lambda: len(r.app.messages) == 4, what="the second exchange")

    repl.drive(scenario)

    sid = repl.app.current_id
    assert sid is not None
    assert _user_lines(repl, sid) == ["first", "second"], "never lost, never duplicated"
    assert repl.repo.repair(sid).actions == [] or "second" in _user_lines(repl, sid)
    assert repl.repo.get(sid).message_count == len(repl.lines(sid))


def test_a_session_whose_metadata_overflows_the_index_still_saves_truthfully(repl: Repl) -> None:
    """The issue's scenario: ``message_count`` too large for SQLite made every save report
    "not sent" after the line was written; resending duplicated it."""
    sid = seed(repl.repo, "hello").id
    path = repl.root / sid / "metadata.json"
    doc = json.loads(path.read_bytes())
    doc["message_count"] = 1180591620717411303424
    path.write_text(json.dumps(doc))

    async def scenario(r: Repl) -> None:
        r.type(f"/resume {sid[:8]}\r")
        await until(lambda: r.app.current_id == sid, what="the resumed session")
        shown = len(r.output)
        r.type("again\r")
        await until(lambda: len(r.app.messages) == 3 or NOT_SENT in r.output[shown:], what="the save")
        await until(lambda: r.app.replies._task is None, what="the turn to end")
        said_not_sent = NOT_SENT in r.output[shown:]
        assert said_not_sent == ("again" not in _user_lines(r, sid)), r.output[shown:]

    repl.drive(scenario)

    assert _user_lines(repl, sid).count("again") <= 1
