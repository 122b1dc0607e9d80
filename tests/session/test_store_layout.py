"""FileRepository's on-disk layout: what is created (and when), discovery of the sessions folder,
modes, and metadata writes that fail cleanly."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from chatcli.session.errors import (
    SessionNotFound,
    StorageError,
)
from chatcli.session.location import ENV_SESSIONS_DIR, discover_sessions_dir
from chatcli.session.models import new_session_id
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers import (
    assistant,
    make_meta,
    session_with_messages,
    snapshot,
    transcript_lines,
    user,
)

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
    meta = session_with_messages(repo)
    before = snapshot(repo.root)
    repo.list()
    repo.get(meta.id)
    repo.exists(meta.id)
    repo.load_messages(meta.id)
    assert snapshot(repo.root) == before


def test_list_ignores_hidden_and_foreign_entries(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 1)
    (repo.root / "notes").mkdir()
    (repo.root / "README.txt").write_text("mine")
    (repo.root / f".staging-{new_session_id()}").mkdir()
    (repo.root / new_session_id()).mkdir()  # an empty session folder: not a session (yet)

    listed = repo.list()
    assert [m.id for m in listed] == [meta.id]
    assert listed.problems == []


def test_exists_with_only_a_transcript(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 1)
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
    meta = session_with_messages(repo, 2, name="modes")
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
    meta = session_with_messages(repo, 1, name="before")
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
    meta = session_with_messages(repo, 1)
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
    meta = session_with_messages(repo, 5)
    for _ in range(5):
        repo.update(meta.id, lambda m: m.archive())
    assert [p for p in repo.root.rglob("*") if p.name.endswith(".tmp")] == []
