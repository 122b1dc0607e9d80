"""Every kind of damage the doctor must find and repair, built on disk by hand next to healthy
sessions: each a :class:`Case` saying what the doctor must report, keep and quarantine."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from chatcli.session.models import Message, SessionStatus, new_session_id
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers.factories import BASE, numbered, seed

QUARANTINE = ".quarantine"
FIFTY_MB = 50 * 1024 * 1024


# --------------------------------------------------------------------------- helpers


def quarantined_blobs(repo: FileRepository) -> list[bytes]:
    """The content of every file under ``.quarantine/`` (folders moved there included)."""
    folder = repo.root / QUARANTINE
    if not folder.is_dir():
        return []
    return [p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]


def write_metadata_json(repo: FileRepository, sid: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit the session's metadata.json as plain JSON (bypassing validation)."""
    path = repo.root / sid / METADATA_FILE
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def conv_path(repo: FileRepository, sid: str) -> Path:
    return repo.root / sid / CONVERSATION_FILE


# --------------------------------------------------------------------------- the damages


@dataclass
class Case:
    """One damaged thing and what the doctor must do about it."""

    target: str
    problem: str
    repairable: bool = True
    #: Informational only (a folder chatcli does not own): never makes the report unhealthy.
    note: bool = False
    #: Exact file contents that must be found in ``.quarantine/`` after the repair.
    quarantined: list[bytes] = field(default_factory=list)
    #: Complete messages that must still load, in order, after the repair.
    messages: dict[str, list[Message]] = field(default_factory=dict)
    #: Paths whose whole tree must be unchanged by the repair.
    untouched: list[Path] = field(default_factory=list)
    #: Further checks after the repair.
    check: Callable[[FileRepository], None] | None = None
    #: Other targets the same damage is reported under (e.g. the lock file an interrupted write left).
    also: list[str] = field(default_factory=list)


Build = Callable[[FileRepository, Path], Case]


def torn_tail(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    torn = b'{"role": "user", "content": "half a mess'
    with conv_path(repo, sid).open("ab") as fh:
        fh.write(torn)
    return Case(sid, "last line of the transcript is incomplete", quarantined=[torn], messages={sid: msgs})


def missing_final_newline(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    path = conv_path(repo, sid)
    path.write_bytes(path.read_bytes()[:-1])

    def check(repo: FileRepository) -> None:
        assert conv_path(repo, sid).read_bytes().count(b"\n") == 3

    # A complete message: reported as such (never as an interrupted write), mended, never set aside.
    return Case(sid, "last message of the transcript has no line end", messages={sid: msgs}, check=check)


def bad_lines_in_the_middle(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(4)
    sid = seed(repo, messages=msgs).id
    path = conv_path(repo, sid)
    lines = path.read_bytes().split(b"\n")[:-1]
    bad = [b"this is not json at all", b'{"role": "robot", "content": 1}']
    path.write_bytes(b"\n".join([lines[0], bad[0], lines[1], lines[2], bad[1], lines[3]]) + b"\n")
    return Case(
        sid,
        "2 unreadable transcript line(s): 2, 5",
        quarantined=[b"".join(line + b"\n" for line in bad)],
        messages={sid: msgs},
    )


def metadata_damage(kind: str) -> Build:
    def build(repo: FileRepository, outside: Path) -> Case:
        msgs = numbered(3)
        sid = seed(repo, messages=msgs, name="keep-me", archived=True).id
        path = repo.root / sid / METADATA_FILE
        good = json.loads(path.read_bytes())
        broken = {
            "truncated": path.read_bytes()[:57],
            "empty": b"",
            "json-array": json.dumps([good]).encode(),
            "wrong-types": json.dumps({**good, "message_count": "many", "created": [1]}).encode(),
            "garbage-50mb": bytes(range(256)) * (FIFTY_MB // 256),
        }[kind]
        path.write_bytes(broken)
        salvaged = kind == "wrong-types"

        def check(repo: FileRepository) -> None:
            meta = repo.get(sid)
            assert meta.message_count == 3 and meta.first_message == "message 0"
            assert meta.last_active == msgs[-1].timestamp
            expected = ("keep-me", SessionStatus.ARCHIVED) if salvaged else (None, SessionStatus.ACTIVE)
            assert (meta.name, meta.status) == expected

        return Case(sid, "metadata: ", quarantined=[broken], messages={sid: msgs}, check=check)

    build.__name__ = f"metadata_{kind}"
    return build


def future_version(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(3)).id
    write_metadata_json(repo, sid, lambda doc: doc.update(version=999, shiny_new_field=[1, 2]))
    with conv_path(repo, sid).open("ab") as fh:
        fh.write(b'{"torn": ')  # even a repairable problem is left alone in a newer session
    return Case(sid, "newer chatcli", repairable=False, untouched=[repo.root / sid])


def count_disagrees(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    write_metadata_json(repo, sid, lambda doc: doc.update(message_count=99))

    def check(repo: FileRepository) -> None:
        assert repo.get(sid).message_count == 3

    return Case(sid, "metadata counts 99 messages, the transcript holds 3", messages={sid: msgs}, check=check)


def last_active_behind(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(3)
    sid = seed(repo, messages=msgs).id
    write_metadata_json(repo, sid, lambda doc: doc.update(last_active=(BASE - timedelta(days=1)).isoformat()))

    def check(repo: FileRepository) -> None:
        assert repo.get(sid).last_active == msgs[-1].timestamp

    return Case(sid, "last_active is older than the last message", messages={sid: msgs}, check=check)


def stray_temp_file(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(2)
    sid = seed(repo, messages=msgs).id
    leftover = (repo.root / sid / METADATA_FILE).read_bytes()[:30]
    (repo.root / sid / f".{METADATA_FILE}.4242.deadbeef.tmp").write_bytes(leftover)

    def check(repo: FileRepository) -> None:
        assert [p for p in (repo.root / sid).iterdir() if p.name.endswith(".tmp")] == []

    return Case(sid, "stray temporary file", quarantined=[leftover], messages={sid: msgs}, check=check)


def stale_lock(repo: FileRepository, outside: Path) -> Case:
    gone = new_session_id()
    lock = repo.root / ".locks" / f"{gone}.lock"
    lock.write_bytes(b"")

    def check(repo: FileRepository) -> None:
        assert not lock.exists()

    return Case(lock.name, "a lock file of a session that no longer exists", check=check)


def staging_leftover(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(2)).id
    staging = repo.root / f".staging-{sid}-abcd1234"
    os.rename(repo.root / sid, staging)  # a fork killed before its final rename (it takes no lock)
    blobs = [(staging / CONVERSATION_FILE).read_bytes(), (staging / METADATA_FILE).read_bytes()]

    def check(repo: FileRepository) -> None:
        assert not staging.exists()
        assert not (repo.root / ".locks" / f"{sid}.lock").exists()

    return Case(staging.name, "interrupted before it finished", quarantined=blobs, check=check)


def deleted_leftover(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(2)).id
    doomed = repo.root / f".deleted-{sid}-abcd1234"
    with repo.session_lock(sid):  # a delete holds the session's lock: its lock file stays
        pass
    os.rename(repo.root / sid, doomed)  # a delete killed right after its rename

    def check(repo: FileRepository) -> None:
        assert not doomed.exists()
        assert not (repo.root / ".locks" / f"{sid}.lock").exists()

    return Case(doomed.name, "a deletion that was interrupted", check=check, also=[f"{sid}.lock"])


def wrong_permissions(repo: FileRepository, outside: Path) -> Case:
    msgs = numbered(2)
    sid = seed(repo, messages=msgs).id
    folder = repo.root / sid
    for name in (METADATA_FILE, CONVERSATION_FILE):
        (folder / name).chmod(0o644)
    folder.chmod(0o755)

    def check(repo: FileRepository) -> None:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in (METADATA_FILE, CONVERSATION_FILE):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600

    return Case(sid, "has permissions 644 instead of 600", messages={sid: msgs}, check=check)


def symlinked_session_folder(repo: FileRepository, outside: Path) -> Case:
    elsewhere = FileRepository(outside / "other-sessions")
    sid = seed(elsewhere, messages=numbered(2)).id
    with conv_path(elsewhere, sid).open("ab") as fh:
        fh.write(b'{"torn')  # bait: a repair through the link would write outside
    elsewhere.close()  # its own index connection must not change the snapshot later
    os.symlink(elsewhere.root / sid, repo.root / sid)
    return Case(sid, "symbolic link", repairable=False, untouched=[outside, repo.root / sid])


def symlinked_metadata_file(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(2)).id
    target = outside / "planted.json"
    target.write_bytes(b"[not metadata")
    (repo.root / sid / METADATA_FILE).unlink()
    os.symlink(target, repo.root / sid / METADATA_FILE)
    return Case(sid, "symbolic link", repairable=False, untouched=[outside])


def fifo_transcript(repo: FileRepository, outside: Path) -> Case:
    sid = seed(repo, messages=numbered(2)).id
    conv_path(repo, sid).unlink()
    os.mkfifo(conv_path(repo, sid), 0o600)
    return Case(sid, "not a regular file", repairable=False)


def empty_session_folder(repo: FileRepository, outside: Path) -> Case:
    sid = new_session_id()
    (repo.root / sid).mkdir(mode=0o700)
    leftover = b'{"id": "half-written metadata'
    (repo.root / sid / f".{METADATA_FILE}.77.cafebabe.tmp").write_bytes(leftover)

    def check(repo: FileRepository) -> None:
        assert not (repo.root / sid).exists()
        assert sid not in {m.id for m in repo.list()}

    return Case(sid, "holds no session files", quarantined=[leftover], check=check)


def non_session_folder(repo: FileRepository, outside: Path) -> Case:
    notes = repo.root / "my-notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    return Case("my-notes", "not a session folder", repairable=False, note=True, untouched=[notes])


DAMAGES: list[Build] = [
    torn_tail,
    missing_final_newline,
    bad_lines_in_the_middle,
    *(metadata_damage(k) for k in ("truncated", "empty", "json-array", "wrong-types", "garbage-50mb")),
    future_version,
    count_disagrees,
    last_active_behind,
    stray_temp_file,
    stale_lock,
    staging_leftover,
    deleted_leftover,
    wrong_permissions,
    symlinked_session_folder,
    symlinked_metadata_file,
    fifo_transcript,
    empty_session_folder,
    non_session_folder,
]


def check_after_repair(repo: FileRepository, cases: list[Case], good: Mapping[str, list[Message]]) -> None:
    """Nothing lost: every complete message loads, every broken byte is in quarantine."""
    for sid, msgs in {**good, **{k: v for c in cases for k, v in c.messages.items()}}.items():
        transcript = repo.load_messages(sid)
        assert transcript.messages == msgs, sid
        assert transcript.skipped_lines == [] and not transcript.torn_tail
        assert repo.get(sid).message_count == len(msgs)
    blobs = quarantined_blobs(repo)
    for case in cases:
        for blob in case.quarantined:
            assert blob in blobs, f"{case.target}: {len(blob)} bytes missing from quarantine"
        if case.check is not None:
            case.check(repo)
