"""FileRepository: on-disk layout, discovery, durability, damaged files, hostile paths, permissions."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatcli.session.errors import (
    ConcurrentModification,
    CorruptedSession,
    PermissionDenied,
    SessionAlreadyExists,
    SessionError,
    SessionNotFound,
    StorageError,
    UnsafePath,
    UnsupportedVersion,
)
from chatcli.session.location import ENV_SESSIONS_DIR, discover_sessions_dir
from chatcli.session.models import Message, SessionMetadata, SessionStatus, new_session_id
from chatcli.session.repository import SessionFilter
from chatcli.session.store import FileRepository, durable
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers import (
    LineReader,
    assistant,
    confined_writes,
    locked_out,
    make_meta,
    run_unprivileged,
    snapshot,
    spawn_worker,
    transcript_lines,
    user,
)

QUARANTINE = ".quarantine"


def _session_with_messages(repo: FileRepository, count: int = 3, **meta_args: Any) -> SessionMetadata:
    meta = make_meta("", **meta_args)
    repo.save(meta)
    for i in range(count):
        meta = repo.append_message(meta.id, user(f"question {i}") if i % 2 == 0 else assistant(f"answer {i}"))
    return meta


def _quarantined(repo: FileRepository) -> dict[str, bytes]:
    folder = repo.root / QUARANTINE
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


# --------------------------------------------------------------------------- layout


def test_on_disk_layout(repo: FileRepository) -> None:
    meta = make_meta("hi", name="layout")
    repo.save(meta)
    repo.append_message(meta.id, user("hi"))
    repo.append_message(meta.id, assistant("hello"))

    names = set(os.listdir(repo.root))
    assert {".gitignore", ".locks", meta.id} <= names
    assert all(n.startswith(".") for n in names - {meta.id}), names
    assert (repo.root / ".gitignore").read_text() == "*\n"
    assert sorted(os.listdir(repo.root / meta.id)) == [CONVERSATION_FILE, METADATA_FILE]

    on_disk = json.loads((repo.root / meta.id / METADATA_FILE).read_text())
    assert on_disk["id"] == meta.id and on_disk["version"] == 2 and on_disk["message_count"] == 2
    lines = transcript_lines(repo, meta.id)
    assert [json.loads(line)["role"] for line in lines] == ["user", "assistant"]


def test_first_write_creates_missing_parents(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "a" / "b" / "sessions")
    repo.save(make_meta())
    assert (tmp_path / "a" / "b" / "sessions" / ".gitignore").read_text() == "*\n"


def test_nothing_is_created_on_read(tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    for repo in (
        FileRepository(tmp_path / "sessions"),
        FileRepository(discover_sessions_dir(cwd=tmp_path, environ={})),
    ):
        sid = new_session_id()
        assert repo.list() == [] and repo.list().problems == []
        assert not repo.exists(sid)
        with pytest.raises(SessionNotFound):
            repo.get(sid)
        with pytest.raises(SessionNotFound):
            repo.load_messages(sid)
    assert snapshot(tmp_path) == before


def test_reads_do_not_change_an_existing_tree(repo: FileRepository) -> None:
    meta = _session_with_messages(repo)
    before = snapshot(repo.root)
    repo.list()
    repo.get(meta.id)
    repo.exists(meta.id)
    repo.load_messages(meta.id)
    assert snapshot(repo.root) == before


def test_list_ignores_hidden_and_foreign_entries(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 1)
    (repo.root / "notes").mkdir()
    (repo.root / "README.txt").write_text("mine")
    (repo.root / f".staging-{new_session_id()}").mkdir()
    (repo.root / new_session_id()).mkdir()  # an empty session folder: not a session (yet)

    listed = repo.list()
    assert [m.id for m in listed] == [meta.id]
    assert listed.problems == []


def test_exists_with_only_a_transcript(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 1)
    (repo.root / meta.id / METADATA_FILE).unlink()
    assert repo.exists(meta.id)


# --------------------------------------------------------------------------- discovery


def test_discovery_order(tmp_path: Path) -> None:
    project = tmp_path / "project"
    deep = project / "pkg" / "sub" / "deeper"
    deep.mkdir(parents=True)
    (project / ".git").mkdir()

    assert discover_sessions_dir(cwd=deep, environ={}).path == project / ".amazonq" / "sessions"
    assert discover_sessions_dir(cwd=deep, environ={}).source == "git"

    # An .amazonq above the nearest .git is not used: the project root bounds the search.
    (tmp_path / ".amazonq").mkdir()
    (project / "pkg" / ".git").write_text("gitdir: elsewhere\n")  # a worktree's .git file counts too
    found = discover_sessions_dir(cwd=deep, environ={})
    assert (found.path, found.source) == (project / "pkg" / ".amazonq" / "sessions", "git")

    # Inside the project, .amazonq beats .git.
    (project / "pkg" / ".amazonq").mkdir()
    found = discover_sessions_dir(cwd=deep, environ={})
    assert (found.path, found.source) == (project / "pkg" / ".amazonq" / "sessions", "amazonq")
    assert found.guarded == (project / "pkg" / ".amazonq", project / "pkg" / ".amazonq" / "sessions")

    # The nearest .amazonq wins.
    (project / "pkg" / "sub" / ".amazonq").mkdir()
    assert (
        discover_sessions_dir(cwd=deep, environ={}).path == project / "pkg" / "sub" / ".amazonq" / "sessions"
    )

    # The environment beats the tree; a relative value is taken from cwd.
    env = {ENV_SESSIONS_DIR: "rel/env-sessions"}
    found = discover_sessions_dir(cwd=deep, environ=env)
    assert (found.path, found.source, found.guarded) == (deep / "rel/env-sessions", "env", (found.path,))

    # The explicit folder beats everything; an empty value counts as not given.
    found = discover_sessions_dir(tmp_path / "explicit", cwd=deep, environ=env)
    assert (found.path, found.source) == (tmp_path / "explicit", "flag")
    assert discover_sessions_dir("", cwd=deep, environ=env).source == "env"
    assert discover_sessions_dir(cwd=deep, environ={ENV_SESSIONS_DIR: ""}).source == "amazonq"
    # Without any .git, the nearest .amazonq anywhere above is used.
    (project / "pkg" / ".git").unlink()
    (project / ".git").rmdir()
    shutil.rmtree(project / "pkg" / ".amazonq")
    shutil.rmtree(project / "pkg" / "sub" / ".amazonq")
    assert discover_sessions_dir(cwd=deep, environ={}).path == tmp_path / ".amazonq" / "sessions"

    assert snapshot(tmp_path / "explicit") == {}, "discovery never creates anything"
    assert not (deep / "rel").exists()


def test_discovery_falls_back_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Wherever the temp folder is, a project marker (.git, .amazonq) above it stays unseen: the
    # test needs a folder with no project around it.
    real_lexists = os.path.lexists

    def lexists(path: str | os.PathLike[str]) -> bool:
        where = Path(path)
        if where.name in (".amazonq", ".git") and not where.parent.is_relative_to(tmp_path):
            return False
        return real_lexists(path)

    monkeypatch.setattr(os.path, "lexists", lexists)
    found = discover_sessions_dir(cwd=tmp_path, environ={})
    assert (found.path, found.source) == (tmp_path / ".amazonq" / "sessions", "cwd")
    assert "current folder" in found.describe()


def test_discovery_expands_home_and_reads_the_real_environment(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert discover_sessions_dir("~/s", cwd=tmp_path).path == isolated_env / "s"
    assert discover_sessions_dir(cwd=tmp_path).source != "env", "the autouse fixture drops the variable"
    monkeypatch.setenv(ENV_SESSIONS_DIR, str(tmp_path / "from-env"))
    found = discover_sessions_dir(cwd=tmp_path)
    assert (found.path, found.source) == (tmp_path / "from-env", "env")
    assert ENV_SESSIONS_DIR in found.describe()


# --------------------------------------------------------------------------- modes


def _exercise_every_writer(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 2, name="modes")
    repo.update(meta.id, lambda m: m.archive())
    with open(repo.root / meta.id / CONVERSATION_FILE, "ab") as f:
        f.write(b'{"torn')
    repo.append_message(meta.id, user("after the tear"))  # writes .quarantine/<torn>
    (repo.root / meta.id / METADATA_FILE).write_bytes(b"{")
    repo.repair(meta.id)  # quarantines the metadata and rebuilds it
    repo.create(make_meta("created"), [user("created")])
    doomed = make_meta()
    repo.save(doomed)
    repo.delete(doomed.id)
    with repo.names_lock():
        pass


@pytest.mark.parametrize("umask", [0o000, 0o077, 0o022], ids=oct)
def test_folders_0700_and_files_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    repo = FileRepository(discover_sessions_dir(cwd=tmp_path, environ={}), lock_timeout=2)
    old = os.umask(umask)
    try:
        _exercise_every_writer(repo)
    finally:
        os.umask(old)

    amazonq = tmp_path / ".amazonq"
    checked = 0
    for path in [amazonq, *amazonq.rglob("*")]:
        mode = os.lstat(path).st_mode
        expected = 0o700 if stat.S_ISDIR(mode) else 0o600
        assert stat.S_IMODE(mode) == expected, f"{path} is {oct(stat.S_IMODE(mode))}"
        checked += 1
    assert checked >= 12
    assert list(amazonq.rglob("*.tmp")) == []


# --------------------------------------------------------------------------- atomic metadata


def test_metadata_replace_failure_keeps_the_old_file(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = _session_with_messages(repo, 1, name="before")
    path = repo.root / meta.id / METADATA_FILE
    before = path.read_bytes()
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst).name == METADATA_FILE:
            assert Path(src).exists(), "the temp file is complete before the rename"
            raise OSError(errno.EIO, "Input/output error")
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)

    with pytest.raises(StorageError) as err:
        repo.update(meta.id, lambda m: m.set_name("after"))
    assert "input/output" in err.value.user_message()
    with pytest.raises(StorageError):
        repo.append_message(meta.id, user("also fails after the append"))

    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == [CONVERSATION_FILE, METADATA_FILE], "temp files are removed"
    monkeypatch.undo()
    assert repo.get(meta.id).name == "before"
    assert repo.update(meta.id, lambda m: m.set_name("after")).name == "after"


def test_metadata_fsync_failure_removes_the_temp_file(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = _session_with_messages(repo, 1)
    before = (repo.root / meta.id / METADATA_FILE).read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageError, match="no space"):
        repo.update(meta.id, lambda m: m.archive())
    monkeypatch.undo()

    assert (repo.root / meta.id / METADATA_FILE).read_bytes() == before
    assert list((repo.root / meta.id).glob("*.tmp")) == []


def test_no_temp_files_are_left_behind(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 5)
    for _ in range(5):
        repo.update(meta.id, lambda m: m.archive())
    assert [p for p in repo.root.rglob("*") if p.name.endswith(".tmp")] == []


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
    meta = _session_with_messages(repo, 3)
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
    meta = _session_with_messages(repo, 2)
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
    meta = _session_with_messages(repo, 2)
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
    meta = _session_with_messages(repo, 2)
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
    meta = _session_with_messages(repo, 1)
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
    meta = _session_with_messages(repo, 2)
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
    good = [_session_with_messages(repo, 1) for _ in range(2)]
    bad = _session_with_messages(repo, 3, name="keep-me")
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
    meta = _session_with_messages(repo, 4)
    (repo.root / meta.id / METADATA_FILE).unlink()

    problems = repo.list().problems
    assert len(problems) == 1 and "missing" in str(problems[0])

    report = repo.repair(meta.id)
    assert report.changed and _quarantined(repo) == {}
    rebuilt = repo.get(meta.id)
    assert rebuilt.message_count == 4 and rebuilt.first_message == "question 0"
    assert rebuilt.created == repo.load_messages(meta.id).messages[0].timestamp


def test_append_repairs_corrupted_metadata_first(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 2)
    (repo.root / meta.id / METADATA_FILE).write_bytes(b'{"version": 1, "id"')

    after = repo.append_message(meta.id, user("the chat goes on"))

    assert after.message_count == 3
    assert list(_quarantined(repo).values()) == [b'{"version": 1, "id"']


def test_save_over_corrupted_metadata_quarantines_it(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 1)
    (repo.root / meta.id / METADATA_FILE).write_bytes(b"[]")
    repo.save(meta)
    assert repo.get(meta.id) == meta
    assert list(_quarantined(repo).values()) == [b"[]"]


def test_repair_recounts_messages(repo: FileRepository) -> None:
    """A crash between the transcript append and the metadata write leaves the count one behind."""
    meta = _session_with_messages(repo, 3)
    repo.update(meta.id, lambda m: setattr(m, "message_count", 1))

    report = repo.repair(meta.id)

    assert report.changed and "count" in report.actions[0]
    assert repo.get(meta.id).message_count == 3


def test_repair_sets_unfinished_temp_files_aside(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 1)
    stale = repo.root / meta.id / f".{METADATA_FILE}.4242.deadbeef.tmp"
    stale.write_bytes(b'{"version": 1, "id": "half')

    report = repo.repair(meta.id)

    assert not stale.exists() and "temporary" in report.actions[0]
    assert sorted(os.listdir(repo.root / meta.id)) == [CONVERSATION_FILE, METADATA_FILE]


def test_newer_version_is_never_overwritten(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 2)
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
    meta = _session_with_messages(repo, 1)
    (repo.root / meta.id / METADATA_FILE).unlink()
    (repo.root / meta.id / METADATA_FILE).mkdir()
    problems = repo.list().problems
    assert len(problems) == 1 and isinstance(problems[0], CorruptedSession)


def test_session_folder_that_is_a_file(repo: FileRepository) -> None:
    repo.save(make_meta())
    (repo.root / new_session_id()).write_text("not a folder")
    problems = repo.list().problems
    assert len(problems) == 1 and isinstance(problems[0], UnsafePath)


# --------------------------------------------------------------------------- hostile ids


HOSTILE_IDS = [
    "..",
    ".",
    "../x",
    "/etc",
    "/",
    "a/b",
    "",
    "\x00",
    "abc\x00def",
    "not-a-uuid",
    "~",
    "\\..\\x",
    "../" + "0" * 8 + "-0000-4000-8000-" + "0" * 12,
    "0" * 8 + "-0000-4000-8000-" + "0" * 12 + "/../..",
    "ABCDEF01-ABCD-4ABC-8ABC-ABCDEFABCDEF",
    ".locks",
    ".quarantine",
]


@pytest.mark.parametrize("bad_id", HOSTILE_IDS, ids=repr)
def test_hostile_ids_touch_nothing(repo: FileRepository, tmp_path: Path, bad_id: str) -> None:
    _session_with_messages(repo, 1)
    before = snapshot(tmp_path)

    with confined_writes(tmp_path) as refused:
        assert repo.exists(bad_id) is False
        for op in (
            repo.get,
            repo.delete,
            repo.load_messages,
            repo.repair,
            lambda i: repo.update(i, lambda m: m.archive()),
            lambda i: repo.append_message(i, user("x")),
            repo.session_lock,
        ):
            with pytest.raises(SessionNotFound) as err:
                op(bad_id)
            assert "not a valid session id" in err.value.user_message()

    assert refused == []
    assert snapshot(tmp_path) == before


def test_save_with_a_non_uuid_id_is_refused(repo: FileRepository, tmp_path: Path) -> None:
    with pytest.raises(SessionError):
        repo.save(SessionMetadata.new("../escape", "x"))
    with pytest.raises(SessionError):
        repo.create(SessionMetadata.new("../escape", "x"))
    assert not (tmp_path / "escape").exists()


# --------------------------------------------------------------------------- symbolic links


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the sessions tree holding things an attacker would like chatcli to write to."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"do not touch\n")
    return folder


def _assert_unsafe(call: Callable[[], object]) -> UnsafePath:
    with pytest.raises(UnsafePath) as err:
        call()
    assert isinstance(err.value, StorageError)
    assert "symbolic link" in err.value.user_message()
    assert "never follows links" in err.value.user_message()
    return err.value


@pytest.mark.parametrize("planted", [".amazonq", ".amazonq/sessions"])
def test_symlinked_project_folders_are_refused(tmp_path: Path, outside: Path, planted: str) -> None:
    project = tmp_path / "project"
    (project / ".amazonq").mkdir(parents=True)
    if planted == ".amazonq":
        (project / ".amazonq").rmdir()
    victim = FileRepository(outside / "sessions")
    victim.save(make_meta("victim"))
    victim.close()
    os.symlink(outside if planted == ".amazonq" else outside / "sessions", project / planted)
    before = snapshot(outside)
    repo = FileRepository(discover_sessions_dir(cwd=project, environ={}))
    victim_id = victim.list()[0].id

    err = _assert_unsafe(repo.list)
    assert err.path == project / planted
    _assert_unsafe(lambda: repo.get(victim_id))
    _assert_unsafe(lambda: repo.load_messages(victim_id))
    _assert_unsafe(lambda: repo.save(make_meta()))
    _assert_unsafe(lambda: repo.append_message(victim_id, user("x")))
    _assert_unsafe(lambda: repo.delete(victim_id))
    assert snapshot(outside) == before


def test_symlinked_explicit_sessions_folder_is_refused(tmp_path: Path, outside: Path) -> None:
    os.symlink(outside, tmp_path / "sessions-link")
    repo = FileRepository(tmp_path / "sessions-link")
    before = snapshot(outside)
    _assert_unsafe(repo.list)
    _assert_unsafe(lambda: repo.save(make_meta()))
    assert snapshot(outside) == before


def _plant_session_folder_link(repo: FileRepository, outside: Path) -> str:
    victim = FileRepository(outside / "victim-store")
    sid = _session_with_messages(victim, 2).id
    victim.close()  # its own index connection must not write (checkpoint) during the test
    repo.save(make_meta("real"))
    os.symlink(outside / "victim-store" / sid, repo.root / sid)
    return sid


def test_symlinked_session_folder_is_refused(repo: FileRepository, outside: Path) -> None:
    sid = _plant_session_folder_link(repo, outside)
    before = snapshot(outside)

    for call in (
        lambda: repo.get(sid),
        lambda: repo.load_messages(sid),
        lambda: repo.append_message(sid, user("x")),
        lambda: repo.update(sid, lambda m: m.archive()),
        lambda: repo.save(make_meta(session_id=sid)),
        lambda: repo.repair(sid),
        lambda: repo.delete(sid),
    ):
        _assert_unsafe(call)
    listed = repo.list()
    assert len(listed) == 1 and [type(p) for p in listed.problems] == [UnsafePath]
    assert snapshot(outside) == before
    assert os.path.islink(repo.root / sid)


@pytest.mark.parametrize("planted", [METADATA_FILE, CONVERSATION_FILE])
def test_symlinked_session_files_are_refused(repo: FileRepository, outside: Path, planted: str) -> None:
    meta = _session_with_messages(repo, 2)
    target = outside / "target"
    shutil.copyfile(repo.root / meta.id / planted, target)  # a perfectly valid file, just elsewhere
    (repo.root / meta.id / planted).unlink()
    os.symlink(target, repo.root / meta.id / planted)
    before = snapshot(outside)

    calls: list[Callable[[], object]] = [
        lambda: repo.append_message(meta.id, user("x")),
        lambda: repo.repair(meta.id),
    ]
    if planted == METADATA_FILE:
        calls += [
            lambda: repo.get(meta.id),
            lambda: repo.update(meta.id, lambda m: m.archive()),
            lambda: repo.save(meta),
        ]
    else:
        calls += [lambda: repo.load_messages(meta.id)]
    for call in calls:
        _assert_unsafe(call)
    assert snapshot(outside) == before

    repo.delete(meta.id)  # deleting removes the link, never what it points to
    assert snapshot(outside) == before


@pytest.mark.parametrize("planted", [".locks", ".quarantine"])
def test_symlinked_bookkeeping_folders_are_refused(repo: FileRepository, outside: Path, planted: str) -> None:
    meta = _session_with_messages(repo, 1)
    conv = repo.root / meta.id / CONVERSATION_FILE
    conv.write_bytes(conv.read_bytes() + b'{"torn')  # so the next append needs .quarantine/
    if planted == ".locks":
        shutil.rmtree(repo.root / ".locks")
    os.symlink(outside, repo.root / planted)
    before_outside, before_conv = snapshot(outside), conv.read_bytes()

    _assert_unsafe(lambda: repo.append_message(meta.id, user("x")))

    assert snapshot(outside) == before_outside
    assert conv.read_bytes() == before_conv


def test_symlinked_lock_file_is_refused(repo: FileRepository, outside: Path) -> None:
    meta = _session_with_messages(repo, 1)
    lock = repo.root / ".locks" / f"{meta.id}.lock"
    lock.unlink()
    os.symlink(outside / "secret.txt", lock)
    before = snapshot(outside)
    _assert_unsafe(lambda: repo.update(meta.id, lambda m: m.archive()))
    assert snapshot(outside) == before


# --------------------------------------------------------------------------- locks, delete, create


@pytest.mark.slow
def test_lock_held_by_another_process_times_out(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 1)
    holder = spawn_worker("hold", str(repo.root), meta.id, stdin=subprocess.PIPE)
    reader = LineReader(holder)
    try:
        assert reader.wait_for(1, timeout=30) == ["locked"]
        impatient = FileRepository(repo.root, lock_timeout=0.2)
        for call in (
            lambda: impatient.append_message(meta.id, user("blocked")),
            lambda: impatient.update(meta.id, lambda m: m.archive()),
            lambda: impatient.save(meta),
            lambda: impatient.delete(meta.id),
        ):
            started = time.monotonic()
            with pytest.raises(ConcurrentModification) as err:
                call()
            assert 0.15 <= time.monotonic() - started < 5
            assert err.value.is_recoverable() and "try again" in err.value.user_message()
        assert impatient.load_messages(meta.id).messages[-1].content == "question 0", "reads need no lock"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        _, err_text = reader.finish()
    assert holder.returncode == 0, err_text
    assert (
        FileRepository(repo.root, lock_timeout=0.2).append_message(meta.id, user("free")).message_count == 2
    )


def test_delete_removes_the_folder_and_its_lock(repo: FileRepository) -> None:
    keep = _session_with_messages(repo, 1)
    meta = _session_with_messages(repo, 2)
    assert (repo.root / ".locks" / f"{meta.id}.lock").exists()

    repo.delete(meta.id)

    assert not os.path.lexists(repo.root / meta.id)
    assert not os.path.lexists(repo.root / ".locks" / f"{meta.id}.lock")
    assert [p for p in os.listdir(repo.root) if p.startswith(".deleted")] == []
    assert [m.id for m in repo.list()] == [keep.id]
    with pytest.raises(SessionNotFound):
        repo.delete(meta.id)


def test_create_over_an_existing_session(repo: FileRepository) -> None:
    meta = _session_with_messages(repo, 2, name="existing")
    before = snapshot(repo.root / meta.id)

    with pytest.raises(SessionAlreadyExists):
        repo.create(make_meta("other", session_id=meta.id), [user("other")])

    assert snapshot(repo.root / meta.id) == before
    assert [p for p in os.listdir(repo.root) if p.startswith(".staging")] == []


def test_rename_while_chatting(repo: FileRepository) -> None:
    """One instance renames the session while another appends to it: neither write is lost."""
    meta = make_meta("")
    repo.save(meta)
    chat, ui = FileRepository(repo.root), FileRepository(repo.root)
    failures: list[BaseException] = []
    start = threading.Barrier(2, timeout=10)

    def chatting() -> None:
        start.wait()
        for i in range(40):
            chat.append_message(meta.id, user(f"m{i}", f"m{i}"))

    def renaming() -> None:
        start.wait()
        for i in range(40):

            def rename(m: SessionMetadata, name: str = f"name-{i}") -> None:
                m.set_name(name)

            ui.update(meta.id, rename)

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                failures.append(exc)

        return run

    threads = [threading.Thread(target=guarded(chatting)), threading.Thread(target=guarded(renaming))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads) and failures == []

    final = repo.get(meta.id)
    assert final.name == "name-39"
    assert final.message_count == 40
    assert [m.id for m in repo.load_messages(meta.id).messages] == [f"m{i}" for i in range(40)]


# --------------------------------------------------------------------------- permission denied


@pytest.fixture
def shared_sandbox() -> Iterator[Path]:
    """A world-traversable temp folder (pytest's own tmp folders are 0700, which would hide the test)."""
    folder = Path(tempfile.mkdtemp(prefix="chatcli-perm-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


Op = Callable[[FileRepository], object]


def _run_ops(root: Path, ops: dict[str, Op]) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    repo = FileRepository(root, lock_timeout=1)
    for name, op in ops.items():
        try:
            results[name] = {"ok": repr(op(repo))}
        except SessionError as exc:
            results[name] = {
                "error": type(exc).__name__,
                "storage": isinstance(exc, StorageError),
                "message": exc.user_message(),
            }
        except BaseException as exc:
            results[name] = {"unexpected": f"{type(exc).__name__}: {exc}"}
    return results


def test_permission_denied_for_another_user(shared_sandbox: Path) -> None:
    """A root-owned 0700 sessions folder read and written by an unprivileged user (real EACCES).

    As root the test forks a child that becomes nobody; as any other user it removes its own access.
    """
    root = shared_sandbox / "sessions"
    owner = FileRepository(root)
    meta = _session_with_messages(owner, 2)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    before = snapshot(root)
    ops: dict[str, Op] = {
        "list": lambda r: r.list(),
        "get": lambda r: r.get(meta.id),
        "load_messages": lambda r: r.load_messages(meta.id),
        "append_message": lambda r: r.append_message(meta.id, user("x")),
        "update": lambda r: r.update(meta.id, lambda m: m.archive()),
        "save": lambda r: r.save(make_meta()),
        "exists": lambda r: r.exists(meta.id),
    }

    with locked_out(root):
        results: dict[str, dict[str, Any]] = dict(run_unprivileged(lambda: _run_ops(root, ops)))

    assert results.pop("exists") == {"ok": "False"}
    for name, result in results.items():
        assert result.get("error") == "PermissionDenied", (name, result)
        assert result["storage"], name
        assert "Permission denied" in result["message"], name
    assert snapshot(root) == before


def test_permission_error_injected_into_os_open(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EACCES from os.open on a session file surfaces as PermissionDenied naming that file."""
    meta = _session_with_messages(repo, 2)
    real_open = os.open
    denied = {METADATA_FILE, CONVERSATION_FILE}

    def open_with_eacces(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).name in denied:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_with_eacces)
    for call, culprit in (
        (lambda: repo.get(meta.id), METADATA_FILE),
        (lambda: repo.load_messages(meta.id), CONVERSATION_FILE),
        (lambda: repo.update(meta.id, lambda m: m.archive()), METADATA_FILE),
    ):
        with pytest.raises(PermissionDenied) as err:
            call()
        assert err.value.path is not None and err.value.path.name == culprit
        assert "Permission denied" in err.value.user_message()

    listed = repo.list()
    assert listed == [] and [type(p) for p in listed.problems] == [PermissionDenied]

    denied.discard(METADATA_FILE)
    with pytest.raises(PermissionDenied):
        repo.append_message(meta.id, user("x"))
    monkeypatch.undo()
    assert repo.get(meta.id).message_count == 2, "a failed append changes nothing"
    assert len(repo.load_messages(meta.id).messages) == 2
