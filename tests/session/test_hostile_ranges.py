"""Out-of-range values: huge counts, timestamps that overflow, planted index rows.

A value that is well-formed JSON but out of range (a message count past what SQLite can hold, a
time that overflows when converted to UTC or to local time) makes its ONE session corrupted,
named in listings and the doctor; every other session keeps working, the doctor rebuilds the
damaged one from its transcript, and rendering never raises whatever the time zone.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from chatcli.errors import ExitCode
from chatcli.render.timefmt import absolute_time, iso_utc, relative_age, short_id
from chatcli.session.errors import CorruptedSession
from chatcli.session.fields import TIMESTAMP_MAX, TIMESTAMP_MIN, check_timestamp
from chatcli.session.models import Message, SessionMetadata
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from chatcli.session.store.doctor import run_doctor
from chatcli.session.store.layout import CONVERSATION_FILE, INDEX_DIR, INDEX_FILE, METADATA_FILE
from chatcli.session.transcript import parse_transcript
from tests.helpers import TEST_LOCK_TIMEOUT, Run, chatcli, numbered, seed, tree

#: Time zones furthest from UTC on either side: local-time conversions overflow first there.
FAR_ZONES = ("Pacific/Kiritimati", "America/Adak")

#: Values a hand-edited or planted ``metadata.json`` may hold that are valid JSON but out of range.
OUT_OF_RANGE: dict[str, tuple[str, Any]] = {
    "huge-message-count": ("message_count", 1180591620717411303424),
    "huge-file-count": ("file_count", 2**64),
    "created-overflows-utc": ("created", "0001-01-01T00:00:00+14:00"),
    "active-overflows-utc": ("last_active", "9999-12-31T23:59:59-14:00"),
    "active-year-9999": ("last_active", "9999-12-31T23:59:59Z"),
    "created-year-1": ("created", "0001-01-01T00:00:00Z"),
    "created-before-1970": ("created", "1969-12-31T23:59:59Z"),
}


def chatcli_many(
    calls: Sequence[Sequence[str]], *, cwd: Path, env: Mapping[str, str] | None = None
) -> list[Run]:
    """Several independent ``chatcli`` runs in parallel."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: chatcli(args, cwd=cwd, env=env), calls))


def _plant_copied_in(repo: FileRepository, tmp_path: Path, field: str, value: Any) -> str:
    """A session whose metadata holds ``field: value``, copied into the folder by hand (so the
    next reader or writer indexes it)."""
    elsewhere = FileRepository(tmp_path / "elsewhere", lock_timeout=TEST_LOCK_TIMEOUT)
    sid = seed(elsewhere, messages=numbered(3, start=datetime(2025, 2, 1, tzinfo=UTC))).id
    path = elsewhere.root / sid / METADATA_FILE
    doc = json.loads(path.read_bytes())
    doc[field] = value
    path.write_text(json.dumps(doc))
    os.rename(elsewhere.root / sid, repo.root / sid)
    return sid


@pytest.mark.parametrize("case", list(OUT_OF_RANGE), ids=list(OUT_OF_RANGE))
def test_out_of_range_metadata_is_one_corrupted_session_through_the_cli(
    repo: FileRepository, tmp_path: Path, case: str
) -> None:
    good = seed(repo, messages=numbered(2), name="good").id
    other = seed(repo, messages=numbered(2), name="other").id
    field, value = OUT_OF_RANGE[case]
    bad = _plant_copied_in(repo, tmp_path, field, value)
    base = ["sessions", "--sessions-dir", str(repo.root)]
    env = {"TZ": "Pacific/Kiritimati"}

    listed, as_json, search, show, named, doctor = chatcli_many(
        [
            [*base, "list", "--all"],
            [*base, "list", "--all", "--json"],
            [*base, "search", "message"],
            [*base, "show", good],
            [*base, "name", other, "renamed"],
            [*base, "doctor"],
        ],
        cwd=tmp_path,
        env=env,
    )

    assert listed.code == 0 and bad in listed.out and good[:8] in listed.out, listed
    doc = json.loads(as_json.out)
    assert {s["id"] for s in doc["sessions"]} >= {good, other}
    assert bad not in {s["id"] for s in doc["sessions"]}
    assert [(p["session_id"], p["kind"]) for p in doc["problems"]] == [(bad, "corrupted")]
    assert search.code == 0 and good[:8] in search.out and other[:8] in search.out, search
    assert show.code == 0 and "message 1" in show.out, show
    assert named.code == 0 and "renamed" in named.out, named
    assert doctor.code == 1 and bad[:8] in doctor.out, doctor

    repaired = chatcli([*base, "doctor", "--repair"], cwd=tmp_path, env=env)
    assert repaired.code == 0, repaired
    meta = repo.get(bad)
    assert meta.message_count == 3 and meta.created.year == 2025 and meta.last_active.year == 2025
    after = chatcli([*base, "list", "--all", "--json"], cwd=tmp_path, env=env)
    assert {s["id"] for s in json.loads(after.out)["sessions"]} == {good, other, bad}


@pytest.mark.parametrize("case", list(OUT_OF_RANGE), ids=list(OUT_OF_RANGE))
def test_out_of_range_metadata_never_stops_a_write_to_another_session(
    repo: FileRepository, tmp_path: Path, case: str
) -> None:
    """The REPL saving a message in another session, the first write after the bad one came in."""
    good = seed(repo, messages=numbered(2), name="good").id
    field, value = OUT_OF_RANGE[case]
    bad = _plant_copied_in(repo, tmp_path, field, value)
    fresh = FileRepository(repo.root, lock_timeout=TEST_LOCK_TIMEOUT)
    svc = SessionService(fresh)

    svc.append(good, Message(role="user", content="still saved"))

    assert fresh.load_messages(good).messages[-1].content == "still saved"
    assert fresh.get(good).message_count == 3
    with pytest.raises(CorruptedSession) as caught:
        fresh.get(bad)
    assert bad in caught.value.user_message()
    listing = svc.list_sessions(status="all")
    assert [m.id for m in listing.sessions] == [good]
    assert [e.session_id for e in listing.problems] == [bad]
    report = run_doctor(fresh, repair=True)
    assert bad in [f.target for f in report.findings]
    assert fresh.get(bad).message_count == 3


def test_metadata_model_bounds_counts_and_times() -> None:
    good = SessionMetadata.new("00000000-0000-4000-8000-000000000000", "hi").model_dump(mode="json")
    for field, value in OUT_OF_RANGE.values():
        with pytest.raises(ValueError):
            SessionMetadata.model_validate({**good, field: value})
    at_edges = SessionMetadata.model_validate(
        {**good, "created": TIMESTAMP_MIN, "last_active": TIMESTAMP_MAX}
    )
    assert at_edges.created == TIMESTAMP_MIN and at_edges.last_active == TIMESTAMP_MAX
    with pytest.raises(ValueError, match="out of range"):
        check_timestamp(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))))


# --------------------------------------------------------------------------- transcript timestamps


BAD_TIMES = (
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59Z",
    "1960-01-01T00:00:00Z",
)


@pytest.mark.parametrize("when", BAD_TIMES)
def test_a_transcript_time_out_of_range_is_one_unreadable_line(
    repo: FileRepository, tmp_path: Path, when: str
) -> None:
    sid = seed(repo, messages=numbered(2), name="victim").id
    other = seed(repo, messages=numbered(2), name="other").id
    line = json.dumps({"role": "user", "content": "far away", "timestamp": when, "id": "far"})
    with (repo.root / sid / CONVERSATION_FILE).open("a") as fh:
        fh.write(line + "\n")
    data = (repo.root / sid / CONVERSATION_FILE).read_bytes()
    assert parse_transcript(data).skipped_lines == [3]
    assert repo.load_messages(sid).skipped_lines == [3]

    base = ["sessions", "--sessions-dir", str(repo.root)]
    show, search, doctor = chatcli_many(
        [[*base, "show", sid], [*base, "search", "message"], [*base, "doctor"]],
        cwd=tmp_path,
        env={"TZ": "America/Adak"},
    )
    assert show.code == 0 and "line" in show.out + show.err and "3" in show.out + show.err, show
    assert search.code == 0 and other[:8] in search.out, search
    assert doctor.code == 1 and sid[:8] in doctor.out, doctor


# --------------------------------------------------------------------------- rendering never raises


EXTREMES = (
    datetime.min,
    datetime.max,
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
    datetime(1970, 1, 1, tzinfo=UTC),
    TIMESTAMP_MIN,
    TIMESTAMP_MAX,
)


@pytest.fixture(params=FAR_ZONES)
def far_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's local time zone set to one far from UTC (restored afterwards)."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("when", EXTREMES, ids=str)
def test_rendering_a_time_never_raises(far_zone: str, when: datetime) -> None:
    now = datetime.now(UTC)
    for text in (relative_age(when), relative_age(when, now), absolute_time(when), iso_utc(when)):
        assert isinstance(text, str) and text
    assert relative_age(now, when)  # a "now" at the edge too


def test_rendering_extremes_in_a_child_with_a_far_time_zone(tmp_path: Path) -> None:
    code = (
        "from datetime import *\n"
        "from chatcli.render.timefmt import *\n"
        "z = [timezone(timedelta(hours=h)) for h in (-14, 0, 14)]\n"
        "for d in (datetime.min, datetime.max):\n"
        "    for t in [None, *z]:\n"
        "        w = d.replace(tzinfo=t)\n"
        "        print(relative_age(w), absolute_time(w), iso_utc(w))\n"
    )
    for zone in FAR_ZONES:
        env = {**os.environ, "TZ": zone}
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, env=env, cwd=tmp_path, timeout=60, check=False
        )
        assert proc.returncode == 0, proc.stderr.decode()
        assert len(proc.stdout.decode().splitlines()) == 8


def test_an_import_with_a_time_out_of_range_is_refused_and_lists_keep_working(
    repo: FileRepository, tmp_path: Path
) -> None:
    good = seed(repo, messages=numbered(2), name="good").id
    exported = json.loads(SessionService(repo).export(good))
    exported["session"]["id"] = "11111111-1111-4111-8111-111111111111"
    exported["session"]["name"] = None
    exported["session"]["last_active"] = "9999-12-31T23:59:59Z"
    path = tmp_path / "far.json"
    path.write_text(json.dumps(exported))
    base = ["sessions", "--sessions-dir", str(repo.root)]

    for zone in FAR_ZONES:
        imported = chatcli([*base, "import", str(path)], cwd=tmp_path, env={"TZ": zone})
        assert "last_active" in imported.out + imported.err, imported
        runs = chatcli_many(
            [[*base, "list"], [*base, "show", good], [*base, "search", "message"]],
            cwd=tmp_path,
            env={"TZ": zone},
        )
        assert all(run.code == 0 for run in runs), runs
    assert not repo.exists("11111111-1111-4111-8111-111111111111")


# --------------------------------------------------------------------------- planted index rows


def _plant_row(repo: FileRepository, **values: object) -> None:
    row: dict[str, object] = {
        "id": "\x1b[2Jdeadbeef-0000-4000-8000-000000000000",
        "status": "active",
        "last_active": "9999-01-01T00:00:00.000000Z",
        "name": None,
        "name_lower": None,
        "first_message": "planted",
        "first_lower": "planted",
        "message_count": 1,
        "created": "2025-01-01T00:00:00+00:00",
        "file_count": 0,
        "custom": None,
        "pinned": 0,
        "tags": None,
        "meta": "{}",
        "stamp": "",
    }
    row.update(values)
    conn = sqlite3.connect(repo.root / INDEX_DIR / INDEX_FILE)
    with conn:
        columns = ", ".join(row)  # the columns not named (added since) keep their defaults
        conn.execute(
            f"INSERT INTO sessions ({columns}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
    conn.close()


PLANTED_ROWS: dict[str, dict[str, object]] = {
    "escape-in-id": {},
    "escape-in-name": {"id": "deadbeef-0000-4000-8000-000000000000", "name": "x\x1b[2J", "name_lower": "x"},
    "created-overflows": {
        "id": "deadbeef-0000-4000-8000-000000000000",
        "created": "0001-01-01T00:00:00+14:00",
    },
    "huge-count": {"id": "deadbeef-0000-4000-8000-000000000000", "message_count": "1" * 30},
    "phantom-session": {"id": "deadbeef-0000-4000-8000-000000000000", "last_active": "2030-01-01T00:00:00Z"},
    "wrong-status": {"id": "deadbeef-0000-4000-8000-000000000000", "status": "\x1b[2J"},
    "escape-in-tags": {"id": "deadbeef-0000-4000-8000-000000000000", "tags": ",ok,\x1b[2J,"},
    "pinned-not-a-flag": {"id": "deadbeef-0000-4000-8000-000000000000", "pinned": 1.0},
}


@pytest.mark.parametrize("case", list(PLANTED_ROWS), ids=list(PLANTED_ROWS))
def test_a_planted_index_row_never_reaches_the_screen(
    repo: FileRepository, tmp_path: Path, case: str
) -> None:
    good = seed(repo, messages=numbered(2), name="good").id
    _plant_row(repo, **PLANTED_ROWS[case])
    before = tree(tmp_path / "home")
    base = ["sessions", "--sessions-dir", str(repo.root)]
    runs = chatcli_many(
        [
            [*base, "list", "--all"],
            [*base, "list", "--json"],
            [*base, "show", "dead"],
            [*base, "search", "x"],
        ],
        cwd=tmp_path,
        env={"TZ": "Pacific/Kiritimati"},
    )
    listed = runs[0]
    assert listed.code == 0 and good[:8] in listed.out, listed
    assert "deadbeef" not in listed.out and "planted" not in listed.out, listed
    assert [s["id"] for s in json.loads(runs[1].out)["sessions"]] == [good]
    assert runs[2].code == ExitCode.USER, runs[2]
    assert runs[3].code == 0, runs[3]
    assert tree(tmp_path / "home") == before


def test_short_id_shows_a_planted_id_literally() -> None:
    assert short_id("\x1b[2J\x1b]52;c;aGk=\x07") == "␛[2J␛]52"
    assert "\x1b" not in short_id("\x1b" * 20)


def test_a_row_sqlite_cannot_hold_marks_its_session_instead_of_failing_the_others(
    repo: FileRepository,
) -> None:
    """The index's own guard, for a value the model would never let through."""
    from chatcli.session.store.index import SessionIndex

    good = seed(repo, messages=numbered(2)).id
    index = SessionIndex(repo.root)
    fine = repo.get(good)
    huge = SessionMetadata.model_construct(
        **{**dict(fine), "id": "0" * 8 + fine.id[8:], "message_count": 2**70}
    )

    assert index.store(huge, "stamp") is False
    assert huge.id in index.dirty_ids() and huge.id not in index.ids()
    assert index.store_many([(huge, "s"), (fine, "s")], clear=[fine.id]) == [huge.id]
    assert good in index.ids() and good not in index.dirty_ids()
    index.close()


@pytest.mark.parametrize("when", BAD_TIMES)
def test_an_import_record_with_a_message_time_out_of_range_is_skipped_alone(
    repo: FileRepository, tmp_path: Path, when: str
) -> None:
    def record(sid: str, stamp: str) -> dict[str, Any]:
        message = {"role": "user", "content": f"hello {sid[:4]}", "timestamp": stamp}
        return {"id": sid, "messages": [message]}

    ids = [f"{n}{n}{n}{n}0000-0000-4000-8000-000000000000" for n in (1, 2, 3)]
    lines = [
        record(ids[0], "2025-01-01T00:00:00Z"),
        record(ids[1], when),
        record(ids[2], "2025-01-02T00:00:00Z"),
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    result = SessionService(repo).import_file(path)

    assert sorted(m.id for m in result.imported) == [ids[0], ids[2]]
    assert len(result.skipped) == 1
    assert not repo.exists(ids[1])
