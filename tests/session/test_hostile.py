"""Hostile input: names and ids, planted symbolic links, hostile message text, broken metadata.

Everything goes through the session service and through the real ``chatcli sessions`` command
line (a subprocess with no terminal). Every hostile input must be rejected with a clear message or
handled; never a traceback, never a raw escape sequence on the screen, never a write outside the
sessions folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from chatcli.cli import run_sessions
from chatcli.session.errors import InvalidName, SessionError, SessionNotFound, UnsafePath
from chatcli.session.location import discover_sessions_dir
from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository, index_rows
from chatcli.session.store import doctor as doctor_module
from chatcli.session.store import index as index_module
from chatcli.session.store.doctor import run_doctor
from chatcli.session.store.layout import CONVERSATION_FILE, INDEX_DIR, INDEX_FILE, METADATA_FILE
from tests.helpers import RAW_CONTROLS, Run, at, chatcli, confined_writes, numbered, seed, tree

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
#: Raw characters that must never reach the user unescaped.
#: Reorders what follows it: never raw in a one-line field (ids, names, error messages). Message
#: text keeps it on purpose, since right-to-left prose uses it (see chatcli/sanitize.py).
RTL_OVERRIDE = "\u202e"


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


# --------------------------------------------------------------------------- names and ids: the command line


def chatcli_many(calls: Sequence[Sequence[str]], *, cwd: Path) -> list[Run]:
    """Several independent ``chatcli`` runs in parallel."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: chatcli(args, cwd=cwd), calls))


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


# --------------------------------------------------------------------------- planted symbolic links


@dataclass
class Planted:
    project: Path
    outside: Path
    bait: str
    good: str | None


def _plant(tmp_path: Path, where: str) -> Planted:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    outside = tmp_path / "outside"
    bait_repo = FileRepository(outside / "sessions")
    bait = seed(bait_repo, messages=numbered(2), name="bait").id
    good = None
    if where == ".amazonq":
        os.symlink(outside, project / ".amazonq")
    elif where == "sessions":
        (project / ".amazonq").mkdir()
        os.symlink(outside / "sessions", project / ".amazonq" / "sessions")
    else:
        real = FileRepository(project / ".amazonq" / "sessions")
        good = seed(real, messages=numbered(1), name="good").id
        os.symlink(outside / "sessions" / bait, real.root / bait)
    return Planted(project, outside, bait, good)


PLANTED = (".amazonq", "sessions", "session-folder")


@pytest.mark.parametrize("where", PLANTED)
def test_planted_symlinks_through_the_service(tmp_path: Path, where: str) -> None:
    p = _plant(tmp_path, where)
    outside_before = tree(p.outside)
    repo = FileRepository(discover_sessions_dir(cwd=p.project, environ={}))
    svc = SessionService(repo)
    calls: dict[str, Callable[[], object]] = {
        "show": lambda: svc.show(p.bait),
        "load": lambda: svc.load(p.bait),
        "rename": lambda: svc.rename(p.bait, "mine"),
        "archive": lambda: svc.archive(p.bait),
        "delete": lambda: svc.delete(p.bait),
        "fork": lambda: svc.fork(p.bait),
        "append": lambda: svc.append(p.bait, Message(role="user", content="through the link")),
        "export": lambda: svc.export(p.bait),
    }
    if where != "session-folder":
        calls["list"] = lambda: svc.list_sessions(status="all")
        calls["search"] = lambda: svc.search("message")
        calls["start"] = lambda: svc.start_session([Message(role="user", content="new")])
        calls["doctor"] = lambda: run_doctor(repo, repair=True)

    with confined_writes(p.project) as refused:
        for name, call in calls.items():
            with pytest.raises(UnsafePath) as caught:
                call()
            assert caught.value.exit_code == 3, name
            assert "symbolic link" in caught.value.user_message(), name
        if where == "session-folder":
            listing = svc.list_sessions(status="all")
            assert [m.id for m in listing.sessions] == [p.good]
            assert [type(e) for e in listing.problems] == [UnsafePath]
            report = run_doctor(repo, repair=True)
            assert [f.target for f in report.findings] == [p.bait]
            assert report.findings[0].unrepairable

    assert refused == []
    assert tree(p.outside) == outside_before, "something was written through the link"


@pytest.mark.parametrize("where", PLANTED)
def test_planted_symlinks_through_the_cli(tmp_path: Path, where: str) -> None:
    p = _plant(tmp_path, where)
    outside_before = tree(p.outside)
    export = tmp_path / "export.json"
    refused = [
        ["sessions", "show", p.bait],
        ["sessions", "name", p.bait, "mine"],
        ["sessions", "delete", "--yes", p.bait],
        ["sessions", "archive", p.bait],
        ["sessions", "fork", p.bait],
        ["sessions", "export", p.bait, "-o", str(export)],
    ]
    reading = [["sessions", "list", "--all"], ["sessions", "search", "message"], ["sessions", "doctor"]]
    reading.append(["sessions", "doctor", "--repair"])

    runs = chatcli_many(refused + reading, cwd=p.project)

    for run in runs[: len(refused)]:
        assert run.code == 3, run
        assert "symbolic link" in run.err, run
    for run in runs[len(refused) :]:
        if where == "session-folder":
            # Reading commands work around the planted link; doctor reports it (it cannot be
            # repaired: chatcli never follows or removes it), so doctor exits 1.
            assert run.code == (1 if "doctor" in run.args else 0), run
        else:
            assert run.code == 3 and "symbolic link" in run.err, run
    if where == "session-folder":
        listed = runs[len(refused)]
        assert p.good is not None and p.good[:8] in listed.out and "symbolic link" in listed.out
    assert not export.exists()
    assert tree(p.outside) == outside_before, "something was written through the link"


# --------------------------------------------------------------------------- hostile message text

MARKUP = "[bold red]x[/]"
LINK_MARKUP = "[link=https://evil]y[/link]"
HOSTILE_TEXT: dict[str, str] = {
    "markup": f"markup {MARKUP} end",
    "link-markup": f"link {LINK_MARKUP} end",
    "clear-screen": "clear \x1b[2J end",
    "osc52-clipboard": "clip \x1b]52;c;aGk=\x07 end",
    "osc8-hyperlink": "hyper \x1b]8;;http://x\x1b\\t\x1b]8;;\x1b\\ end",
    "c1-csi": "c1 \x9b31m red end",
    "carriage-return": "safe\rEVIL end",
    "bidi": "bidi \u202egpj.exe end",
    "nul": "nul \x00 end",
    "emoji": "emoji 🔥💥 end",
}
#: Literal fragments that must be visible after sanitising (the escape introducers are not).
VISIBLE = [MARKUP, LINK_MARKUP, "[2J", "]52;c;aGk=", "]8;;http://x", "31m red", "EVIL end"]
FIVE_MB = 5 * 1024 * 1024


def test_hostile_message_text_is_stored_exactly_and_shown_safely(
    repo: FileRepository, tmp_path: Path
) -> None:
    sid = seed(repo, messages=numbered(1)).id
    unit = "pasted line [bold]not bold[/] \x1b[31m\n"
    paste = (unit * (FIVE_MB // len(unit) + 1))[:FIVE_MB]
    sent = [Message(role="user", content=paste)]
    roles = ("assistant", "user")
    sent += [Message(role=roles[i % 2], content=t) for i, t in enumerate(HOSTILE_TEXT.values())]
    for message in sent:
        repo.append_message(sid, message)

    stored = repo.load_messages(sid)
    assert stored.messages[1:] == sent, "every message round-trips exactly"
    assert stored.messages[1].content == paste and len(paste) == FIVE_MB
    exported = json.loads(SessionService(repo).export(sid))
    assert [m["content"] for m in exported["messages"][1:]] == [m.content for m in sent]

    base = ["sessions", "--sessions-dir", str(repo.root)]
    runs = chatcli_many(
        [
            [*base, "show", sid, "--last", "20"],
            [*base, "search", "end", "--messages", "--limit", "50"],
            [*base, "search", "bold red", "--messages"],
            [*base, "search", "evil", "--messages"],
            [*base, "export", sid],
        ],
        cwd=tmp_path,
    )
    for run in runs:
        assert run.code == 0, run
    show, search_end = runs[0].out, runs[1].out
    for fragment in VISIBLE:
        assert fragment in show, fragment
        assert fragment in search_end, fragment
    assert MARKUP in runs[2].out and LINK_MARKUP in runs[3].out
    assert "gpj.exe" in show and "🔥💥" in show
    assert repo.load_messages(sid).messages[1:] == sent, "showing changed nothing"


def test_invalid_utf8_written_by_hand(repo: FileRepository, tmp_path: Path) -> None:
    msgs = numbered(2)
    sid = seed(repo, messages=msgs).id
    path = repo.root / sid / CONVERSATION_FILE
    bad = b'{"role": "user", "content": "caf\xc3 \xff\xfe visible", '
    bad += b'"timestamp": "2025-03-01T12:00:09Z", "id": "u8"}\n'
    with path.open("ab") as fh:
        fh.write(bad)
    original = path.read_bytes()
    write_count = (repo.root / sid / METADATA_FILE).read_bytes()

    transcript = repo.load_messages(sid)
    assert transcript.messages[:2] == msgs and transcript.skipped_lines == []
    salvaged = transcript.messages[2]
    assert salvaged.id == "u8" and "visible" in salvaged.content and "\ufffd" in salvaged.content

    base = ["sessions", "--sessions-dir", str(repo.root)]
    show, search = chatcli_many([[*base, "show", sid], [*base, "search", "visible"]], cwd=tmp_path)
    # After the search: before it, the content index is (rightly) reported stale, as the
    # transcript was changed by hand; the search brings it up to date.
    doctor = chatcli([*base, "doctor", "--json"], cwd=tmp_path)
    assert show.code == 0 and "visible" in show.out, show
    assert search.code == 0 and "visible" in search.out, search
    assert doctor.code == 1, "a problem was found, so doctor exits 1"
    assert path.read_bytes() == original, "reading never rewrites the transcript"
    report = json.loads(doctor.out)
    assert [f["target"] for f in report["findings"]] == [sid], "the count (2 vs 3) is the only problem"
    assert (repo.root / sid / METADATA_FILE).read_bytes() == write_count

    repo.append_message(sid, Message(role="user", content="after", id="after"))
    assert path.read_bytes().startswith(original), "appending keeps the hand-written bytes"
    assert [m.id for m in repo.load_messages(sid).messages][-2:] == ["u8", "after"]


def test_hostile_names_and_first_messages_planted_in_metadata(repo: FileRepository, tmp_path: Path) -> None:
    """A cloned repository can plant metadata with any name; listings still show it harmlessly."""
    sid = seed(repo, messages=numbered(1)).id
    path = repo.root / sid / METADATA_FILE
    doc = json.loads(path.read_bytes())
    doc.update(name=f"{MARKUP}\x1b[2J\u202e", first_message=f"{LINK_MARKUP} \x1b]52;c;aGk=\x07")
    path.write_text(json.dumps(doc))

    base = ["sessions", "--sessions-dir", str(repo.root)]
    listed, shown = chatcli_many([[*base, "list"], [*base, "show", sid]], cwd=tmp_path)
    assert listed.code == 0 and shown.code == 0
    assert MARKUP in listed.out and "[2J" in listed.out
    assert MARKUP in shown.out
    assert RTL_OVERRIDE not in listed.out + shown.out, "a name is a one-line field"


# --------------------------------------------------------------------------- broken metadata files


def _metadata_damages(good: dict[str, Any]) -> dict[str, bytes]:
    return {
        "truncated": json.dumps(good).encode()[:45],
        "empty": b"",
        "json-array": json.dumps([good]).encode(),
        "wrong-types": json.dumps({**good, "message_count": "lots", "status": 7, "created": None}).encode(),
        "version-999": json.dumps({**good, "version": 999}).encode(),
        "count-past-sqlite": json.dumps({**good, "message_count": 1180591620717411303424}).encode(),
        "created-overflows-utc": json.dumps({**good, "created": "0001-01-01T00:00:00+14:00"}).encode(),
        "garbage-50mb": b"\x00\xffgarbage" * (50 * 1024 * 1024 // 9),
    }


def test_broken_metadata_never_hides_the_good_sessions(repo: FileRepository, tmp_path: Path) -> None:
    good = [seed(repo, messages=numbered(2), name=f"good-{i}").id for i in range(2)]
    good.append(seed(repo, messages=numbered(1), archived=True).id)
    template = json.loads((repo.root / good[0] / METADATA_FILE).read_bytes())
    bad: dict[str, str] = {}
    for kind, data in _metadata_damages(template).items():
        sid = seed(repo, messages=numbered(2)).id
        (repo.root / sid / METADATA_FILE).write_bytes(data)
        bad[kind] = sid
    before = tree(repo.root)

    base = ["sessions", "--sessions-dir", str(repo.root)]
    calls = [[*base, "list", "--all"], [*base, "list", "--all", "--json"], [*base, "search", "message"]]
    text, as_json, search = chatcli_many(calls, cwd=tmp_path)

    assert text.code == 0 and as_json.code == 0 and search.code == 0
    for sid in good:
        assert sid[:8] in text.out
    for kind, sid in bad.items():
        assert sid in text.out, f"the {kind} session is not reported"
    doc = json.loads(as_json.out)
    assert sorted(s["id"] for s in doc["sessions"]) == sorted(good)
    problems = {p["session_id"]: p for p in doc["problems"]}
    assert set(problems) == set(bad.values())
    assert problems[bad["version-999"]]["kind"] == "unsupported_version"
    assert {problems[bad[k]]["kind"] for k in bad if k != "version-999"} == {"corrupted"}
    assert tree(repo.root) == before, "listing changed nothing"

    svc = SessionService(repo)
    assert {m.id for m in svc.list_sessions(status="all").sessions} == set(good)
    for kind, sid in bad.items():
        if kind == "version-999":
            with pytest.raises(SessionError) as caught:
                svc.load(sid)
            assert "newer chatcli" in caught.value.user_message()
        else:
            loaded = svc.load(sid)  # resuming rebuilds the metadata from the transcript
            assert len(loaded.messages) == 2 and loaded.metadata.status is SessionStatus.ACTIVE
    assert (repo.root / bad["version-999"] / METADATA_FILE).read_bytes().startswith(b"{")
    assert not repo.exists(new_session_id())


# --------------------------------------------------------------------------- unforeseen failures on one item


def _inject(monkeypatch: pytest.MonkeyPatch, where: str, victim: str) -> None:
    """Make reading (or indexing) the victim's data fail with an exception nobody foresaw: the
    stand-in for the next parser bug. Only the victim's data trips it (its text holds BOOM)."""

    def boom(*_: object) -> NoReturn:
        raise RuntimeError("injected")

    if where == "metadata":
        real_meta = SessionMetadata.from_json.__func__  # type: ignore[attr-defined]

        def from_json(cls: type[SessionMetadata], data: bytes | str, **kw: Any) -> SessionMetadata:
            if "BOOM" in (data if isinstance(data, str) else data.decode("utf-8", "replace")):
                boom()
            return real_meta(cls, data, **kw)  # type: ignore[no-any-return]

        monkeypatch.setattr(SessionMetadata, "from_json", classmethod(from_json))
    elif where == "transcript-line":
        real_line = Message.model_validate_json.__func__  # type: ignore[attr-defined]

        def validate(cls: type[Message], data: bytes | str, **kw: Any) -> Message:
            if "BOOM" in (data if isinstance(data, str) else data.decode("utf-8", "replace")):
                boom()
            return real_line(cls, data, **kw)  # type: ignore[no-any-return]

        monkeypatch.setattr(Message, "model_validate_json", classmethod(validate))
    elif where == "index-row":
        monkeypatch.setattr(index_rows, "_from_iso", boom)
    elif where == "index-write":
        real_row = index_rows.row_of
        monkeypatch.setattr(index_module, "row_of", lambda m, s: boom() if m.id == victim else real_row(m, s))
    else:
        real_diagnose = doctor_module._diagnose
        monkeypatch.setattr(
            doctor_module, "_diagnose", lambda r, sid: boom() if sid == victim else real_diagnose(r, sid)
        )


def _in_process(root: Path, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_sessions(["sessions", *args, "--sessions-dir", str(root)])
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("where", ["metadata", "transcript-line", "index-row", "index-write", "doctor"])
def test_an_unforeseen_failure_on_one_session_is_that_sessions_problem(
    repo: FileRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Issue 11's pattern: whatever exception reading one session's data raises (here one nobody
    foresaw), it is reported about that session, its traceback logged; it is never an
    "Unexpected error" and it never stops the listing, the search or the doctor."""
    good = [seed(repo, f"pineapple {i}", replies=["ok"], when=at(i)).id for i in range(2)]
    victim = seed(repo, "BOOM pineapple", replies=["BOOM"], when=at(5)).id
    meta_path = repo.root / victim / METADATA_FILE
    meta_path.write_bytes(meta_path.read_bytes())  # a change the index must read back from the file
    monkeypatch.setenv("CHATCLI_LOG_DIR", str(tmp_path / "logs"))
    _inject(monkeypatch, where, victim)
    transcripts = {sid: (repo.root / sid / CONVERSATION_FILE).read_bytes() for sid in good}

    commands = [
        ("list", "--all"),
        ("search", "pineapple"),
        ("show", victim),
        ("show", good[0]),
        ("doctor",),
        ("name", victim, "victim"),
        ("doctor", "--repair"),
        ("list", "--all", "--json"),
    ]
    with confined_writes(tmp_path) as refused:
        outcomes = [_in_process(repo.root, *args) for args in commands]
    for (code, output), args in zip(outcomes, commands, strict=True):
        assert code in (0, 1, 2, 3), (args, output)
        assert "Unexpected error" not in output and "Traceback" not in output, (args, output)
    assert refused == []
    listed = json.loads(outcomes[-1][1])
    assert set(good) <= {row["id"] for row in listed["sessions"]}
    assert outcomes[3][0] == 0 and outcomes[1][0] == 0
    for sid in good:
        assert (repo.root / sid / CONVERSATION_FILE).read_bytes() == transcripts[sid]
    assert "RuntimeError: injected" in (tmp_path / "logs" / "chatcli.log").read_text()


# ------------------------------------------------------------------------- special files and oversized input


def test_a_fifo_transcript_never_stops_a_search_through_the_cli(repo: FileRepository, tmp_path: Path) -> None:
    good = seed(repo, "needle in the good one")
    bad = seed(repo, "needle in the bad one")
    transcript = repo.root / bad.id / CONVERSATION_FILE
    transcript.unlink()
    os.mkfifo(transcript)
    base = ["sessions", "--sessions-dir", str(repo.root)]

    run = chatcli([*base, "search", "needle"], cwd=tmp_path)
    assert run.code == 0, run
    assert good.id[:8] in run.out and "good one" in run.out
    assert "Warning" in run.out and bad.id in run.out
    data = json.loads(chatcli([*base, "search", "needle", "--json"], cwd=tmp_path).out)
    assert [hit["session_id"] for hit in data["hits"]] == [good.id]
    assert len(data["warnings"]) == 1 and bad.id in data["warnings"][0]


#: Files ``sessions import`` must refuse with a clear message (never read forever, never a traceback).
SPECIAL_IMPORTS = ("/dev/zero", "/proc/self/mem", "/proc/self/status", "fifo")


def test_hostile_import_files_through_the_cli(repo: FileRepository, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    base = ["sessions", "--sessions-dir", str(repo.root)]
    for name in SPECIAL_IMPORTS:
        run = chatcli([*base, "import", str(fifo) if name == "fifo" else name], cwd=tmp_path)
        assert run.code == 1, run
        assert "regular file" in run.err and "Unexpected error" not in run.err, run
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000, encoding="utf-8")
    run = chatcli([*base, "import", str(deep), "--json"], cwd=tmp_path)
    assert run.code == 1, run  # a record that could not be imported: exit 1, with its reason
    assert "deep" in json.loads(run.out)["skipped"][0]["reason"]
    mixed = tmp_path / "mixed.jsonl"
    records = [
        {"messages": [{"role": "user", "content": content, "timestamp": stamp}]}
        for content, stamp in (("one", "2025-01-01T00:00:00Z"), ("two", "9999-12-31T23:59:59-14:00"))
    ]
    records.append({"messages": [{"role": "user", "content": "three", "timestamp": "2025-01-02T00:00:00Z"}]})
    mixed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    run = chatcli([*base, "import", str(mixed), "--json"], cwd=tmp_path)
    assert run.code == 1, run
    data = json.loads(run.out)
    assert [s["first_message"] for s in data["imported"]] == ["one", "three"]
    assert [s["source"] for s in data["skipped"]] == ["record 2"]


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [500, 100_000])
def test_deeply_nested_custom_fields_cost_only_their_session(
    repo: FileRepository, tmp_path: Path, depth: int
) -> None:
    good = seed(repo, "the good one")
    bad = seed(repo, "the deep one", messages=numbered(3))
    path = repo.root / bad.id / METADATA_FILE
    text = path.read_text(encoding="utf-8").replace(
        '"custom_fields": {}', '"custom_fields": {"x": ' + _deep(depth) + "}"
    )
    assert _deep(depth) in text
    path.write_text(text, encoding="utf-8")
    base = ["sessions", "--sessions-dir", str(repo.root)]

    listing = json.loads(chatcli([*base, "list", "--json"], cwd=tmp_path).out)
    assert [s["id"] for s in listing["sessions"]] == [good.id]
    assert [p["session_id"] for p in listing["problems"]] == [bad.id]
    repaired = chatcli([*base, "doctor", "--repair"], cwd=tmp_path)
    assert repaired.code == 0, repaired
    assert "Unexpected error" not in repaired.out + repaired.err
    after = json.loads(chatcli([*base, "list", "--json"], cwd=tmp_path).out)
    assert {s["id"] for s in after["sessions"]} == {good.id, bad.id} and after["problems"] == []
    assert repo.load_messages(bad.id).messages == repo.load_messages(bad.id).messages[:3]
    assert len(repo.load_messages(bad.id).messages) == 3


def test_deep_custom_fields_in_an_import_or_the_index_are_refused(
    repo: FileRepository, tmp_path: Path
) -> None:
    kept = seed(repo, "kept")
    record = {
        "messages": [{"role": "user", "content": "deep"}],
        "custom_fields": {"x": json.loads(_deep(500))},
    }
    doc = {"format": "chatcli-session", "version": 1, "session": {"id": new_session_id(), **record}, **record}
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    base = ["sessions", "--sessions-dir", str(repo.root)]
    data = json.loads(chatcli([*base, "import", str(path), "--json"], cwd=tmp_path).out)
    assert data["imported"] == [] and "custom_fields" in data["skipped"][0]["reason"]
    repo.list_briefs()
    repo.close()
    conn = sqlite3.connect(repo.root / INDEX_DIR / INDEX_FILE, isolation_level=None)
    conn.execute("UPDATE sessions SET custom = ? WHERE id = ?", (_deep(100_000), kept.id))
    conn.close()
    listing = json.loads(chatcli([*base, "list", "--json"], cwd=tmp_path).out)
    assert [s["id"] for s in listing["sessions"]] == [kept.id]
    assert listing["sessions"][0]["custom_fields"] == {}
