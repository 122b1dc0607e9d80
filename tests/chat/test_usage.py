"""What each session cost, and the system prompt: usage parsed from the stream, saved per reply,
totalled per session (metadata and index), shown by the toolbar, and a system prompt sent first."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chatcli.chat.backend import ChatMessage, StreamReport, TokenUsage
from chatcli.chat.offline import OfflineBackend
from chatcli.chat.openai import OpenAIBackend, parse_sse
from chatcli.chat.turn import reply_message
from chatcli.config import ConfigError, load_settings
from chatcli.render.jsonout import session_to_json, to_json
from chatcli.repl.toolbar import toolbar_text
from chatcli.repl.turn import ReplyStream
from chatcli.session.fields import SessionBrief, TokenTotals
from chatcli.session.models import Message, ReplyUsage, SessionMetadata
from chatcli.session.service import SessionService
from chatcli.session.store import FileRepository
from tests.helpers import ScriptedBackend, assistant, user


async def _lines(*payloads: object) -> AsyncIterator[str]:
    for payload in payloads:
        yield "data: " + (payload if isinstance(payload, str) else json.dumps(payload))
        yield ""


def _chunk(content: str | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"model": "gpt-4o-mini-2024", "choices": [{"delta": delta, "finish_reason": finish}], **extra}


def _parse(*payloads: object) -> tuple[str, StreamReport]:
    report = StreamReport()

    async def run() -> str:
        return "".join([c async for c in parse_sse(_lines(*payloads), report=report)])

    return asyncio.run(run()), report


USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}


def test_the_last_usage_chunk_is_reported_with_the_model() -> None:
    text, report = _parse(
        _chunk("Hel", usage=None),
        _chunk("lo", usage=None),
        _chunk(None, "stop", usage=None),
        {"model": "gpt-4o-mini-2024", "choices": [], "usage": USAGE},
        "[DONE]",
    )
    assert text == "Hello"
    assert report == StreamReport("gpt-4o-mini-2024", TokenUsage(12, 5, 17))


def test_a_stream_without_usage_reports_none() -> None:
    text, report = _parse(_chunk("Hi"), _chunk(None, "stop"), "[DONE]")
    assert text == "Hi" and report.usage is None and report.model == "gpt-4o-mini-2024"


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -1, "completion_tokens": 5, "total_tokens": 4},
        {"prompt_tokens": "12", "completion_tokens": 5, "total_tokens": 17},
        {"prompt_tokens": 1.5, "completion_tokens": 5, "total_tokens": 17},
        {"prompt_tokens": True, "completion_tokens": 5, "total_tokens": 17},
        {"prompt_tokens": 2**60, "completion_tokens": 5, "total_tokens": 17},
        {"completion_tokens": 5},
        [1, 2, 3],
    ],
)
def test_a_malformed_usage_is_ignored_never_an_error(usage: object) -> None:
    text, report = _parse(_chunk("Hi", "stop"), {"choices": [], "usage": usage}, "[DONE]")
    assert text == "Hi" and report.usage is None


def test_a_missing_total_is_prompt_plus_completion() -> None:
    _, report = _parse(
        _chunk("Hi", "stop"), {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}, "[DONE]"
    )
    assert report.usage == TokenUsage(3, 4, 7)


def test_the_request_asks_for_usage_until_the_server_refuses_it() -> None:
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1")
    messages = [ChatMessage("user", "hi")]
    assert backend.request_body(messages)["stream_options"] == {"include_usage": True}
    backend.asks_for_usage = False
    assert "stream_options" not in backend.request_body(messages)


def test_the_offline_model_reports_no_usage() -> None:
    report = StreamReport()

    async def run() -> None:
        async for _ in OfflineBackend().stream([ChatMessage("user", "hi")], report):
            pass

    asyncio.run(run())
    assert report == StreamReport()


# -- saved per reply, totalled per session ----------------------------------------------------------


def _reply(text: str, model: str | None, usage: tuple[int, int, int] | None) -> Message:
    counts = (
        None
        if usage is None
        else ReplyUsage(prompt_tokens=usage[0], completion_tokens=usage[1], total_tokens=usage[2])
    )
    return Message(role="assistant", content=text, model=model, usage=counts)


def test_a_line_keeps_model_and_usage_and_old_lines_read_as_before() -> None:
    reply = _reply("hello", "m1", (1, 2, 3))
    line = json.loads(reply.to_line())
    assert line["model"] == "m1" and line["usage"] == {
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "total_tokens": 3,
    }
    assert Message.model_validate_json(reply.to_line()) == reply
    plain = json.loads(assistant("x").to_line())
    assert "model" not in plain and "usage" not in plain  # lines without them stay as they were
    old = Message.model_validate_json(
        '{"role":"assistant","content":"x","timestamp":"2025-01-01T00:00:00Z","id":"a"}'
    )
    assert old.model is None and old.usage is None


def test_totals_per_model_from_messages_and_as_appended() -> None:
    messages = [
        user("a"),
        _reply("1", "m1", (10, 2, 12)),
        user("b"),
        _reply("2", "m2", (20, 3, 23)),
        user("c"),
        _reply("3", "m1", (30, 4, 34)),
        user("d"),
        _reply("4", "m1", None),  # reported nothing: not counted
    ]
    derived = SessionMetadata.from_messages("s", messages, when_empty=messages[0].timestamp)
    assert derived.usage == {"m1": TokenTotals(40, 6, 46, 2), "m2": TokenTotals(20, 3, 23, 1)}
    recorded = SessionMetadata.new("s", "")
    for message in messages:
        recorded.record_message(message)
    assert recorded.usage == derived.usage
    assert recorded.total_usage == TokenTotals(60, 9, 69, 3)


def test_old_metadata_without_the_new_fields_reads() -> None:
    old = (
        '{"version": 1, "id": "s", "created": "2025-01-01T00:00:00Z", "last_active": "2025-01-01T00:00:00Z"}'
    )
    meta = SessionMetadata.from_json(old)
    assert meta.usage == {} and meta.system_prompt is None


@pytest.mark.parametrize("counts", [[-1, 0, 0, 0], [0, 0, 2**60, 0]])
def test_usage_out_of_range_in_metadata_is_invalid(counts: list[int]) -> None:
    from chatcli.session.errors import InvalidMetadata

    bad = {
        "version": 2,
        "id": "s",
        "created": "2025-01-01T00:00:00Z",
        "last_active": "2025-01-01T00:00:00Z",
        "usage": {
            "m": dict(
                zip(("prompt_tokens", "completion_tokens", "total_tokens", "replies"), counts, strict=True)
            )
        },
    }
    with pytest.raises(InvalidMetadata):
        SessionMetadata.from_json(json.dumps(bad))


def test_the_index_serves_the_totals_to_listings(tmp_path: Path) -> None:
    repo = FileRepository(tmp_path / "s")
    service = SessionService(repo)
    meta = service.start_session([user("q")], "Be brief.")
    service.append(meta.id, _reply("a", "m1", (7, 3, 10)))
    repo.close()
    again = FileRepository(tmp_path / "s")
    [brief] = again.list_briefs()
    assert isinstance(brief, SessionBrief)  # read from the index's columns, not the metadata file
    assert dict(brief.usage) == {"m1": TokenTotals(7, 3, 10, 1)}
    listed = session_to_json(brief)["usage"]
    assert listed == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "replies": 1,
        "by_model": {"m1": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10, "replies": 1}},
    }
    detail = to_json(SessionService(again).show(meta.id))
    assert detail["system_prompt"] == "Be brief." and detail["session"]["usage"] == listed
    assert detail["messages"][-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def test_fork_and_export_import_keep_prompt_and_totals(tmp_path: Path) -> None:
    service = SessionService(FileRepository(tmp_path / "s"))
    meta = service.start_session([user("q"), _reply("a", "m1", (7, 3, 10))], "Be brief.")
    fork = service.fork(meta.id)
    assert fork.system_prompt == "Be brief." and fork.usage == meta.usage
    exported = tmp_path / "e.json"
    exported.write_text(service.export(meta.id))
    other = SessionService(FileRepository(tmp_path / "t"))
    [imported] = other.import_file(exported).imported
    assert imported.system_prompt == "Be brief." and imported.usage == meta.usage


# -- the system prompt, the reply's usage, the toolbar ------------------------------------------------


def test_the_system_prompt_goes_first_and_the_conversation_still_alternates() -> None:
    backend = ScriptedBackend(chunks=("ok",), delay=0, usage=TokenUsage(4, 1, 5))
    replies = ReplyStream(backend, Console(file=None, quiet=True), 24_000)
    history = [user("one"), user("one again"), assistant("reply"), user("two")]
    reply = asyncio.run(replies.stream_shown(history, "Be brief."))
    assert [m.role for m in backend.seen[0]] == ["system", "user", "assistant", "user"]
    assert backend.seen[0][0] == ChatMessage("system", "Be brief.")
    saved = reply_message(reply)
    assert saved is not None
    assert saved.model == "test-model" and saved.usage == ReplyUsage(
        prompt_tokens=4, completion_tokens=1, total_tokens=5
    )
    asyncio.run(replies.stream_shown(history))
    assert [m.role for m in backend.seen[1]] == ["user", "assistant", "user"]


def test_the_toolbar_shows_the_session_tokens_only_when_reported() -> None:
    meta = SessionMetadata.from_messages(
        "s", [user("q"), _reply("a", "m1", (1200, 34, 1234))], when_empty=user("x").timestamp
    )
    text = "".join(part[1] for part in toolbar_text(meta, 2, OfflineBackend()))
    assert "1,234 tokens (1,200 in, 34 out)" in text
    bare = SessionMetadata.from_messages("s", [user("q"), assistant("a")], when_empty=user("x").timestamp)
    assert "tokens" not in "".join(part[1] for part in toolbar_text(bare, 2, OfflineBackend()))


def test_system_prompt_setting_from_flag_env_and_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('system_prompt = """Be\nbrief."""\n')
    assert load_settings({}, {}, config).system_prompt == "Be\nbrief."
    assert load_settings({}, {"CHATCLI_SYSTEM_PROMPT": "env"}, config).system_prompt == "env"
    settings = load_settings({"system_prompt": "flag"}, {"CHATCLI_SYSTEM_PROMPT": "env"}, config)
    assert settings.system_prompt == "flag" and settings.source_of("system_prompt") == "flag --system"
    with pytest.raises(ConfigError, match="--system"):
        load_settings({"system_prompt": "x" * 100_001}, {}, config)


def test_usage_is_saved_as_named_counts_and_a_later_count_is_ignored() -> None:
    meta = SessionMetadata.new("s", "")
    meta.record_message(_reply("1", "m1", (10, 2, 12)))
    saved = json.loads(meta.to_json())
    assert saved["usage"] == {
        "m1": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12, "replies": 1}
    }
    saved["usage"]["m1"]["cached_tokens"] = 7  # what a later version may add
    again = SessionMetadata.from_json(json.dumps(saved))
    assert again.usage == {"m1": TokenTotals(10, 2, 12, 1)}
    assert json.loads(again.to_json())["usage"] == json.loads(meta.to_json())["usage"]
