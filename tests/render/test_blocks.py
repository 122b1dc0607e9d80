"""The streaming reply cut into finished blocks and a live tail, and the view that prints them."""

from __future__ import annotations

from io import StringIO

import pytest
from rich.console import Console

from chatcli.render.blocks import Finished, finished_prefix
from chatcli.render.reply import ReplyView, _Tail, render_reply_markdown


@pytest.mark.parametrize(
    ("text", "done"),
    [
        ("one paragraph, still growing", None),
        ("first\n\nsecond", "first\n\n"),
        ("first\n\nsecond\n\nthi", "first\n\nsecond\n\n"),
        ("# Title\nright under it\n\nnext", "# Title\nright under it\n\n"),
        # a line straight after a paragraph may still continue it ("#" is a heading, "#x" is not)
        ("para\n#", None),
        ("para\n# Heading", None),
        # an unclosed fence runs to the end of the text, blank lines and all
        ("```python\nx = 1\n\ny = 2\n", None),
        ("```python\nx = 1\n```\n\nafter", "```python\nx = 1\n```\n\n"),
        # a list goes on after a blank line while its items do
        ("- one\n\n- two", None),
        ("- one\n\n  more of one", None),
        ("- one\n- two\n\nafter", "- one\n- two\n\n"),
        ("| a | b |\n|---|---|\n| 1 | 2 |\n\nafter", "| a | b |\n|---|---|\n| 1 | 2 |\n\n"),
        ("> quoted\n\nplain", "> quoted\n\n"),
        ("first\n\n   ", None),
        # the next block's first line must be settled: "2" may become "2. two", the list's next item
        ("1. one\n\n2", None),
        ("1. one\n\n2. tw", None),
        ("1. one\n\n2. two\n", None),
        ("1. one\n\nTw", "1. one\n\n"),
        ("1. one\n\n20 items\n", "1. one\n\n"),
    ],
)
def test_finished_prefix(text: str, done: str | None) -> None:
    found = finished_prefix(text)
    assert (text[: found.length] if found else None) == done


def test_a_horizontal_rule_is_not_followed_by_a_blank_line() -> None:
    assert finished_prefix("first\n\nnext") == Finished(len("first\n\n"), gap=True)
    assert finished_prefix("---\n\nnext") == Finished(len("---\n\n"), gap=False)


REPLY = (
    "# A title\n\nSome **bold** text that goes on for a while, long enough to wrap on a narrow "
    "terminal.\n\n- one\n- two\n\n```python\nprint('hi')\n\nprint('there')\n```\n\n---\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n> a quote\n\n1. first\n2. second\n\nThe end, see "
    "[docs](https://example.com/docs)."
)


def _printed(text: str) -> str:
    console = Console(file=StringIO(), force_terminal=False, width=60, color_system=None)
    console.print(render_reply_markdown(text))
    assert isinstance(console.file, StringIO)
    return console.file.getvalue()


@pytest.mark.parametrize("size", [1, 7, 50, 10_000])
def test_a_streamed_reply_ends_printed_as_it_would_be_at_once(size: int) -> None:
    assert _committed_only(REPLY, size) == _printed(REPLY)


def _committed_only(text: str, size: int) -> str:
    """What the view prints for good (not the live redraws) for ``text`` arriving ``size``
    characters at a time."""
    console = Console(file=StringIO(), force_terminal=False, width=60, color_system=None)
    view = ReplyView(console)
    view._live = _RecordingLive(console)  # type: ignore[assignment]
    for end in range(size, len(text) + size, size):
        view.update(text[:end])
    view.__exit__(None, None, None)
    assert isinstance(console.file, StringIO)
    return console.file.getvalue()


class _RecordingLive:
    """Stands in for rich's Live: the view only needs its console."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __exit__(self, *exc_info: object) -> None:
        return


SAMPLES = {
    "paragraph": "Some *text* here.",
    "heading": "## A heading",
    "bullets": "- one\n- two",
    "loose list": "1. one\n\n2. two",
    "fence": "```sh\nls -l\n\necho\n```",
    "indented code": "    code here",
    "rule": "---",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "quote": "> quoted\n> more",
    "html": "<div>x</div>",
}


@pytest.mark.parametrize("first", list(SAMPLES))
def test_every_pair_of_blocks_streams_as_it_prints_at_once(first: str) -> None:
    for second, block in SAMPLES.items():
        text = f"{SAMPLES[first]}\n\n{block}\n\nThe end."
        assert _committed_only(text, 3) == _printed(text), (first, second)


def test_finished_blocks_leave_the_live_tail() -> None:
    console = Console(file=StringIO(), force_terminal=False, width=60, color_system=None)
    view = ReplyView(console)
    view._live = _RecordingLive(console)  # type: ignore[assignment]
    view.update("first paragraph\n\nsecond")
    assert view.tail == "second"
    view.update("first paragraph\n\nsecond paragraph\r\n\r\nthird")
    assert view.tail == "third"
    assert isinstance(console.file, StringIO)
    printed = [line.rstrip() for line in console.file.getvalue().splitlines()]
    assert printed == ["first paragraph", "", "second paragraph"]


def test_the_live_tail_shows_its_last_rows_when_taller_than_the_window() -> None:
    console = Console(file=StringIO(), force_terminal=True, width=40, height=10, color_system=None)
    view = ReplyView(console)
    view.update("```\n" + "".join(f"line {n}\n" for n in range(1, 31)))  # one block, still open
    rows = console.render_lines(_Tail(view), pad=False)
    shown = ["".join(segment.text for segment in row).strip() for row in rows]
    assert len(shown) == 8  # the window's rows less the cursor's line and one spare
    assert shown[0].startswith("… (") and "more lines above" in shown[0]
    assert "line 30" in shown[-2]  # the newest line (the last row is the code block's padding)
    assert not any("line 1 " in row or row.endswith("line 1") for row in shown)


def test_no_text_yet_is_a_spinner() -> None:
    console = Console(file=StringIO(), force_terminal=True, width=40, height=10, color_system=None)
    rows = console.render_lines(_Tail(ReplyView(console)), pad=False)
    assert "thinking" in "".join(segment.text for segment in rows[0])
