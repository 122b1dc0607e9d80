"""End to end: a reply taller than the terminal, streamed by a server into the real binary.

The binary runs in a 24-row pseudo-terminal; its output is fed to a terminal emulator (pyte), so
the test reads the screen and the scrollback as a user would see them, not the raw byte stream.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pexpect
import pyte
import pytest

pytestmark = pytest.mark.slow

_SCRIPT = Path(sys.executable).parent / "chatcli"
CHATCLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "chatcli"]
ROWS, COLUMNS = 24, 80
PARAGRAPHS = 60
PAUSE_AFTER = 45
PROMPT = "you ›"
TIMEOUT = 20.0


def paragraph(number: int) -> str:
    """A paragraph two or three rows tall on an 80-column screen."""
    return f"Paragraph {number:02d}: " + " ".join(f"word{number}x{i}" for i in range(14))


class ReplyServer(ThreadingHTTPServer):
    """An OpenAI-compatible server streaming one 60-paragraph reply; it holds the stream after
    paragraph 45 until :attr:`release` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()
        self.paused = threading.Event()
        self.requests: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ReplyServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _chunk(self, text: str) -> None:
        payload = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.requests.append(json.loads(self.rfile.read(length) or b"{}"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for number in range(1, PARAGRAPHS + 1):
            text = paragraph(number)
            middle = len(text) // 2
            for part in (text[:middle], text[middle:], "\n\n"):
                self._chunk(part)
                time.sleep(0.003)
            if number == PAUSE_AFTER:
                self.server.paused.set()
                self.server.release.wait(TIMEOUT)
        self._chunk("The end.")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


@pytest.fixture
def server() -> Iterator[ReplyServer]:
    srv = ReplyServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


class Terminal:
    """The child's output replayed on an emulated terminal, with its scrollback."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.screen = pyte.HistoryScreen(COLUMNS, ROWS, history=5000)
        self.stream = pyte.Stream(self.screen)

    def display(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def scrollback(self) -> list[str]:
        return ["".join(line[x].data for x in range(COLUMNS)).rstrip() for line in self.screen.history.top]

    def everything(self) -> str:
        return "\n".join(self.scrollback() + self.display())

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        """Read the child's output until ``condition()`` holds; fail with the screen after ``timeout``."""
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; screen:\n" + "\n".join(self.display()))
            self.pump(0.1)

    def pump(self, seconds: float) -> None:
        """Feed whatever the child writes within ``seconds`` to the emulator."""
        with contextlib.suppress(pexpect.TIMEOUT):
            self.stream.feed(self.child.read_nonblocking(65536, timeout=seconds))


@pytest.fixture
def terminal(tmp_path: Path, server: ReplyServer) -> Iterator[Terminal]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHATCLI_", "OPENAI_", "TERM_PROGRAM", "TMUX")) and k != "NO_COLOR"
    }
    env.update(
        CHATCLI_SESSIONS_DIR=str(tmp_path / "sessions"),
        CHATCLI_LOG_DIR=str(tmp_path / "logs"),
        TERM="xterm-256color",
        PYTHONUNBUFFERED="1",
        PROMPT_TOOLKIT_NO_CPR="1",  # nobody answers the cursor position request
    )
    args = ["--backend", "openai", "--base-url", server.base_url, "--model", "test-model"]
    child = pexpect.spawn(
        CHATCLI[0],
        [*CHATCLI[1:], *args],
        env=env,
        cwd=str(tmp_path),
        dimensions=(ROWS, COLUMNS),
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    try:
        yield Terminal(child)
    finally:
        child.close(force=True)


def _shown(text: str) -> Callable[[Terminal], bool]:
    return lambda term: any(text in line for line in term.display())


def test_a_reply_taller_than_the_window_keeps_updating_and_is_printed_once(
    terminal: Terminal, server: ReplyServer
) -> None:
    """The window froze at paragraph 15 with ``...`` for the rest of a 60-paragraph reply, and
    keys typed meanwhile left stale lines behind. Now the newest paragraph is on screen while the
    reply streams, every paragraph ends up in the scrollback exactly once, and typed keys wait for
    the next prompt."""
    terminal.wait_for(lambda: _shown(PROMPT)(terminal), "the prompt")
    terminal.child.send("tell me a long story\r")
    assert server.paused.wait(TIMEOUT), "the server never got the request"
    terminal.wait_for(lambda: _shown(f"Paragraph {PAUSE_AFTER}:")(terminal), f"paragraph {PAUSE_AFTER}")
    terminal.child.send("abc")  # typed while the reply streams
    terminal.pump(0.5)
    assert not _shown("abc")(terminal), "\n".join(terminal.display())
    server.release.set()
    terminal.wait_for(
        lambda: "The end." in terminal.everything() and _shown(f"{PROMPT} abc")(terminal),
        "the prompt after the reply, holding the keys typed meanwhile",
    )
    terminal.pump(0.3)

    lines = terminal.scrollback() + terminal.display()
    for number in range(1, PARAGRAPHS + 1):
        found = [line for line in lines if line.startswith(f"Paragraph {number:02d}:")]
        assert len(found) == 1, (number, "\n".join(lines))
    assert sum("The end." in line for line in lines) == 1
    assert not any(re.search(r"\.\.\.|…", line) for line in lines if line.startswith("Paragraph"))
    typed = [line for line in lines if "abc" in line and "word" not in line]
    assert typed == [f"{PROMPT} abc"], "\n".join(lines)
    assert len(server.requests) == 1
