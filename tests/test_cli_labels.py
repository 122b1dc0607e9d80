"""Pins, tags and the metadata v1 -> v2 migration through the real binary (``python -m chatcli``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chatcli.errors import ExitCode
from tests.helpers import REPO_ROOT, chatcli, snapshot

EXAMPLE = REPO_ROOT / ".amazonq.example" / "sessions"
NAMED = "3f2b8c1e-7a4d-4e9b-9c2f-1d5e6a7b8c90"  # v1, named fix-login-timeout, custom_fields
LEGACY = "5d0e7f3a-2b1c-4a9d-b8e7-6f5a4c3b2d10"  # v0
ARCHIVED = "a91c4d27-5e3f-4b8a-8d61-c0f2e9b7a345"  # v1, archived


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project holding a copy of the repository's sample tree (version-0 and version-1 files)."""
    shutil.copytree(EXAMPLE, tmp_path / ".amazonq" / "sessions")
    return tmp_path


def metadata(project: Path, session_id: str) -> dict[str, object]:
    path = project / ".amazonq" / "sessions" / session_id / "metadata.json"
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def session_files(project: Path) -> dict[str, bytes | str]:
    """Every session file of the project (the rebuildable index aside)."""
    root = project / ".amazonq" / "sessions"
    return {k: v for k, v in snapshot(root).items() if not k.startswith(".index")}


def test_v1_tree_reads_tags_and_upgrades_only_what_is_written(project: Path) -> None:
    before = session_files(project)
    originals = {sid: metadata(project, sid) for sid in (NAMED, LEGACY, ARCHIVED)}
    assert {doc["version"] for doc in originals.values()} == {0, 1}

    listed = chatcli(["sessions", "list", "--all", "--json"], cwd=project)
    assert listed.code == 0, listed
    sessions = {s["id"]: s for s in json.loads(listed.out)["sessions"]}
    assert set(sessions) == {p.name for p in EXAMPLE.iterdir() if p.is_dir()} >= {NAMED, LEGACY, ARCHIVED}
    assert all(s["pinned"] is False and s["tags"] == [] for s in sessions.values())
    assert chatcli(["sessions", "show", "fix-login-timeout"], cwd=project).code == 0
    assert chatcli(["sessions", "search", "timeout"], cwd=project).code == 0
    assert session_files(project) == before, "reading never rewrites a file"

    tagged = chatcli(["sessions", "tag", "fix-login-timeout", "Auth", "bug"], cwd=project)
    assert tagged.code == 0 and "auth, bug" in tagged.out, tagged
    pinned = chatcli(["sessions", "pin", LEGACY[:8]], cwd=project)
    assert pinned.code == 0 and "Pinned" in pinned.out, pinned

    for sid in (NAMED, LEGACY):
        upgraded = metadata(project, sid)
        assert upgraded["version"] == 2
        old = dict(originals[sid], custom_fields=originals[sid].get("custom_fields", {}))
        kept = {
            k: v
            for k, v in upgraded.items()
            if k not in ("version", "pinned", "tags", "system_prompt", "usage")
        }
        assert {k: v for k, v in old.items() if k != "version"} == kept, "nothing else changed"
    assert metadata(project, NAMED)["tags"] == ["auth", "bug"] and metadata(project, NAMED)["custom_fields"]
    assert metadata(project, LEGACY)["pinned"] is True
    assert metadata(project, ARCHIVED) == originals[ARCHIVED], "an untouched session stays v1"
    after = session_files(project)
    assert all(after[k] == v for k, v in before.items() if "conversation" in k), "transcripts untouched"

    only = chatcli(["sessions", "list", "--tag", "bug", "--tag", "AUTH", "--tsv"], cwd=project)
    (line,) = only.out.splitlines()
    assert line.split("\t")[0] == NAMED and line.split("\t")[-2:] == ["", "auth,bug"]
    table = chatcli(["sessions", "list", "--all"], cwd=project).out
    assert f"{LEGACY[:8]} *" in table and "auth,bug" in table and "* pinned" in table


def test_a_newer_metadata_file_is_reported_and_never_rewritten(project: Path) -> None:
    path = project / ".amazonq" / "sessions" / NAMED / "metadata.json"
    newer = dict(metadata(project, NAMED), version=3, tags="a shape this chatcli does not know")
    path.write_text(json.dumps(newer))
    before = path.read_bytes()

    listed = chatcli(["sessions", "list", "--all", "--json"], cwd=project)
    problems = json.loads(listed.out)["problems"]
    assert [p["kind"] for p in problems] == ["unsupported_version"]
    refused = chatcli(["sessions", "tag", NAMED, "x"], cwd=project)
    assert refused.code != 0 and "version 3" in refused.err, refused
    chatcli(["sessions", "doctor", "--repair"], cwd=project)
    assert path.read_bytes() == before


def test_pinned_refusals_and_prune_through_the_binary(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / ".amazonq" / "sessions")
    assert chatcli(["sessions", "pin", "fix-login-timeout"], cwd=tmp_path).code == 0

    refused = chatcli(["sessions", "delete", "fix-login-timeout", "--yes"], cwd=tmp_path)
    assert refused.code == ExitCode.USER
    assert "pinned" in refused.err and f"sessions delete {NAMED} --force --yes" in refused.err

    pruned = chatcli(["sessions", "prune", "--older-than", "30d", "--yes", "--json"], cwd=tmp_path)
    result = json.loads(pruned.out)
    assert result["pinned_kept"] == 1 and NAMED not in {s["id"] for s in result["sessions"]}
    assert len(result["sessions"]) == len([p for p in EXAMPLE.iterdir() if p.is_dir()]) - 1
    again = chatcli(["sessions", "prune", "--older-than", "30d", "--yes"], cwd=tmp_path)
    assert "Only pinned sessions" in again.out and "Kept 1 pinned session" in again.out

    forced = chatcli(["sessions", "delete", "fix-login-timeout", "--force", "--yes"], cwd=tmp_path)
    assert forced.code == 0 and not (tmp_path / ".amazonq" / "sessions" / NAMED).exists()


def test_tag_errors_are_clear(project: Path) -> None:
    bad = chatcli(["sessions", "tag", "fix-login-timeout", "has/slash"], cwd=project)
    assert (
        bad.code == ExitCode.USER and "'has/slash' is not a tag" in bad.err and "letters, digits" in bad.err
    )
    missing = chatcli(["sessions", "tag", "fix-login-timeout"], cwd=project)
    assert missing.code == ExitCode.USAGE and "missing TAG" in missing.err
    assert metadata(project, NAMED)["version"] == 1, "a refused tag writes nothing"
