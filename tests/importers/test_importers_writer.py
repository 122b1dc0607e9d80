"""``sessions import --from TOOL``: the writer (provenance, re-runs, sessions continued here, titles,
dry runs, huge messages).

The tools' files are written from their public formats (:mod:`tests.helpers.tool_histories`)."""

from __future__ import annotations

import json
from pathlib import Path

from chatcli.importers.run import MAX_MESSAGE_CHARS, import_from
from chatcli.session.store import FileRepository
from tests.helpers.tool_histories import PROJECT, claude_fixture, codex_fixture

# ---------------------------------------------------------------------------- the writer


def test_rerun_skips_then_appends_only_new_messages(repo: FileRepository, tmp_path: Path) -> None:
    file = claude_fixture(tmp_path / "c")
    first = import_from(repo, "claude-code", [file], cwd=Path(PROJECT))
    assert [e.action for e in first.entries] == ["imported"]
    session_id = first.entries[0].session_id
    assert session_id is not None
    meta = repo.get(session_id)
    assert meta.name == "fix-login" and meta.message_count == 2  # merged: user, assistant
    assert meta.custom_fields["imported_from"]["tool"] == "claude-code"
    assert meta.custom_fields["imported_from"]["source_id"] == "claude-1"
    again = import_from(repo, "claude-code", [file], cwd=Path(PROJECT))
    assert [e.action for e in again.entries] == ["unchanged"] and len(repo.list()) == 1
    with file.open("a") as out:
        out.write(
            json.dumps(
                {
                    "type": "user",
                    "uuid": "u9",
                    "parentUuid": "a3",
                    "timestamp": "2025-06-01T11:00:00Z",
                    "message": {"role": "user", "content": "and now?"},
                }
            )
            + "\n"
        )
    grown = import_from(repo, "claude-code", [file], cwd=Path(PROJECT))
    assert [(e.action, e.messages) for e in grown.entries] == [("appended", 1)]
    assert [m.content for m in repo.load_messages(session_id).messages][-1] == "and now?"


def test_a_session_continued_here_is_not_appended_to(repo: FileRepository, tmp_path: Path) -> None:
    from chatcli.session.models import Message

    file = claude_fixture(tmp_path / "c")
    session_id = import_from(repo, "claude-code", [file], cwd=Path(PROJECT)).entries[0].session_id or ""
    repo.append_message(session_id, Message(role="user", content="continued in chatcli"))
    with file.open("a") as out:
        out.write(
            json.dumps(
                {
                    "type": "user",
                    "uuid": "u9",
                    "parentUuid": "a3",
                    "timestamp": "2025-06-01T11:00:00Z",
                    "message": {"role": "user", "content": "later in Claude"},
                }
            )
            + "\n"
        )
    result = import_from(repo, "claude-code", [file], cwd=Path(PROJECT))
    assert [e.action for e in result.entries] == ["unchanged"] and "continued in chatcli" in result.notes[0]
    assert [m.content for m in repo.load_messages(session_id).messages][-1] == "continued in chatcli"


def test_a_taken_or_invalid_title_is_kept_in_custom_fields(repo: FileRepository, tmp_path: Path) -> None:
    claude_fixture(tmp_path / "a")
    import_from(repo, "claude-code", [tmp_path / "a"], cwd=Path(PROJECT))
    second = tmp_path / "b" / "other.jsonl"
    second.parent.mkdir()
    second.write_text((tmp_path / "a/s-claude-1.jsonl").read_text().replace("claude-1", "claude-2"))
    result = import_from(repo, "claude-code", [second], cwd=Path(PROJECT))
    meta = repo.get(result.entries[0].session_id or "")
    assert meta.name is None and meta.custom_fields["title"] == "fix-login"


def test_dry_run_writes_nothing(repo: FileRepository, sessions_dir: Path, tmp_path: Path) -> None:
    result = import_from(repo, "codex", [codex_fixture(tmp_path / "codex")], cwd=Path(PROJECT), dry_run=True)
    assert [e.action for e in result.entries] == ["imported"] and result.messages_imported == 2
    assert repo.list() == [] and not sessions_dir.exists()


def test_a_huge_message_is_cut_to_the_limit(repo: FileRepository, tmp_path: Path) -> None:
    file = tmp_path / "big.json"
    state = {
        "conversation_id": "big",
        "history": [
            {
                "user": {"content": {"Prompt": {"prompt": "x" * (MAX_MESSAGE_CHARS + 10)}}},
                "assistant": {"Response": {"content": "ok"}},
            }
        ],
    }
    file.write_text(json.dumps(state))
    result = import_from(repo, "amazon-q", [file], cwd=Path(PROJECT))
    first = repo.load_messages(result.entries[0].session_id or "").messages[0].content
    assert len(first) < MAX_MESSAGE_CHARS + 100 and first.endswith("more characters not imported]")
