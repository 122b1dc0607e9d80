"""Ctrl-C at the moments the first tests of stopping cleanly did not reach (found by attacking
the real binary): each test sends SIGINT to ``python -m chatcli`` and checks that what the
screen says happened is what is on disk."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatcli.commands.catalog import build_registry
from chatcli.commands.context import CommandContext
from chatcli.commands.results import Cancelled
from chatcli.errors import ExitCode
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import ago, seed


def _sessions_in(folder: Path) -> int:
    return sum(1 for entry in os.scandir(folder) if not entry.name.startswith(".")) if folder.exists() else 0


def _start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """``chatcli ARGS`` with its output piped (no terminal: no question, no progress bar)."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1", COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-m", "chatcli", *args],
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interrupt_once_saving(proc: subprocess.Popen[str], store: Path) -> tuple[str, str]:
    """Ctrl-C as soon as the first session is on disk; the command's output once it ended."""
    deadline = time.monotonic() + 60
    while _sessions_in(store) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=120)


def _claude_sessions(folder: Path, count: int) -> None:
    """``count`` Claude Code transcripts (one exchange each) in ``folder``."""
    folder.mkdir(parents=True)
    for i in range(count):
        records = [
            {
                "type": "user",
                "uuid": f"u{i}",
                "parentUuid": None,
                "sessionId": f"cc-{i}",
                "timestamp": "2025-01-01T00:00:00Z",
                "message": {"role": "user", "content": f"question {i}"},
            },
            {
                "type": "assistant",
                "uuid": f"a{i}",
                "parentUuid": f"u{i}",
                "sessionId": f"cc-{i}",
                "timestamp": "2025-01-01T00:00:01Z",
                "message": {"role": "assistant", "content": [{"type": "text", "text": f"answer {i}"}]},
            },
        ]
        (folder / f"s{i:05d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_ctrl_c_stops_an_import_from_another_tool_at_its_next_session(tmp_path: Path) -> None:
    """Before, ``--from`` asked only between locations (a tool's folder is one): the first Ctrl-C
    was ignored until every session of the folder was imported."""
    folder, store = tmp_path / "claude", tmp_path / "sessions"
    _claude_sessions(folder, 800)
    proc = _start(
        "sessions", "--sessions-dir", str(store), "import", "--from", "claude-code", str(folder), cwd=tmp_path
    )
    out, err = _interrupt_once_saving(proc, store)
    saved = _sessions_in(store)
    assert proc.returncode == ExitCode.INTERRUPTED, (out, err)
    assert 0 < saved < 800, (saved, out)
    found = re.search(r"Imported from claude-code: (\d+) new sessions?,", out)
    assert found is not None and int(found.group(1)) == saved, (saved, out)
    assert "cancelled: the rest was not imported" in out, out
    assert "Traceback" not in out + err and "Interrupted." not in err


def _recorder(asked: list[str]) -> Callable[[str], bool]:
    """A confirm callback that records each question and answers yes."""

    def confirm(question: str) -> bool:
        asked.append(question)
        return True

    return confirm


def _ctrl_c_while_finding(
    monkeypatch: pytest.MonkeyPatch, target: object, method: str, ctx: CommandContext
) -> None:
    """Ctrl-C (``ctx.cancelled``) arrives while ``target.method`` finds what to remove."""
    original = getattr(target, method)

    def finding(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        ctx.cancelled.set()
        return found

    monkeypatch.setattr(target, method, finding)


def test_ctrl_c_before_the_prune_question_asks_nothing_and_deletes_nothing(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, a Ctrl-C pressed while prune looked for old sessions was held back: the question
    came up all the same, and a 'y' then deleted nothing ("Cancelled: 2 sessions not deleted")."""
    for text in ("an old one", "another old one"):
        seed(repo, text, when=ago(60 * 24 * 200))
    asked: list[str] = []
    service = SessionService(repo)
    ctx = CommandContext(service, confirm=_recorder(asked), prefix="chatcli ")
    _ctrl_c_while_finding(monkeypatch, service, "prune_candidates", ctx)
    result = build_registry().run(ctx, ["sessions", "prune", "--older-than", "90d"], scope="cli")
    assert asked == []
    assert isinstance(result, Cancelled) and result.message == "Nothing was deleted."
    assert len(repo.list()) == 2 and not repo.trashed()


def test_ctrl_c_before_the_empty_trash_question_asks_nothing_and_erases_nothing(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = SessionService(repo)
    for text in ("one", "two"):
        service.delete(seed(repo, text).id)
    asked: list[str] = []
    ctx = CommandContext(service, confirm=_recorder(asked), prefix="chatcli ")
    _ctrl_c_while_finding(monkeypatch, service.trash, "candidates", ctx)
    result = build_registry().run(ctx, ["sessions", "trash", "empty"], scope="cli")
    assert asked == []
    assert isinstance(result, Cancelled) and result.message.startswith("Nothing was erased")
    assert len(repo.trashed()) == 2


def test_ctrl_c_ends_an_import_of_what_is_typed_on_the_terminal_at_once(tmp_path: Path) -> None:
    """Before, ``sessions import -`` reading the terminal held the first Ctrl-C back (waiting for a
    next record that never came): nothing happened until a second Ctrl-C."""
    import pexpect  # type: ignore[import-untyped]

    store = tmp_path / "sessions"
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "chatcli", "sessions", "--sessions-dir", str(store), "import", "-"],
        env=env,
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=30,
    )
    try:
        child.sendline('{"id": "5a1e2f4c-0000-4000-8000-000000000001", "messages": []}')
        deadline = time.monotonic() + 30
        while not (store / ".locks" / "names.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the import holds the names lock once it reads the input
        time.sleep(0.3)
        child.sendintr()
        ended = child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=10) == 0
    finally:
        child.close(force=True)
    assert ended, "the first Ctrl-C did not end the import"
    assert child.exitstatus == ExitCode.INTERRUPTED and "Interrupted." in child.before, child.before
    assert "Traceback" not in child.before and _sessions_in(store) == 0


def test_a_ctrl_c_while_a_batch_moves_in_leaves_no_session_staged(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second Ctrl-C of an import stops it at once, possibly among the renames that move a
    batch's staged sessions into place: before, the ones not yet moved stayed behind as hidden
    staging folders (``doctor`` then reported an interrupted creation)."""
    from chatcli.session.models import Message, SessionMetadata, new_session_id
    from chatcli.session.store.layout import STAGING_PREFIX

    renamed: list[str] = []
    real_rename = os.rename

    def rename(source: str, target: str) -> None:
        if len(renamed) == 2:
            raise KeyboardInterrupt
        real_rename(source, target)
        renamed.append(target)

    sessions = []
    for i in range(5):
        messages = [Message(role="user", content=f"question {i}")]
        sessions.append(
            (SessionMetadata.from_messages(new_session_id(), messages, when_empty=ago(1)), messages)
        )
    repo.create(*sessions[0])  # the store exists, with its index
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        list(repo.create_many([sessions[1:]]))
    monkeypatch.setattr(os, "rename", real_rename)
    left = [entry.name for entry in os.scandir(repo.root) if entry.name.startswith(STAGING_PREFIX)]
    assert left == []
    assert sorted(m.id for m in repo.list()) == sorted(m.id for m, _ in sessions[:3])


def test_a_prune_stopped_by_ctrl_c_does_not_go_on_to_empty_the_expired_trash(
    repo: FileRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, a prune stopped by Ctrl-C still applied the trash retention afterwards: it went on
    erasing every expired session of the trash for good, none of it stopped or shown."""
    from datetime import timedelta

    from chatcli.session import trash_service
    from chatcli.session.fields import utc_now

    service = SessionService(repo)
    service.delete(seed(repo, "trashed long ago").id)
    for text in ("an old one", "another old one"):
        seed(repo, text, when=ago(60 * 24 * 200))
    later = utc_now() + timedelta(days=30)
    monkeypatch.setattr(trash_service, "utc_now", lambda: later)  # the trashed one is expired
    ctx = CommandContext(service, prefix="chatcli ", trash_retention=lambda: "7d")
    original = service.prune

    def prune(*args: Any, **kwargs: Any) -> Any:
        ctx.cancelled.set()  # Ctrl-C as the prune starts
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "prune", prune)
    build_registry().run(ctx, ["sessions", "prune", "--older-than", "90d", "--yes"], scope="cli")
    assert len(repo.trashed()) == 1 and len(repo.list()) == 2
