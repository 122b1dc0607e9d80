"""OpenAIBackend in the REPL: failed turns never break the session, unanswered messages, Ctrl-C,
trimming.

OpenAIBackend against a real HTTP server on 127.0.0.1 (:mod:`tests.helpers.openai_server`) serving
each failure mode."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from chatcli.repl.app import ChatApp
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import Repl, until
from tests.helpers.openai_server import FakeServer, backend_for

# --------------------------------------------------------------------------- the chat REPL on this server

REPLY = "Why did the chicken cross?"


@dataclass
class ChatRepls:
    """Builds REPLs on the OpenAI backend pointed at the fake server; all share one sessions folder."""

    server: FakeServer
    root: Path
    stack: ExitStack
    made: list[Repl] = field(default_factory=list)

    def __call__(self, scenario: str = "seq", history_budget: int = 24_000) -> Repl:
        pipe = self.stack.enter_context(create_pipe_input())
        out = io.StringIO()
        repo = FileRepository(self.root, lock_timeout=2.0)
        service = SessionService(repo)
        app = ChatApp(
            service,
            backend_for(self.server, scenario),
            Console(file=out, width=100),
            history_budget=history_budget,
            input=pipe,
            output=DummyOutput(),
        )
        repl = Repl(app, service, repo, self.root, pipe, out)
        self.made.append(repl)
        return repl


@pytest.fixture
def chat_repl(server: FakeServer, tmp_path: Path) -> Iterator[ChatRepls]:
    with ExitStack() as stack:
        yield ChatRepls(server, tmp_path / "sessions", stack)


def sent(server: FakeServer) -> list[list[tuple[str, str]]]:
    """(role, content) of the messages of every request the server received, in order."""
    return [[(m["role"], m["content"]) for m in r.body["messages"]] for r in server.requests]


def assert_well_formed(messages: list[tuple[str, str]]) -> None:
    """An optional system message, then user/assistant alternating from a user message; no empty text."""
    roles = [role for role, _ in messages]
    if roles[:1] == ["system"]:
        roles = roles[1:]
    assert roles and roles[0] == "user", messages
    assert "system" not in roles, messages
    assert all(a != b for a, b in itertools.pairwise(roles)), messages
    assert all(content.strip() for _, content in messages), messages


def saved(r: Repl) -> list[tuple[str, str]]:
    [folder] = r.session_dirs()
    return [(line["role"], line["content"]) for line in r.lines(folder.name)]


def test_failed_turns_never_break_the_session(server: FakeServer, chat_repl: ChatRepls) -> None:
    server.queue = ["unauthorized", "ok", "servererror", "ok", "ok"]
    r = chat_repl()
    assert r.run("hi\r", "/retry\r", "two\r", "three\r") == 0

    bodies = sent(server)
    assert bodies[0] == [("user", "hi")]
    assert bodies[1] == [("user", "hi")]  # /retry sends the unanswered message again, once
    assert bodies[3] == [("user", "hi"), ("assistant", REPLY), ("user", "two\n\nthree")]
    assert saved(r) == [
        ("user", "hi"),
        ("assistant", REPLY),
        ("user", "two"),
        ("user", "three"),
        ("assistant", REPLY),
    ]
    assert "/retry" in r.output and "Traceback" not in r.output

    # Resumed later, the session carries on with the same well-formed context.
    sid = r.session_dirs()[0].name
    again = chat_repl()
    again.run(f"/resume {sid}\r", "four\r")
    assert sent(server)[4] == [*bodies[3], ("assistant", REPLY), ("user", "four")]
    for body in sent(server):
        assert_well_formed(body)


def test_an_unanswered_message_is_shown_on_resume_and_retry_answers_it(
    server: FakeServer, chat_repl: ChatRepls
) -> None:
    server.queue = ["servererror", "ok"]
    first = chat_repl()
    first.run("hello?\r")
    sid = first.session_dirs()[0].name
    assert saved(first) == [("user", "hello?")]

    later = chat_repl()
    later.run(f"/resume {sid}\r", "/retry\r", "/retry\r")
    assert "not answered" in later.output
    assert "Nothing to retry" in later.output  # the second /retry: the message has its reply now
    assert sent(server) == [[("user", "hello?")], [("user", "hello?")]]
    assert saved(later) == [("user", "hello?"), ("assistant", REPLY)]


def test_ctrl_c_before_the_first_token_saves_and_sends_no_empty_reply(
    server: FakeServer, chat_repl: ChatRepls
) -> None:
    server.queue = ["hang", "ok"]
    r = chat_repl()

    async def scenario(repl: Repl) -> None:
        repl.type("hi\r")
        await until(lambda: len(server.requests) == 1, what="the first request")
        await until(repl.app.cancel_reply, what="the reply to be cancelled")
        await until(lambda: "interrupted before any reply" in repl.output, what="the notice")
        repl.type("again\r")
        await until(lambda: len(repl.app.messages) == 3, what="the second reply")

    assert r.drive(scenario) == 0
    assert "what arrived was saved" not in r.output
    assert saved(r) == [("user", "hi"), ("user", "again"), ("assistant", REPLY)]
    assert sent(server)[1] == [("user", "hi\n\nagain")]


def test_trimming_keeps_whole_exchanges(server: FakeServer, chat_repl: ChatRepls) -> None:
    server.queue = ["ok"] * 4
    r = chat_repl(history_budget=70)
    r.run("a" * 30 + "\r", "b" * 30 + "\r", "c" * 30 + "\r", "d" * 5 + "\r")

    bodies = sent(server)
    for body in bodies:
        assert_well_formed(body)
    assert bodies[2] == [("user", "c" * 30)]  # the a/b exchange does not fit: dropped whole
    assert bodies[3] == [("user", "c" * 30), ("assistant", REPLY), ("user", "d" * 5)]
