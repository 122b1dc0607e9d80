"""``doctor`` after everyday commands that leave no session behind: emptying the trash, an
import that saved nothing. Both used to leave the store "unhealthy" (exit 1) with nothing wrong."""

from __future__ import annotations

from pathlib import Path

from chatcli.session.store import FileRepository
from tests.helpers import chatcli, seed


def _doctor(store: Path, cwd: Path) -> str:
    run = chatcli(["sessions", "--sessions-dir", str(store), "doctor"], cwd=cwd)
    assert run.code == 0, run
    return run.out


def test_emptying_the_trash_leaves_no_lock_file_for_doctor_to_report(tmp_path: Path) -> None:
    store = tmp_path / "sessions"
    repo = FileRepository(store)
    gone, kept = seed(repo, "erase me"), seed(repo, "keep me")
    where = ["sessions", "--sessions-dir", str(store)]
    for session in (gone, kept):
        assert chatcli([*where, "delete", session.id, "--yes"], cwd=tmp_path).code == 0
    erased = chatcli(["sessions", "--sessions-dir", str(store), "trash", "empty", "--yes"], cwd=tmp_path)
    assert erased.code == 0 and "Erased 2 sessions" in erased.out, erased
    assert not (store / ".locks" / f"{gone.id}.lock").exists()
    assert "healthy" in _doctor(store, tmp_path)


def test_a_lock_file_stays_while_its_id_is_in_use_again(tmp_path: Path) -> None:
    """Erasing a trashed copy of a session that exists again (imported back) keeps the live
    session's lock file."""
    store = tmp_path / "sessions"
    repo = FileRepository(store)
    session = seed(repo, "twice")
    where = ["sessions", "--sessions-dir", str(store)]
    export = tmp_path / "twice.json"
    assert (
        chatcli([*where, "export", session.id, "--format", "json", "-o", str(export)], cwd=tmp_path).code == 0
    )
    assert chatcli([*where, "delete", session.id, "--yes"], cwd=tmp_path).code == 0
    assert chatcli([*where, "import", str(export)], cwd=tmp_path).code == 0
    assert chatcli([*where, "trash", "empty", "--yes"], cwd=tmp_path).code == 0
    assert (store / ".locks" / f"{session.id}.lock").exists()
    assert "All 1 session" in _doctor(store, tmp_path)


def test_an_import_that_saved_nothing_leaves_a_healthy_store(tmp_path: Path) -> None:
    store, empty = tmp_path / "sessions", tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    run = chatcli(["sessions", "--sessions-dir", str(store), "import", str(empty)], cwd=tmp_path)
    assert run.code == 1 and "Nothing was imported." in run.out, run
    assert "healthy" in _doctor(store, tmp_path)


def test_a_trash_empty_that_could_not_erase_a_session_exits_1(tmp_path: Path) -> None:
    """Like a prune that kept some of its sessions (it exited 0 while saying "Kept …")."""
    store = tmp_path / "sessions"
    session = seed(FileRepository(store), "guarded")
    where = ["sessions", "--sessions-dir", str(store)]
    assert chatcli([*where, "delete", session.id, "--yes"], cwd=tmp_path).code == 0
    lock = store / ".locks" / f"{session.id}.lock"
    lock.unlink()
    lock.mkdir()  # a planted folder: the store refuses to take that lock
    run = chatcli([*where, "trash", "empty", "--yes"], cwd=tmp_path)
    assert run.code == 1 and f"Kept {session.id[:8]}" in run.out, run
