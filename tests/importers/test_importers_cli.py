"""``sessions import --from TOOL`` through the binary: default locations, the round trip through
show, search and export, dry runs, hostile paths, every project, the progress bar.

The tools' files are written from their public formats (:mod:`tests.helpers.tool_histories`)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from chatcli.session.store import FileRepository
from tests.helpers import chatcli
from tests.helpers.tool_histories import amazon_q_database, claude_fixture, codex_fixture, gemini_fixture

# ---------------------------------------------------------------------------- the real binary


def _project(tmp_path: Path) -> Path:
    work = tmp_path / "work" / "demo-app"
    work.mkdir(parents=True)
    return work


def test_cli_imports_every_tool_from_its_default_location(tmp_path: Path, isolated_env: Path) -> None:
    work = _project(tmp_path)
    home = isolated_env
    claude_fixture(home / ".claude/projects" / str(work).replace("/", "-").replace("_", "-"), cwd=str(work))
    codex_fixture(home / ".codex", cwd=str(work))
    gemini_fixture(home, cwd=str(work))
    amazon_q_database(home / ".local/share/amazon-q/data.sqlite3", key=str(work), other="/other/project")
    for tool in ("claude-code", "codex", "gemini", "amazon-q"):
        run = chatcli(["sessions", "import", "--from", tool], cwd=work)
        assert run.code == 1, run  # each fixture holds a malformed record: reported, the rest imported
        assert "Imported from " + tool + ": 1 new session" in run.out and ":" in run.out, run
    # Only this directory's row of the database: the other project's waits for --all-projects.
    every = chatcli(["sessions", "import", "--from", "amazon-q", "--all-projects"], cwd=work)
    assert "Imported from amazon-q: 1 new session" in every.out, every
    listing = chatcli(["sessions", "list"], cwd=work)
    assert "fix-login" in listing.out and "readme-tour" in listing.out and "list the files" in listing.out
    again = chatcli(["sessions", "import", "--from", "codex", "--json"], cwd=work)
    assert [s["action"] for s in json.loads(again.out)["sessions"]] == ["unchanged"]


def test_cli_round_trip_show_search_export(tmp_path: Path) -> None:
    work = _project(tmp_path)
    run = chatcli(
        ["sessions", "import", "--from", "claude-code", str(claude_fixture(tmp_path / "c"))], cwd=work
    )
    assert run.code == 1 and f"{tmp_path / 'c' / 's-claude-1.jsonl'}:4: not valid JSON" in run.out, run
    assert "Importing from" not in run.out + run.err  # no progress bar without a terminal
    show = chatcli(["sessions", "show", "fix-login"], cwd=work)
    assert "[tool Bash: command: pytest -q]" in show.out and "SECRET-THOUGHT" not in show.out
    assert "ABANDONED" not in show.out and "injected" not in show.out
    search = chatcli(["sessions", "search", "token", "expired"], cwd=work)
    assert "fix-login" in search.out, search
    export = chatcli(["sessions", "export", "fix-login", "--format", "json"], cwd=work)
    doc = json.loads(export.out)
    assert doc["session"]["custom_fields"]["imported_from"]["source_id"] == "claude-1"
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant"]


def test_cli_dry_run_unknown_tool_and_sqlite_unchanged(tmp_path: Path) -> None:
    work = _project(tmp_path)
    db = amazon_q_database(tmp_path / "q" / "data.sqlite3")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    dry = chatcli(["sessions", "import", "--from", "amazon-q", str(db), "--dry-run"], cwd=work)
    assert "Would import from amazon-q: 1 new session" in dry.out and "nothing was written" in dry.out, dry
    assert not (work / ".amazonq").exists()
    real = chatcli(["sessions", "import", "--from", "amazon-q", str(db)], cwd=work)
    assert "Imported from amazon-q: 1 new session" in real.out
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["data.sqlite3"]
    bad = chatcli(["sessions", "import", "--from", "cursor"], cwd=work)
    assert bad.code == 2 and "amazon-q, claude-code, codex, gemini, goose, opencode, llm" in bad.err, bad


def test_cli_hostile_paths_never_trace(tmp_path: Path) -> None:
    work = _project(tmp_path)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b"\xff\xfe{")
    for tool, path in (("codex", fifo), ("amazon-q", latin), ("gemini", tmp_path / "missing.json")):
        run = chatcli(["sessions", "import", "--from", tool, str(path)], cwd=work)
        assert run.code == 1 and "Failed: 1" in run.out, run


def test_all_projects_keeps_the_source_project(tmp_path: Path, isolated_env: Path) -> None:
    work = _project(tmp_path)
    codex_fixture(isolated_env / ".codex", cwd="/another/project", name="other")
    here = chatcli(["sessions", "import", "--from", "codex"], cwd=work)
    assert "Found nothing" in here.out and here.code == 1
    every = chatcli(["sessions", "import", "--from", "codex", "--all-projects", "--json"], cwd=work)
    sid = json.loads(every.out)["sessions"][0]["session_id"]
    exported = json.loads(chatcli(["sessions", "export", sid, "--format", "json"], cwd=work).out)
    assert exported["session"]["custom_fields"]["imported_from"]["project"] == "/another/project"
    assert (work / ".amazonq/sessions" / sid).is_dir()


def test_in_a_terminal_the_import_shows_progress_and_the_summary(tmp_path: Path) -> None:
    import sys

    import pexpect

    work = _project(tmp_path)
    for index in range(30):
        codex_fixture(tmp_path / "codex", name=f"n{index:02d}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATCLI_") and k != "NO_COLOR"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "chatcli", "sessions", "import", "--from", "codex", str(tmp_path / "codex")],
        env={**env, "TERM": "xterm-256color"},
        cwd=str(work),
        dimensions=(30, 120),
        encoding="utf-8",
        timeout=30,
    )
    child.expect(pexpect.EOF)
    child.close()
    seen = child.before or ""
    assert "Imported from codex: 30 new sessions" in seen and "Traceback" not in seen, seen
    assert "Importing from codex" in seen  # the progress bar, on a terminal only
    assert child.exitstatus == 1  # each rollout holds one malformed line, reported
    assert len(FileRepository(work / ".amazonq/sessions").list()) == 30


def test_every_tool_the_usage_names_has_a_reader() -> None:
    from chatcli.importers.run import SOURCES, TOOLS

    assert set(TOOLS) == set(SOURCES)
