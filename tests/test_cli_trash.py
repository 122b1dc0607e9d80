"""The trash through the real binary (``python -m chatcli sessions …``): delete to the trash with
an undo hint, list, show/export/search --trash, restore (name conflicts), empty (refused
without a terminal unless --yes), delete --permanent, the trash_retention setting, doctor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chatcli.session.store import FileRepository
from chatcli.session.store.layout import TRASH_DIR
from tests.helpers import Run, chatcli, seed


@pytest.fixture
def sessions_dir(tmp_path: Path) -> Path:
    return tmp_path / "sessions"


def _run(sessions_dir: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return chatcli(["sessions", "--sessions-dir", str(sessions_dir), *args], cwd=sessions_dir.parent, env=env)


def test_delete_list_show_export_search_restore(sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    meta = seed(repo, "find the needle", replies=["here"], name="fix-login")
    deleted = _run(sessions_dir, "delete", "fix-login", "--yes")
    assert deleted.code == 0
    assert "Moved session fix-login" in deleted.out and "to the trash" in deleted.out
    assert f"Undo with: chatcli sessions restore {meta.id[:8]}" in deleted.out
    assert "fix-login" not in _run(sessions_dir, "list", "--all").out
    assert _run(sessions_dir, "search", "needle").out.count(meta.id[:8]) == 0

    listing = _run(sessions_dir, "trash")
    assert listing.code == 0
    assert "1 session in the trash" in listing.out
    assert all(part in listing.out for part in (meta.id[:8], "fix-login", "deleted", "find the needle"))
    shown = _run(sessions_dir, "show", "fix-login")
    assert shown.code == 0 and "In the trash" in shown.out
    exported = _run(sessions_dir, "export", meta.id[:8], "--format", "json")
    assert json.loads(exported.out)["session"]["id"] == meta.id
    assert meta.id[:8] in _run(sessions_dir, "search", "needle", "--trash").out

    data = _run(sessions_dir, "trash", "--json").out
    (entry,) = json.loads(data)["sessions"]
    assert entry["session"]["id"] == meta.id and entry["reason"] == "deleted"

    restored = _run(sessions_dir, "restore", "fix-login")
    assert restored.code == 0 and "Restored session fix-login" in restored.out
    assert repo.get(meta.id) == meta
    assert "The trash is empty." in _run(sessions_dir, "trash").out


def test_restore_reports_a_name_taken_meanwhile(sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    old = seed(repo, "old", name="deploy")
    assert _run(sessions_dir, "delete", old.id, "--yes").code == 0
    new = seed(repo, "new", name="deploy")
    run = _run(sessions_dir, "restore", old.id[:8], "--json")
    assert run.code == 0
    doc = json.loads(run.out)
    assert doc["dropped_name"] == "deploy" and doc["name_taken_by"] == new.id
    assert repo.get(old.id).name is None and repo.get(new.id).name == "deploy"
    human = _run(sessions_dir, "delete", old.id, "--yes")
    assert human.code == 0
    again = _run(sessions_dir, "restore", old.id[:8])
    assert "came back unnamed" not in again.out  # it had no name any more


def test_empty_refuses_without_a_terminal_and_erases_with_yes(sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    meta = seed(repo, "bye")
    _run(sessions_dir, "delete", meta.id, "--yes")
    refused = _run(sessions_dir, "trash", "empty")
    assert refused.code != 0 and "--yes" in refused.err + refused.out
    assert len(repo.trashed()) == 1
    assert "Would erase 1 session" in _run(sessions_dir, "trash", "empty", "--dry-run").out
    assert len(_run(sessions_dir, "trash", "empty", "--older-than", "1d", "--yes").out) > 0
    assert len(repo.trashed()) == 1  # deleted just now: not older than a day
    done = _run(sessions_dir, "trash", "empty", "--yes")
    assert done.code == 0 and "Erased 1 session from the trash for good" in done.out
    assert repo.trashed() == [] and os.listdir(sessions_dir / TRASH_DIR) == []


def test_permanent_delete_skips_the_trash_and_asks_its_own_question(sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    meta = seed(repo, "bye")
    refused = _run(sessions_dir, "delete", meta.id, "--permanent")
    assert refused.code != 0 and f"sessions delete {meta.id} --permanent --yes" in refused.err
    done = _run(sessions_dir, "delete", meta.id, "--permanent", "--yes")
    assert done.code == 0 and "for good" in done.out and "Undo" not in done.out
    assert not repo.exists(meta.id) and repo.trashed() == []


def test_trash_retention_from_the_environment_empties_old_entries(sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    meta = seed(repo, "bye")
    _run(sessions_dir, "delete", meta.id, "--yes")
    kept = _run(sessions_dir, "trash", env={"CHATCLI_TRASH_RETENTION": "30d"})
    assert meta.id[:8] in kept.out and len(repo.trashed()) == 1
    off = _run(sessions_dir, "trash", env={"CHATCLI_TRASH_RETENTION": "off"})
    assert meta.id[:8] in off.out
    bad = _run(sessions_dir, "trash", env={"CHATCLI_TRASH_RETENTION": "soon"})
    assert bad.code != 0 and "trash_retention" in bad.err.replace(
        "CHATCLI_TRASH_RETENTION", "trash_retention"
    )
    assert len(repo.trashed()) == 1


def test_doctor_checks_and_repairs_the_trash(sessions_dir: Path) -> None:
    repo = FileRepository(sessions_dir)
    meta = seed(repo, "keep")
    trash_id = repo.trash(meta.id, "deleted")
    leftover = sessions_dir / TRASH_DIR / f"{meta.id}.20250101T000000000000Z"
    leftover.mkdir()
    (leftover / "trashed.json").write_text("{}")
    (sessions_dir / TRASH_DIR / trash_id / "trashed.json").unlink()
    checked = _run(sessions_dir, "doctor")
    assert checked.code != 0
    assert "interrupted" in checked.out and "missing or unreadable" in checked.out
    repaired = _run(sessions_dir, "doctor", "--repair")
    assert repaired.code == 0, repaired.out
    assert _run(sessions_dir, "doctor").code == 0
    assert not leftover.exists()
    (entry,) = repo.trashed()
    assert entry.metadata == repo.trashed_session(trash_id).metadata and "unknown" in entry.reason
