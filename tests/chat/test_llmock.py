"""The chat REPL against a third-party OpenAI-compatible server: llmock (from PyPI, the ``test`` extra).

llmock runs as its own process on 127.0.0.1, serves faults queued through its admin API (HTTP
errors, a stream cut short) and records the body of every request it received; the tests assert
on those bodies: user/assistant alternating from a user message, no empty message, the history
after failed turns and after a resume.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatcli.chat.openai import OpenAIBackend
from chatcli.repl.app import ChatApp
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import Llmock, Repl, assert_well_formed


@pytest.fixture
def repls(llmock: Llmock, tmp_path: Path) -> Iterator[Any]:
    """Builds REPLs on the OpenAI backend pointed at llmock; all share one sessions folder."""
    with ExitStack() as stack:

        def make() -> Repl:
            pipe = stack.enter_context(create_pipe_input())
            out = io.StringIO()
            backend = OpenAIBackend(model="gpt-4o-mini", base_url=llmock.url + "/v1", read_timeout=10.0)
            repo = FileRepository(tmp_path / "sessions", lock_timeout=2.0)
            service = SessionService(repo)
            app = ChatApp(service, backend, Console(file=out, width=100), input=pipe, output=DummyOutput())
            return Repl(app, service, repo, tmp_path / "sessions", pipe, out)

        yield make


def saved(r: Repl) -> list[dict[str, Any]]:
    [folder] = r.session_dirs()
    return r.lines(folder.name)


def test_failed_turns_against_llmock_keep_the_session_usable(llmock: Llmock, repls: Any) -> None:
    llmock.queue(
        {"type": "fail", "status": 401, "times": 1},
        {"type": "fail", "status": 500, "times": 1},
    )
    r = repls()
    assert r.run("hi\r", "still there?\r", "/retry\r") == 0
    assert "refused the API key (HTTP 401)" in r.output and "(HTTP 500)" in r.output
    assert "Traceback" not in r.output

    llmock.queue({"type": "stream_fault", "kind": "truncate", "after_chunks": 2, "times": 1})
    sid = r.session_dirs()[0].name
    later = repls()
    later.run(f"/resume {sid}\r", "next\r", "last\r")

    bodies = llmock.bodies()
    for body in bodies:
        assert_well_formed(body)
    both = ("user", "hi\n\nstill there?")
    assert bodies[:3] == [[("user", "hi")], [both], [both]]
    lines = saved(later)
    assert [(line["role"], line.get("interrupted", False)) for line in lines] == [
        ("user", False),
        ("user", False),
        ("assistant", False),
        ("user", False),
        ("assistant", True),  # the truncated stream: what arrived, marked interrupted
        ("user", False),
        ("assistant", False),
    ]
    answer, partial = lines[2]["content"], lines[4]["content"]
    assert bodies[4] == [
        both,
        ("assistant", answer),
        ("user", "next"),
        ("assistant", partial),
        ("user", "last"),
    ]
