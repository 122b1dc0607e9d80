"""``sessions search`` through the real binary when a project has too many hits to count."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from chatcli.session.models import Message
from chatcli.session.store import FileRepository
from tests.helpers import BASE, chatcli, seed


@pytest.fixture
def env(isolated_env: Path, tmp_path: Path) -> dict[str, str]:
    return {"CHATCLI_DATA_DIR": str(tmp_path / "data")}


def _project(home: Path, name: str, env: dict[str, str]) -> FileRepository:
    """A project chatcli has written to (so it is remembered), its store open here."""
    folder = home / name
    (folder / ".git").mkdir(parents=True)
    assert chatcli(["-p", "hello there"], cwd=folder, env=env).code == 0
    return FileRepository(folder / ".amazonq" / "sessions")


def test_all_projects_with_one_too_broad_to_rank_shows_the_newest_of_every_project(
    isolated_env: Path, env: dict[str, str]
) -> None:
    broad = _project(isolated_env, "broad", env)
    many = [Message(role="user", content="emu", timestamp=BASE + timedelta(hours=1))] * 10_001
    seed(broad, messages=many)
    narrow = _project(isolated_env, "narrow", env)
    seed(narrow, "emu emu emu", when=BASE)  # the most relevant, but old
    newest = seed(narrow, "emu " + "filler " * 40, when=BASE + timedelta(hours=2))
    broad.close()
    narrow.close()
    args = ["sessions", "search", "emu", "--all-projects", "--sort", "relevance", "--limit", "1", "--json"]
    run = chatcli(args, cwd=isolated_env, env=env)
    assert run.code == 0, run
    data = json.loads(run.out)
    assert data["counted"] is False and data["sort"] == "recent"
    assert [s["session_id"] for s in data["sessions"]] == [newest.id]


def test_doctor_through_the_binary_reports_and_repairs_stray_content_rows(
    isolated_env: Path, env: dict[str, str]
) -> None:
    folder = isolated_env / "p"
    folder.mkdir()
    assert chatcli(["-p", "йогурт и кофе"], cwd=folder, env=env).code == 0
    conn = sqlite3.connect(folder / ".amazonq" / "sessions" / ".index" / "sessions.sqlite3")
    conn.executescript(
        "INSERT INTO content_pending VALUES ('unknown');"
        "INSERT INTO content_state VALUES ('gone', 99, 1, 0, 0, 0, 'x');"
        "INSERT INTO content (id, role, ts) VALUES ((500 << 32) | 1, 'user', '2024-01-01T00:00:00+00:00');"
    )
    conn.close()
    found = chatcli(["sessions", "search", "йогурт"], cwd=folder, env=env)
    assert "in 1 session" in found.out and "not searched" not in found.out, found
    report = chatcli(["sessions", "doctor"], cwd=folder, env=env)
    assert "unknown session" in report.out and "not listed" in report.out and "stale" not in report.out
    assert chatcli(["sessions", "doctor", "--repair"], cwd=folder, env=env).code == 0
    assert "healthy" in chatcli(["sessions", "doctor"], cwd=folder, env=env).out
