"""Hostile input: names and ids (controls, markup, id look-alikes).

Everything goes through the session service and through the real ``chatcli sessions`` command line
(a subprocess with no terminal). Every hostile input must be rejected with a clear message or
handled; never a traceback, never a raw control on the screen."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chatcli.session.errors import InvalidName, SessionNotFound
from chatcli.session.models import Message, SessionMetadata, new_session_id
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import (
    RAW_CONTROLS,
    RTL_OVERRIDE,
    chatcli,
    chatcli_many,
    confined_writes,
    numbered,
    seed,
    tree,
)

#: Names, ids and references a user (or a script fed untrusted data) could type.
HOSTILE: dict[str, str] = {
    "empty": "",
    "blank": "   ",
    "10k-chars": "a" * 10_000,
    "dot-dot": "..",
    "slash": "/",
    "backslash": "\\",
    "traversal": "../../etc/passwd",
    "nul": "a\x00b",
    "newline": "first\nsecond",
    "rtl-override": "abc\u202egpj.exe",
    "emoji": "🔥💥",
    "dash-rf": "-rf",
    "subshell": "$(rm -rf /)",
    "semicolon": "; rm -rf ~",
    "backticks": "`rm -rf /`",
    "ansi": "\x1b[2J\x1b]52;c;aGk=\x07",
    "markup": "[bold red]x[/]",
    # Names that read as a session id (prefix): refused, or a prefix would reach the wrong session.
    "hex-id-prefix": "1a717050",
    "hex-upper": "DEADBEEF",
    "hex-and-dashes": "dead-beef",
}


def _clear(message: str, hostile: str) -> None:
    """A short message, without the hostile text's control characters."""
    assert message
    assert len(message) < 600, len(message)
    for ch in (*RAW_CONTROLS, RTL_OVERRIDE):
        assert ch not in message, (ch, message)
    if "\n" in hostile and hostile.strip():
        assert hostile not in message


# --------------------------------------------------------------------------- names and ids: the service


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_names_and_ids_through_the_service(repo: FileRepository, tmp_path: Path, text: str) -> None:
    msgs = numbered(2)
    victim = seed(repo, messages=msgs, name="victim").id
    svc = SessionService(repo)
    inside = tree(repo.root)
    everything = tree(tmp_path)

    with confined_writes(repo.root) as refused:
        with pytest.raises(InvalidName) as bad_name:
            svc.rename(victim, text)
        _clear(bad_name.value.user_message(), text)
        calls: dict[str, Callable[[], object]] = {
            "resolve": lambda: svc.resolve(text),
            "show": lambda: svc.show(text),
            "load": lambda: svc.load(text),
            "rename": lambda: svc.rename(text, "fine-name"),
            "archive": lambda: svc.archive(text),
            "fork": lambda: svc.fork(text),
            "delete": lambda: svc.delete(text),
            "export": lambda: svc.export(text),
            "repo.get": lambda: repo.get(text),
            "repo.load_messages": lambda: repo.load_messages(text),
            "repo.append_message": lambda: repo.append_message(text, Message(role="user", content="x")),
            "repo.delete": lambda: repo.delete(text),
        }
        for name, call in calls.items():
            with pytest.raises(SessionNotFound) as not_found:
                call()
            _clear(not_found.value.user_message(), text)
            assert not_found.value.exit_code == 1, name
        assert not repo.exists(text)

    assert refused == []
    assert tree(repo.root) == inside
    assert tree(tmp_path) == everything
    assert repo.get(victim).name == "victim"
    assert repo.load_messages(victim).messages == msgs


CLEAR_MESSAGES = ("not found", "Invalid session name", "Usage", "unknown option", "missing")


def test_hostile_names_and_ids_through_the_cli(repo: FileRepository, tmp_path: Path) -> None:
    msgs = numbered(2)
    victim = seed(repo, messages=msgs, name="victim").id
    work = tmp_path / "work"
    work.mkdir()
    everything = tree(tmp_path)
    base = ["sessions", "--sessions-dir", str(repo.root)]
    calls: list[list[str]] = []
    for text in HOSTILE.values():
        if "\x00" in text:
            continue  # an argument cannot hold NUL: the operating system refuses it before chatcli runs
        calls += [
            [*base, "show", text],
            [*base, "name", victim, text],
            [*base, "delete", "--yes", text],
            [*base, "search", text],
        ]
        if text.startswith("-"):  # past the end of the options it is a value, and still refused
            calls += [[*base, "name", "--", victim, text], [*base, "show", "--", text]]

    runs = chatcli_many(calls, cwd=work)

    for run in runs:
        if run.args[3] == "search":
            assert run.code in (0, 1, 2), run
            if run.code == 0:
                continue
        else:
            assert run.code in (1, 2), run
        assert run.out == "", run
        assert any(m in run.err for m in CLEAR_MESSAGES), run
        assert len(run.err) < 2000, run
        assert RTL_OVERRIDE not in run.err, run
    assert tree(tmp_path) == everything, "a rejected command changed something"
    assert repo.get(victim).name == "victim"
    assert repo.load_messages(victim).messages == msgs
    with pytest.raises(ValueError, match="null byte"):
        subprocess.run([sys.executable, "-c", "pass", "a\x00b"], check=False)


# --------------------------------------------------------------------------- names that read as ids


def _plant_name(repo: FileRepository, session_id: str, name: str) -> None:
    """Give a session ``name`` through the store, the way an older chatcli could have (its rules
    let names that read as ids through)."""

    def rename(meta: SessionMetadata) -> None:
        meta.name = name  # no validation on assignment: what an older version wrote

    repo.update(session_id, rename)


def test_a_name_equal_to_another_sessions_id_prefix_never_hijacks_it(
    repo: FileRepository, tmp_path: Path
) -> None:
    """The issue's scenario: B named after A's short id; ``show``/``delete`` of it reach A, never B."""
    owner = seed(repo, "the owner of the prefix", session_id="1a717050-3c2b-4a19-8f00-5d6e7f809a1b")
    other = seed(repo, "the other session", session_id="2b828161-4d3c-4b2a-9011-6e7f8091ab2c")
    prefix = owner.id[:8]
    base = ["sessions", "--sessions-dir", str(repo.root)]

    refused = chatcli([*base, "name", other.id, prefix], cwd=tmp_path)
    assert refused.code == 1, refused
    assert "Invalid session name" in refused.err and "session id" in refused.err, refused
    assert "not a-f" in refused.err, "the message says how to make the name usable"
    assert repo.get(other.id).name is None

    _plant_name(repo, other.id, prefix)  # as an older version or an import could have
    shown, listed, by_id = chatcli_many(
        [[*base, "show", prefix], [*base, "list", "--json"], [*base, "show", other.id]], cwd=tmp_path
    )
    assert shown.code == 0 and owner.id in shown.out and other.id not in shown.out, shown
    assert listed.code == 0, listed
    assert {s["id"]: s["name"] for s in json.loads(listed.out)["sessions"]} == {
        owner.id: None,
        other.id: prefix,
    }
    assert by_id.code == 0 and prefix in by_id.out, "the named session is still reachable by its id"

    deleted = chatcli([*base, "delete", "--yes", prefix], cwd=tmp_path)
    assert deleted.code == 0, deleted
    assert not repo.exists(owner.id), "the prefix's owner is the one deleted"
    assert repo.get(other.id).name == prefix, "the session carrying the name is untouched"
    assert len(repo.load_messages(other.id).messages) == 1

    # With no id starting with it any more, the old name still reaches its session.
    again = chatcli([*base, "show", prefix], cwd=tmp_path)
    assert again.code == 0 and other.id in again.out, again


def test_id_like_names_already_stored_stay_reachable(repo: FileRepository) -> None:
    svc = SessionService(repo)
    full = seed(repo, "carries a uuid-shaped name", session_id="11111111-2222-4333-8444-555555555555")
    short = seed(repo, "carries a hex name", session_id="99999999-8888-4777-8666-555555555555")
    uuid_name = new_session_id()
    _plant_name(repo, full.id, uuid_name)
    _plant_name(repo, short.id, "cafe")

    assert svc.resolve(uuid_name).id == full.id, "no session has that id: the name is used"
    assert svc.resolve("cafe").id == short.id
    assert svc.resolve(full.id).name == uuid_name
    # A name equal to a real id: the id wins.
    _plant_name(repo, short.id, full.id)
    assert svc.resolve(full.id).id == full.id
    assert svc.resolve(full.id[:6]).id == full.id


@pytest.mark.parametrize("name", ["1a717050", "CAFE", "dead-beef", "0f0e0d0c-0b0a-4908-8706-050403020100"])
def test_id_like_names_are_refused_everywhere(repo: FileRepository, tmp_path: Path, name: str) -> None:
    source = seed(repo, "to fork")
    svc = SessionService(repo)
    for call in (lambda: svc.rename(source.id, name), lambda: svc.fork(source.id, name)):
        with pytest.raises(InvalidName) as caught:
            call()
        message = caught.value.user_message()
        assert "session id" in message and "not a-f" in message, message
    assert [m.id for m in svc.list_sessions().sessions] == [source.id], "nothing was created"
    for fine in ("abc", "cafe-x", "a1b2c3g", "fix_1234"):
        assert svc.rename(source.id, fine).name == fine

    export = tmp_path / "one.json"
    doc = json.loads(svc.export(source.id))
    doc["session"].update(id=new_session_id(), name=name)
    export.write_text(json.dumps(doc))
    result = svc.import_file(export)
    assert [m.name for m in result.imported] == [None], "imported without the name"
    assert any(name in note and "session id" in note for note in result.notes), result.notes
