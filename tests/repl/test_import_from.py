"""``/sessions import --from TOOL`` in the chat: the imported session can be resumed and continued."""

from __future__ import annotations

import json
from pathlib import Path

from chatcli.render.imports import progress_callback
from tests.helpers import Repl, until


def _claude_transcript(folder: Path) -> Path:
    # Format: Claude Code's ~/.claude/projects/<project>/<session>.jsonl (type, uuid, parentUuid,
    # message.content blocks), as in tests/helpers/tool_histories.py's fuller fixture.
    folder.mkdir(parents=True)
    records = [
        {"type": "summary", "summary": "deploy-notes", "leafUuid": "a1"},
        {
            "type": "user",
            "uuid": "u1",
            "parentUuid": None,
            "sessionId": "cc-9",
            "timestamp": "2025-05-01T09:00:00Z",
            "message": {"role": "user", "content": "How do I deploy?"},
        },
        {
            "type": "assistant",
            "uuid": "a1",
            "parentUuid": "u1",
            "timestamp": "2025-05-01T09:00:05Z",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "Run make deploy."}]},
        },
    ]
    path = folder / "cc-9.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_imported_session_is_resumed_and_continued(repl: Repl, tmp_path: Path) -> None:
    transcript = _claude_transcript(tmp_path / "claude")

    async def scenario(r: Repl) -> None:
        r.type(f"/sessions import --from claude-code {transcript}\r")
        await until(lambda: "Imported from claude-code: 1 new session" in r.output, what="the import")
        r.type("/resume deploy-notes\r")
        await until(lambda: r.app.current_id is not None, what="the resumed session")
        r.type("and to staging?\r")
        sid = r.app.current_id
        assert sid is not None
        await until(lambda: r.repo.get(sid).message_count == 4, what="the reply")

    repl.drive(scenario)
    sid = repl.app.current_id
    assert sid is not None
    lines = repl.lines(sid)
    assert [line["role"] for line in lines] == ["user", "assistant", "user", "assistant"]
    assert lines[0]["content"] == "How do I deploy?" and lines[2]["content"] == "and to staging?"
    assert lines[3]["content"].startswith("**Offline reply #2**")  # the imported prompt was in the context
    assert repl.repo.get(sid).custom_fields["imported_from"]["source_id"] == "cc-9"


def test_no_progress_bar_without_a_terminal() -> None:
    with progress_callback("Importing") as callback:
        assert callback is None  # standard error is captured by pytest: not a terminal
