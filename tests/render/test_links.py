"""Links in replies: the target visible when the text does not show it, OSC 8 only where known to work."""

from __future__ import annotations

import re
import unicodedata
from io import StringIO

import pytest
from rich.console import Console

from chatcli.render.console import hyperlinks_enabled, make_console
from chatcli.render.links import osc8_supported, safe_link_target
from chatcli.render.reply import render_reply_markdown

SGR = re.compile(r"\x1b\[[0-9;]*m")


def _printed(text: str, *, osc8: bool) -> str:
    buf = StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=200)
    console.print(render_reply_markdown(text, hyperlinks=osc8))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TERM": "xterm-256color"}, False),  # a terminal not known to support them: not sure
        ({"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0"}, False),
        ({"TERM": "screen-256color", "TERM_PROGRAM": "iTerm.app"}, False),  # inside tmux/screen
        ({"TERM": "xterm-256color", "STY": "1.pts-0", "VTE_VERSION": "7600"}, False),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, True),
        ({"TERM": "xterm-256color", "VTE_VERSION": "7600"}, True),
        ({"TERM": "xterm-256color", "VTE_VERSION": "4200"}, False),
        ({"TERM": "xterm-kitty"}, True),
        ({"TERM": "xterm-256color", "WT_SESSION": "x"}, True),
        ({"TERM": "xterm-256color", "TMUX": "x", "FORCE_HYPERLINK": "1"}, True),
        ({"TERM": "xterm-kitty", "FORCE_HYPERLINK": "0"}, False),
    ],
)
def test_osc8_only_where_known_to_work(env: dict[str, str], expected: bool) -> None:
    assert osc8_supported(env) is expected


def test_make_console_decides_from_the_environment() -> None:
    tty = StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert hyperlinks_enabled(make_console(file=tty, env={"TERM": "xterm-kitty"}))
    assert not hyperlinks_enabled(make_console(file=tty, env={"TERM": "xterm-256color"}))
    assert not hyperlinks_enabled(make_console(file=tty, env={"TERM": "tmux-256color", "TMUX": "x"}))
    assert not hyperlinks_enabled(make_console(file=tty, env={"TERM": "xterm-kitty", "NO_COLOR": "1"}))
    assert not hyperlinks_enabled(make_console(file=StringIO(), env={"TERM": "xterm-kitty"}))
    assert not hyperlinks_enabled(Console(file=StringIO(), force_terminal=True))


def test_without_osc8_a_link_shows_its_target_after_its_text() -> None:
    """tmux showed only the underlined text: where the link led was invisible."""
    raw = _printed("See [the **docs**](https://example.com/docs) and <https://example.com/x>.", osc8=False)
    assert "\x1b]8" not in raw
    plain = SGR.sub("", raw)
    assert "See the docs (https://example.com/docs) and https://example.com/x." in plain
    assert plain.count("https://example.com/x") == 1


def test_with_osc8_the_link_is_clickable_and_the_target_still_shown() -> None:
    raw = _printed("See [the docs](https://example.com/docs) or <me@example.com>.", osc8=True)
    assert re.search(r"\x1b\]8;id=\d+;https://example.com/docs\x1b\\", raw)
    plain = re.sub(r"\x1b\]8;[^\x1b]*\x1b\\", "", SGR.sub("", raw))
    assert "See the docs (https://example.com/docs) or me@example.com." in plain


def test_images_carry_no_target_without_osc8() -> None:
    assert "\x1b]8" not in _printed("![a cat](https://example.com/cat.png)", osc8=False)


@pytest.mark.parametrize(
    "target",
    [
        "https://a.example/\x1b]8;;x\x07",
        "https://a.example/\u202egnp.exe",
        "https://a.example/a b\u2028c\x85",
    ],
)
def test_safe_link_targets_carry_no_control_characters(target: str) -> None:
    safe = safe_link_target(target)
    assert safe.startswith("https://a.example/")
    assert not any(ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in safe)
    assert safe_link_target("https://example.com/ok?q=1#x") == "https://example.com/ok?q=1#x"


def test_a_hostile_target_never_reaches_the_terminal_raw() -> None:
    for osc8 in (True, False):
        raw = _printed(
            "[x](<https://a.example/\u202e&#27;[2J\x1b]8;;y>) [y](https://b.example/%1b)", osc8=osc8
        )
        visible = re.sub(r"\x1b\]8;(id=\d+)?;[\x21-\x7e]*\x1b\\", "", SGR.sub("", raw))
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", visible), repr(
            visible
        )
