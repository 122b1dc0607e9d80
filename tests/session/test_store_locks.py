"""FileRepository between processes and users: locks held elsewhere, deletes and renames while
chatting, permission errors."""

from __future__ import annotations

import errno
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
    PermissionDenied,
    SessionAlreadyExists,
    SessionError,
    SessionNotFound,
    StorageError,
)
from chatcli.session.models import SessionMetadata
from chatcli.session.store import FileRepository
from chatcli.session.store.layout import CONVERSATION_FILE, METADATA_FILE
from tests.helpers import (
    LineReader,
    locked_out,
    make_meta,
    run_unprivileged,
    session_with_messages,
    snapshot,
    spawn_worker,
    user,
)

# --------------------------------------------------------------------------- locks, delete, create


@pytest.mark.slow
def test_lock_held_by_another_process_times_out(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 1)
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
    keep = session_with_messages(repo, 1)
    meta = session_with_messages(repo, 2)
    assert (repo.root / ".locks" / f"{meta.id}.lock").exists()

    repo.delete(meta.id)

    assert not os.path.lexists(repo.root / meta.id)
    assert not os.path.lexists(repo.root / ".locks" / f"{meta.id}.lock")
    assert [p for p in os.listdir(repo.root) if p.startswith(".deleted")] == []
    assert [m.id for m in repo.list()] == [keep.id]
    with pytest.raises(SessionNotFound):
        repo.delete(meta.id)


def test_create_over_an_existing_session(repo: FileRepository) -> None:
    meta = session_with_messages(repo, 2, name="existing")
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
    meta = session_with_messages(owner, 2)
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
    meta = session_with_messages(repo, 2)
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
