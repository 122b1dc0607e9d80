"""The one transcript renderer: turns, ``sessions show`` and resume on screen, the Markdown export."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

from rich.console import Console

from chatcli.render.terminal import render
from chatcli.render.transcript import (
    MESSAGE_PREVIEW_CHARS,
    RESUME_SHOWN,
    ROLE_LABELS,
    render_resumed,
    render_transcript,
    to_turns,
    transcript_markdown,
)
from chatcli.session.models import Message, SessionMetadata, utc_now
from chatcli.session.outcomes import LoadedSession, SessionDetail

WHEN = datetime(2025, 1, 4, 12, 30, tzinfo=UTC)
SESSION_ID = "1a2b3c4d-0000-4000-8000-000000000001"


def plain_console(width: int = 100) -> tuple[Console, StringIO]:
    buf = StringIO()
    return Console(file=buf, force_terminal=False, width=width, color_system=None), buf


def make_meta(name: str | None = "fix-login", messages: int = 3) -> SessionMetadata:
    meta = SessionMetadata.new(SESSION_ID, "Why does login fail?")
    meta.created = WHEN
    meta.last_active = utc_now() - timedelta(minutes=5)
    meta.message_count = messages
    if name is not None:
        meta.set_name(name)
    return meta


def exchange() -> list[Message]:
    return [
        Message(role="user", content="Why does **login** fail?\x1b[2J", timestamp=WHEN),
        Message(role="assistant", content="The token expired.", timestamp=WHEN, interrupted=True),
        Message(role="system", content="Be brief.", timestamp=WHEN + timedelta(seconds=1)),
    ]


# ------------------------------------------------------------------------------------ turns


def test_turns_label_clean_and_mark_messages() -> None:
    turns = to_turns(exchange())
    assert [t.label for t in turns] == ["You", "Assistant", "System"]
    assert dict(ROLE_LABELS) == {"user": "You", "assistant": "Assistant", "system": "System"}
    assert [t.role for t in turns] == ["user", "assistant", "system"]
    assert turns[0].content == "Why does **login** fail?␛[2J"
    assert [t.interrupted for t in turns] == [False, True, False]
    assert [t.omitted for t in turns] == [0, 0, 0]
    assert turns[2].timestamp == WHEN + timedelta(seconds=1)


def test_turns_cut_long_messages_and_count_the_rest() -> None:
    [turn] = to_turns([Message(role="user", content="x" * 30)], limit=10)
    assert turn.content == "x" * 10
    assert turn.omitted == 20


# ------------------------------------------------------------------------------------ screen


def test_render_transcript_labels_roles() -> None:
    console, buf = plain_console()
    messages = [Message(role="user", content="hi"), Message(role="assistant", content="hello")]
    render_transcript(messages, console)
    output = buf.getvalue()
    assert output.index("You") < output.index("hi") < output.index("Assistant") < output.index("hello")


def test_long_messages_are_cut_on_screen() -> None:
    console, buf = plain_console()
    render_transcript([Message(role="user", content="y" * (MESSAGE_PREVIEW_CHARS + 7))], console)
    assert "… (7 more characters)" in buf.getvalue()


def test_show_and_resume_print_messages_the_same_way() -> None:
    messages = exchange()
    show, show_buf = plain_console()
    render(SessionDetail(make_meta(), messages, 3, []), show)
    resume, resume_buf = plain_console()
    render_resumed(LoadedSession(make_meta(), messages, []), resume)
    alone, alone_buf = plain_console()
    render_transcript(messages, alone)
    transcript = alone_buf.getvalue()
    assert "You · " in transcript and "Assistant · " in transcript and "(interrupted)" in transcript
    assert show_buf.getvalue().endswith(transcript)
    assert resume_buf.getvalue().endswith(transcript)


def test_resume_shows_a_header_the_last_messages_and_warnings() -> None:
    messages = [Message(role="user", content=f"question {i}") for i in range(10)]
    console, buf = plain_console()
    render_resumed(LoadedSession(make_meta(messages=10), messages, ["repaired metadata"]), console)
    output = buf.getvalue()
    assert "Resumed session fix-login (10 messages, last active 5m ago)" in output
    assert f"… {10 - RESUME_SHOWN} earlier messages not shown" in output
    assert f"question {10 - RESUME_SHOWN}" in output
    assert f"question {9 - RESUME_SHOWN}" not in output
    assert "Warning: repaired metadata" in output


def test_resume_of_an_unnamed_session_uses_the_short_id() -> None:
    console, buf = plain_console()
    render_resumed(LoadedSession(make_meta(None, 1), [Message(role="user", content="hi")], []), console)
    output = buf.getvalue()
    assert "Resumed session 1a2b3c4d (1 message, last active" in output
    assert "earlier messages" not in output


# ------------------------------------------------------------------------------------ markdown


def test_markdown_transcript_is_exact() -> None:
    """Times read ``2025-01-04 12:30 UTC`` (not ISO with microseconds), labels are the screen's,
    and what a person typed is fenced so Markdown shows it as typed."""
    meta = make_meta()
    meta.last_active = WHEN + timedelta(hours=1, microseconds=873115)
    assert transcript_markdown(meta, exchange()) == (
        "# Session fix-login\n"
        "\n"
        f"- id: `{SESSION_ID}`\n"
        "- status: active\n"
        "- created: 2025-01-04 12:30 UTC\n"
        "- last active: 2025-01-04 13:30 UTC\n"
        "- messages: 3\n"
        "\n"
        "---\n"
        "\n"
        "**You** · 2025-01-04 12:30 UTC\n"
        "\n"
        "```text\n"
        "Why does **login** fail?␛[2J\n"
        "```\n"
        "\n"
        "---\n"
        "\n"
        "**Assistant** · 2025-01-04 12:30 UTC (interrupted)\n"
        "\n"
        "The token expired.\n"
        "\n"
        "---\n"
        "\n"
        "**System** · 2025-01-04 12:30 UTC\n"
        "\n"
        "```text\n"
        "Be brief.\n"
        "```\n"
    )


def _markdown_blocks(text: str) -> list[tuple[str, str]]:
    """The top-level blocks a Markdown reader sees: (type, content) of each."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt().parse(text)
    return [(t.type, t.content) for t in tokens if t.level == 0 and t.nesting >= 0]


def test_multi_line_messages_are_kept_verbatim_and_fences_cannot_break_out() -> None:
    typed = "first line\nsecond *line*\n\n```\nnot closed here\n````\nstill mine\n"
    messages = [
        Message(role="user", content=typed, timestamp=WHEN),
        Message(role="assistant", content="Here:\n\n```python\nx = 1\n", timestamp=WHEN),  # never closed
        Message(role="assistant", content="# Done\n\n- a\n- b", timestamp=WHEN),
    ]
    text = transcript_markdown(make_meta(), messages)
    blocks = _markdown_blocks(text)
    assert ("fence", typed) in blocks  # the user's message, exactly as typed
    assert ("fence", "Here:\n\n```python\nx = 1\n") in blocks  # a reply that would spill: fenced
    assert "# Done\n\n- a\n- b\n" in text  # a well-formed reply stays Markdown
    assert [line for line in text.split("\n") if line.startswith("**")] == [
        "**You** · 2025-01-04 12:30 UTC",
        "**Assistant** · 2025-01-04 12:30 UTC",
        "**Assistant** · 2025-01-04 12:30 UTC",
    ]
    assert blocks.count(("hr", "")) == 3  # every message's separator is still a separator


def test_markdown_transcript_keeps_long_messages_whole_and_titles_by_id() -> None:
    content = "z" * (MESSAGE_PREVIEW_CHARS * 2)
    text = transcript_markdown(make_meta(None), [Message(role="user", content=content)])
    assert text.startswith(f"# Session {SESSION_ID}\n")
    assert content in text
    assert "more characters" not in text
    assert re.search(r"- messages: 1\n", text)


def test_messages_after_the_last_reply_are_marked_not_answered() -> None:
    messages = [
        Message(role="user", content="first", timestamp=WHEN),
        Message(role="assistant", content="reply", timestamp=WHEN),
        Message(role="user", content="failed once", timestamp=WHEN),
        Message(role="assistant", content="", interrupted=True, timestamp=WHEN),  # an older chatcli's
        Message(role="user", content="failed twice", timestamp=WHEN),
    ]
    turns = to_turns(messages)
    assert [t.unanswered for t in turns] == [False, False, True, False, True]

    console, buf = plain_console()
    render_resumed(LoadedSession(make_meta(messages=5), messages, []), console)
    out = buf.getvalue()
    assert out.count("(not answered)") == 2
    assert "/retry sends it again" in out
    markdown = transcript_markdown(make_meta(), messages)
    assert markdown.count("(not answered)") == 2

    console, buf = plain_console()
    render_resumed(LoadedSession(make_meta(messages=2), messages[:2], []), console)
    assert "not answered" not in buf.getvalue() and "/retry" not in buf.getvalue()


def terminal_console(width: int = 100) -> tuple[Console, StringIO]:
    buf = StringIO()
    return Console(file=buf, force_terminal=True, width=width, color_system="truecolor"), buf


def test_on_a_terminal_show_and_resume_render_replies_as_they_streamed() -> None:
    """``sessions show`` printed a reply's Markdown source while resume rendered it; now both
    render it (as the reply looked when it streamed), and show what a person typed literally."""
    messages = [
        Message(role="user", content="make **this** bold", timestamp=WHEN),
        Message(role="assistant", content="# Answer\n\nThe **token** expired.", timestamp=WHEN),
    ]
    show, show_buf = terminal_console()
    render(SessionDetail(make_meta(messages=2), messages, 2, []), show)
    resume, resume_buf = terminal_console()
    render_resumed(LoadedSession(make_meta(messages=2), messages, []), resume)
    alone, alone_buf = terminal_console()
    render_transcript(messages, alone)
    transcript = alone_buf.getvalue()
    assert show_buf.getvalue().endswith(transcript) and resume_buf.getvalue().endswith(transcript)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", transcript)
    assert "make **this** bold" in plain  # typed text: literal
    assert "The token expired." in plain and "# Answer" not in plain and "**token**" not in plain
    assert re.search(r"You · \S+", plain) and re.search(r"Assistant · \S+", plain)


def test_piped_show_keeps_a_replys_markdown_source() -> None:
    console, buf = plain_console()
    render_transcript([Message(role="assistant", content="# Answer\n\nThe **token** expired.")], console)
    assert "# Answer\n\nThe **token** expired." in buf.getvalue()
