"""Hostile input: broken metadata, unforeseen failures on one session, special files, hostile
import files and deeply nested custom fields.

Everything goes through the session service and through the real ``chatcli sessions`` command line
(a subprocess with no terminal). Every hostile input must be rejected with a clear message or
handled; never a traceback, never a raw control on the screen."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, NoReturn

import pytest

from chatcli.cli import run_sessions
from chatcli.session.errors import SessionError
from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository, index_rows
from chatcli.session.store import doctor as doctor_module
from chatcli.session.store import index as index_module
from chatcli.session.store.layout import CONVERSATION_FILE, INDEX_DIR, INDEX_FILE, METADATA_FILE
from tests.helpers import at, chatcli, chatcli_many, confined_writes, numbered, seed, tree

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
