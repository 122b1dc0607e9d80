"""The chat REPL against a third-party OpenAI-compatible server: llmock (from PyPI, the ``test`` extra).

llmock runs as its own process on 127.0.0.1, serves faults queued through its admin API (HTTP
errors, a stream cut short) and records the body of every request it received; the tests assert
on those bodies: user/assistant alternating from a user message, no empty message, the history
after failed turns and after a resume.
"""

from __future__ import annotations

import io
import json
import re
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
from tests.helpers import Llmock, Repl, assert_well_formed, chatcli


@pytest.fixture
def repls(llmock: Llmock, tmp_path: Path) -> Iterator[Any]:
    """Builds REPLs on the OpenAI backend pointed at llmock; all share one sessions folder."""
    with ExitStack() as stack:

        def make(system_prompt: str | None = None) -> Repl:
            pipe = stack.enter_context(create_pipe_input())
            out = io.StringIO()
            backend = OpenAIBackend(model="gpt-4o-mini", base_url=llmock.url + "/v1", read_timeout=10.0)
            repo = FileRepository(tmp_path / "sessions", lock_timeout=2.0)
            service = SessionService(repo)
            console = Console(file=out, width=100)
            app = ChatApp(
                service, backend, console, system_prompt=system_prompt, input=pipe, output=DummyOutput()
            )
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


def test_usage_and_system_prompt_against_llmock(llmock: Llmock, repls: Any, tmp_path: Path) -> None:
    r = repls(system_prompt="Be brief.")
    assert r.run("hi\r", "and again\r") == 0
    bodies = llmock.raw_bodies()
    assert len(bodies) == 2
    for body in bodies:
        assert body["stream_options"] == {"include_usage": True}
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert_well_formed([(m["role"], m["content"]) for m in body["messages"][1:]])
    replies = [line for line in saved(r) if line["role"] == "assistant"]
    reported = [llmock.usage_for(body) for body in bodies]
    assert [line["usage"] for line in replies] == reported
    assert {line["model"] for line in replies} == {"gpt-4o-mini"}
    total = sum(u["total_tokens"] for u in reported)
    assert total > 0
    bar = "".join(text for _, text, *_ in r.app._toolbar())
    prompt, completion = (sum(u[key] for u in reported) for key in ("prompt_tokens", "completion_tokens"))
    assert f"│ {total:,} tokens ({prompt:,} in, {completion:,} out) │" in bar

    sid = r.session_dirs()[0].name
    where = ["--sessions-dir", str(tmp_path / "sessions")]
    show = json.loads(chatcli(["sessions", "show", sid, "--json", *where], cwd=tmp_path).out)
    assert show["system_prompt"] == "Be brief."
    assert show["session"]["usage"]["total_tokens"] == total
    assert show["session"]["usage"]["by_model"]["gpt-4o-mini"]["replies"] == 2
    assert [m["usage"] for m in show["messages"] if m["role"] == "assistant"] == reported
    listed = json.loads(chatcli(["sessions", "list", "--json", *where], cwd=tmp_path).out)
    assert listed["sessions"][0]["usage"] == show["session"]["usage"]
    plain = chatcli(["sessions", "show", sid, *where], cwd=tmp_path).out
    assert re.search(rf"Tokens +{total:,} \(\d+ in, \d+ out\) over 2 replies", plain), plain
    assert re.search(r"System prompt +Be brief\.", plain), plain

    later = repls(system_prompt="A different prompt, configured since.")
    later.run(f"/resume {sid}\r", "third\r")
    assert llmock.raw_bodies()[-1]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_a_server_refusing_stream_options_is_asked_again_without_it(llmock: Llmock, repls: Any) -> None:
    llmock.queue(
        {"type": "fail", "status": 400, "message": "Unrecognized request argument supplied: stream_options"}
    )
    r = repls()
    assert r.run("hi\r", "more\r") == 0
    assert "HTTP 400" not in r.output and "not answered" not in r.output
    bodies = llmock.raw_bodies()
    assert ["stream_options" in body for body in bodies] == [True, False, False]
    assert [line["role"] for line in saved(r)] == ["user", "assistant", "user", "assistant"]
    assert all("usage" not in line for line in saved(r))  # nothing asked, nothing reported


def test_a_400_about_something_else_is_not_retried(llmock: Llmock, repls: Any) -> None:
    llmock.queue({"type": "fail", "status": 400, "message": "messages: too many"})
    r = repls()
    assert r.run("hi\r") == 0
    assert "HTTP 400" in r.output
    assert ["stream_options" in body for body in llmock.raw_bodies()] == [True]
