"""llmock, a real OpenAI-compatible server run on a free local port, and checks of what it received."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: llmock's command, installed from PyPI with the ``test`` extra next to this interpreter.
LLMOCK = Path(sys.executable).with_name("llmock")


@dataclass
class Llmock:
    """A running llmock server: queue behaviours (faults, scripted replies), read what it received."""

    url: str

    def call(self, method: str, path: str, payload: object | None = None) -> Any:
        """One admin API call; the decoded JSON answer."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def queue(self, *behaviors: dict[str, Any]) -> None:
        """Queue ``behaviors`` (``{"type": "fail", "status": 401, "times": 1}`` …) for the next requests."""
        self.call("POST", "/_llmock/scenario", {"behaviors": list(behaviors)})

    def bodies(self) -> list[list[tuple[str, str]]]:
        """(role, content) of the messages of every chat request received, oldest first."""
        return [[(m["role"], m["content"]) for m in body["messages"]] for body in self.raw_bodies()]

    def raw_bodies(self) -> list[dict[str, Any]]:
        """The JSON body of every chat request received, oldest first."""
        records = self.call("GET", "/_llmock/requests")["requests"]
        return [r["body"] for r in records if r["path"].endswith("/chat/completions")]

    def usage_for(self, body: dict[str, Any]) -> dict[str, int]:
        """The usage llmock reports in its stream for ``body`` (sent again, as chatcli sent it)."""
        request = urllib.request.Request(
            self.url + "/v1/chat/completions",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            lines = response.read().decode().splitlines()
        chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
        usage: dict[str, int] = chunks[-1]["usage"]
        return usage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_llmock(workdir: Path) -> Iterator[Llmock]:
    """Start llmock on a free port of 127.0.0.1 (its log in ``workdir/llmock.log``), stop it after.

    The caller drops any proxy variables first (the clients must reach 127.0.0.1 directly).
    """
    port = _free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    command = [str(LLMOCK), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with (workdir / "llmock.log").open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    server = Llmock(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.call("GET", "/health")
                break
            except OSError:
                assert process.poll() is None, (workdir / "llmock.log").read_text()
                assert time.monotonic() < deadline, "llmock did not start"
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(10)


def assert_well_formed(messages: list[tuple[str, str]]) -> None:
    """A request's messages alternate user/assistant from a user message, none of them empty."""
    roles = [role for role, _ in messages]
    assert roles and roles[0] == "user", messages
    assert all(a != b for a, b in itertools.pairwise(roles)), messages
    assert all(content.strip() for _, content in messages), messages
