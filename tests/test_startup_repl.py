"""Start-up of the REPL: what the real program has loaded when its first prompt is on screen (and
when the ``--resume`` browser has drawn its first page).

Nearly all of ``chatcli --resume ID``'s time to its prompt is interpreter start-up and imports, so
the first prompt loads only what it shows: the browser, the live reply view, the command results
and the openai backend are imported when first used, and a new session (or the browser's first
page, read from the index) never loads pydantic. Each check runs the real program in a
pseudo-terminal; once the prompt is drawn it is sent SIGUSR1, whose handler (installed before
chatcli is imported) writes ``sys.modules`` to a file.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pexpect
import pytest

from chatcli.session.store import FileRepository
from tests.helpers import seed

pytestmark = pytest.mark.slow

_DUMP_ON_SIGUSR1 = textwrap.dedent(
    """
    import json, os, signal, sys
    out = sys.argv.pop(1)
    def dump(*_):
        with open(out + ".part", "w") as f:
            json.dump(sorted(sys.modules), f)
        os.replace(out + ".part", out)
    signal.signal(signal.SIGUSR1, dump)
    from chatcli.__main__ import main
    sys.exit(main(sys.argv[1:]))
    """
)

#: Never loaded by the time the chat's first prompt is drawn, whatever the session: the browser,
#: the live reply view and the chat turn's streaming, the command results, the openai backend,
#: and what only a config file or a typo needs.
NOT_AT_THE_PROMPT = (
    "chatcli.repl.chat_browser",
    "chatcli.repl.picker",
    "chatcli.repl.picker_actions",
    "chatcli.repl.picker_projects",
    "chatcli.repl.picker_filter",
    "chatcli.repl.picker_rows",
    "chatcli.repl.turn",
    "chatcli.render.reply",
    "rich.live",
    "chatcli.repl.clear",
    "chatcli.commands.results",
    "chatcli.chat.openai",
    "chatcli.chat.server_errors",
    "httpx",
    "tomllib",
    "difflib",
)
#: A new session has nothing to validate or show: no pydantic, no transcript renderer.
NOT_FOR_A_NEW_SESSION = ("pydantic", "pydantic_core", "chatcli.session.models", "chatcli.render.transcript")
#: The browser's first page comes from the index: neither pydantic nor the chat is loaded.
NOT_AT_THE_BROWSERS_FIRST_PAINT = (
    "pydantic",
    "chatcli.session.models",
    "chatcli.repl.app",
    "chatcli.repl.turn",
    "chatcli.chat.turn",
    "chatcli.chat.offline",
    "chatcli.chat.openai",
    "chatcli.commands.results",
    "httpx",
    "tomllib",
)


def loaded(modules: set[str], names: Sequence[str]) -> list[str]:
    """The modules of ``names`` (a package counts with its submodules) that were loaded."""
    return sorted(m for m in modules for n in names if m == n or m.startswith(n + "."))


def modules_when_drawn(tmp_path: Path, args: Sequence[str], drawn: str, leave: str) -> set[str]:
    """``chatcli ARGS…`` in a pseudo-terminal: the modules loaded once ``drawn`` is on screen
    (then ``leave`` is typed and the program must end with exit status 0)."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_", "PYTHON"))}
    env.update(
        TERM="xterm-256color",
        NO_COLOR="1",
        PROMPT_TOOLKIT_NO_CPR="1",  # nobody answers the cursor position request here
        CHATCLI_DATA_DIR=str(tmp_path / "data"),
        CHATCLI_LOG_DIR=str(tmp_path / "logs"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
    )
    child = pexpect.spawn(
        sys.executable,
        ["-c", _DUMP_ON_SIGUSR1, str(out), *args],
        env=env,
        cwd=str(tmp_path),
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=30,
    )
    try:
        child.expect_exact(drawn)
        os.kill(child.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send(leave)
        child.expect(pexpect.EOF)
    except (pexpect.TIMEOUT, pexpect.EOF) as exc:
        raise AssertionError(f"{type(exc).__name__}; screen so far:\n{child.before}") from None
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    return set(json.loads(out.read_text()))


@pytest.fixture
def sessions_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "sessions"
    repo = FileRepository(folder)
    seed(repo, "how do I fix the **login** bug", replies=["check the `token` expiry"], name="login-bug")
    seed(repo, "a second session", replies=["a second reply"])
    return folder


def test_resuming_a_session_loads_only_what_its_first_prompt_shows(
    sessions_dir: Path, tmp_path: Path
) -> None:
    args = ["--sessions-dir", str(sessions_dir), "--resume", "login-bug"]
    modules = modules_when_drawn(tmp_path, args, "you ›", "\x04")
    # It is shown, its reply as Markdown, without the live view that streams a reply.
    assert {"chatcli.render.transcript", "chatcli.render.markdown", "chatcli.session.models"} <= modules
    assert loaded(modules, NOT_AT_THE_PROMPT) == []


def test_a_new_session_loads_no_pydantic_before_its_first_prompt(sessions_dir: Path, tmp_path: Path) -> None:
    modules = modules_when_drawn(tmp_path, ["--sessions-dir", str(sessions_dir)], "you ›", "\x04")
    assert "prompt_toolkit" in modules and "chatcli.repl.app" in modules
    assert loaded(modules, NOT_AT_THE_PROMPT) == []
    assert loaded(modules, NOT_FOR_A_NEW_SESSION) == []


def test_the_browsers_first_paint_loads_neither_pydantic_nor_the_chat(
    sessions_dir: Path, tmp_path: Path
) -> None:
    args = ["--sessions-dir", str(sessions_dir), "--resume"]
    modules = modules_when_drawn(tmp_path, args, "Esc cancels", "\x1b")
    assert "chatcli.repl.picker" in modules
    assert loaded(modules, NOT_AT_THE_BROWSERS_FIRST_PAINT) == []
