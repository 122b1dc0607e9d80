"""``--all-projects`` through the real binary: every project chatcli has saved sessions in is
listed, searched and resumable from anywhere; vanished ones are reported once, moved ones found
again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import Run, chatcli


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The registry in a data folder named with ``$CHATCLI_DATA_DIR``."""
    return {"CHATCLI_DATA_DIR": str(tmp_path / "data")}


def _project(home: Path, name: str) -> Path:
    folder = home / name
    (folder / ".git").mkdir(parents=True)
    return folder


def _say(folder: Path, env: dict[str, str], text: str, *more: str) -> str:
    """``chatcli -p TEXT`` in ``folder``; the id of the session it wrote."""
    run = chatcli(["-p", text, *more], cwd=folder, env=env)
    assert run.code == 0, run
    return run.err.strip().splitlines()[-1].removeprefix("session ")


def _ids(folder: Path) -> list[str]:
    store = folder / ".amazonq" / "sessions"
    return sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))


def _listing(cwd: Path, env: dict[str, str], *more: str) -> Run:
    run = chatcli(["sessions", "list", "--all-projects", *more], cwd=cwd, env=env)
    assert run.code == 0, run
    return run


def test_two_projects_are_listed_from_a_third_folder(home: Path, env: dict[str, str], tmp_path: Path) -> None:
    alpha, beta, third = _project(home, "alpha"), _project(home, "beta"), _project(home, "third")
    a_id = _say(alpha, env, "about the alpha release")
    b_id = _say(beta, env, "about the beta release")
    assert (tmp_path / "data" / "projects.json").is_file()
    run = _listing(third, env)
    rows = [line for line in run.out.splitlines() if a_id[:8] in line or b_id[:8] in line]
    assert len(rows) == 2
    assert "~/beta" in rows[0] and b_id[:8] in rows[0] and "about the beta release" in rows[0]
    assert "~/alpha" in rows[1] and a_id[:8] in rows[1]
    assert "Sessions of 2 projects" in run.out
    plain = chatcli(["sessions", "list"], cwd=third, env=env)
    assert a_id[:8] not in plain.out and b_id[:8] not in plain.out
    data = json.loads(_listing(third, env, "--json").out)
    assert {(s["id"], s["project"]) for s in data["sessions"]} == {(a_id, str(alpha)), (b_id, str(beta))}
    assert data["total"] == 2 and data["problems"] == []
    assert not (third / ".amazonq").exists()  # listing never creates a store


def test_search_all_projects_groups_hits_with_their_project(home: Path, env: dict[str, str]) -> None:
    alpha, beta, third = _project(home, "alpha"), _project(home, "beta"), _project(home, "third")
    a_id = _say(alpha, env, "the flaky turnip test")
    _say(alpha, env, "something else entirely")
    b_id = _say(beta, env, "turnip soup recipe")
    run = chatcli(["sessions", "search", "turnip", "--all-projects"], cwd=third, env=env)
    assert run.code == 0, run
    assert "in 2 sessions" in run.out and "2 projects" in run.out
    rows = [line for line in run.out.splitlines() if "turnip" in line.lower() and "~/" in line]
    assert [("~/beta" in r, "~/alpha" in r) for r in rows] == [(True, False), (False, True)]
    data = json.loads(
        chatcli(["sessions", "search", "turnip", "--all-projects", "--json"], cwd=third, env=env).out
    )
    assert [(s["session_id"], s["project"]) for s in data["sessions"]] == [
        (b_id, str(beta)),
        (a_id, str(alpha)),
    ]
    assert data["sessions_matched"] == 2 and data["sessions_searched"] == 3
    one = chatcli(["sessions", "search", "turnip"], cwd=third, env=env)
    assert "No messages match" in one.out


def test_resuming_another_projects_session_writes_to_its_store(home: Path, env: dict[str, str]) -> None:
    alpha, beta, third = _project(home, "alpha"), _project(home, "beta"), _project(home, "third")
    a_id = _say(alpha, env, "first words in alpha")
    _say(beta, env, "beta keeps going")
    run = chatcli(["-p", "second words", "--resume", a_id[:8]], cwd=third, env=env)
    assert run.code == 0, run
    assert f"Session {a_id[:8]} is in project ~/alpha: continuing it there." in run.err
    assert run.err.strip().endswith(f"session {a_id}")
    lines = (alpha / ".amazonq" / "sessions" / a_id / "conversation.jsonl").read_text().splitlines()
    assert [json.loads(line)["content"] for line in lines][-2].startswith("second words")
    assert len(lines) == 4
    assert _ids(alpha) == [a_id] and len(_ids(beta)) == 1
    assert not (third / ".amazonq").exists()  # never copied here
    missing = chatcli(["-p", "hello", "--resume", "0000dead"], cwd=third, env=env)
    assert missing.code != 0 and "not found" in missing.err.lower()


def test_a_vanished_project_is_reported_once(home: Path, env: dict[str, str]) -> None:
    alpha, beta, third = _project(home, "alpha"), _project(home, "beta"), _project(home, "third")
    _say(alpha, env, "soon gone")
    for n in range(3):
        _say(alpha, env, f"also gone {n}")
    b_id = _say(beta, env, "still here")
    shutil.rmtree(alpha)
    first = _listing(third, env)
    assert first.out.count("~/alpha") == 1 and "is gone" in first.out
    assert b_id[:8] in first.out
    second = _listing(third, env)
    assert "alpha" not in second.out + second.err and "Warning" not in second.out
    assert b_id[:8] in second.out


def test_a_moved_project_is_found_again_when_chatcli_next_writes_in_it(
    home: Path, env: dict[str, str]
) -> None:
    old, third = _project(home, "old-name"), _project(home, "third")
    sid = _say(old, env, "a project about to move")
    new = home / "new-name"
    old.rename(new)
    gone = _listing(third, env)
    assert "Warning: Project ~/old-name is gone" in gone.out and sid[:8] not in gone.out
    _say(new, env, "where was I", "--resume", sid[:8])
    found = _listing(third, env)
    assert "Warning" not in found.out
    [row] = [line for line in found.out.splitlines() if sid[:8] in line]
    assert "~/new-name" in row


def test_a_corrupt_registry_is_reported_and_rebuilt(home: Path, env: dict[str, str], tmp_path: Path) -> None:
    alpha, third = _project(home, "alpha"), _project(home, "third")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "projects.json").write_bytes(b"\x00\x01 not json")
    run = _listing(third, env)
    assert "could not be used" in run.out and "projects.json.unreadable" in run.out
    a_id = _say(alpha, env, "rebuilding")
    again = _listing(third, env)
    assert "Warning" not in again.out and a_id[:8] in again.out


def test_tsv_does_not_go_with_all_projects(home: Path, env: dict[str, str]) -> None:
    run = chatcli(["sessions", "list", "--all-projects", "--tsv"], cwd=_project(home, "x"), env=env)
    assert run.code == 2 and "--json" in run.err


def test_a_registry_that_cannot_be_written_is_reported_once_and_the_chat_goes_on(
    home: Path, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    env = {"CHATCLI_DATA_DIR": str(blocked)}
    alpha = _project(home, "alpha")
    run = chatcli(["-p", "still saved"], cwd=alpha, env=env)
    assert run.code == 0, run
    assert run.err.count("could not remember this project") == 1
    assert len(_ids(alpha)) == 1
    listing = _listing(alpha, env, "--json")
    data = json.loads(listing.out)
    assert [s["project"] for s in data["sessions"]] == [str(alpha)]
    assert data["problems"][0]["kind"] == "project" and "could not be read" in data["problems"][0]["message"]
