"""The sanitiser: hostile control sequences are shown, never executed; ordinary text survives."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from chatcli.sanitize import clean, clean_inline, escape_markup, safe_text

SGR = re.compile(r"\x1b\[[0-9;]*m")
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# (hostile input, what must be visible after clean())
HOSTILE = [
    ("[bold red]x[/]", "[bold red]x[/]"),
    ("[link=https://evil]x[/link]", "[link=https://evil]x[/link]"),
    ("\x1b[2J", "␛[2J"),
    ("\x1b]52;c;aGk=\x07", "␛]52;c;aGk=␇"),
    ("\x1b]8;;http://x\x1b\\t\x1b]8;;\x1b\\", "␛]8;;http://x␛\\t␛]8;;␛\\"),
    ("\x1bP1$qm\x1b\\", "␛P1$qm␛\\"),
    ("\x1b_apc\x1b\\", "␛_apc␛\\"),
    ("\x1bc", "␛c"),
    ("\x9b2J", "\\x9b2J"),
    ("\x9d52;c;aGk=\x9c", "\\x9d52;c;aGk=\\x9c"),
    ("a\x00b", "a␀b"),
    ("safe\rEVIL", "safe␍EVIL"),
    ("abc\b\b\bxyz", "abc␈␈␈xyz"),
    ("del\x7f", "del␡"),
]


def terminal_console(width: int = 100) -> tuple[Console, StringIO]:
    buf = StringIO()
    return Console(file=buf, force_terminal=True, color_system="truecolor", width=width), buf


def assert_inert(output: str) -> None:
    """No escape sequence except rich's own SGR styling, and no raw control characters."""
    stripped = SGR.sub("", output)
    assert "\x1b" not in stripped
    assert FORBIDDEN.search(stripped) is None, repr(stripped)


@pytest.mark.parametrize(("hostile", "visible"), HOSTILE)
def test_clean_shows_hostile_input_literally(hostile: str, visible: str) -> None:
    assert clean(hostile) == visible
    assert FORBIDDEN.search(clean(hostile)) is None


@pytest.mark.parametrize(("hostile", "visible"), HOSTILE)
def test_safe_text_renders_inert_on_a_truecolor_terminal(hostile: str, visible: str) -> None:
    console, buf = terminal_console()
    console.print(safe_text(hostile, "bold"))
    console.print(safe_text(hostile, inline=True))
    output = buf.getvalue()
    assert_inert(output)
    assert visible in SGR.sub("", output)


@pytest.mark.parametrize(("hostile", "visible"), HOSTILE)
def test_escape_markup_is_literal_when_printed_as_markup(hostile: str, visible: str) -> None:
    console, buf = terminal_console()
    console.print(f"[green]{escape_markup(hostile)}[/green]")
    output = buf.getvalue()
    assert_inert(output)
    assert visible in SGR.sub("", output)


def test_markup_in_text_is_never_interpreted() -> None:
    console, buf = terminal_console()
    console.print(safe_text("[link=https://evil]x[/link] [bold red]y[/]"))
    output = buf.getvalue()
    assert "\x1b]8" not in output
    assert "\x1b[1" not in output
    assert "[link=https://evil]x[/link] [bold red]y[/]" in output


def test_ordinary_text_survives_clean() -> None:
    text = "héllo 世界 👨‍👩‍👧 ✓\nsecond line\tafter a tab\nمرحبا \u200f"
    assert clean(text) == text


def test_crlf_becomes_newline_but_lone_cr_is_shown() -> None:
    assert clean("one\r\ntwo\rthree") == "one\ntwo␍three"


def test_lone_surrogates_are_replaced() -> None:
    assert clean("a\ud800b") == "a\ufffdb"


def test_clean_inline_makes_one_visible_line() -> None:
    assert clean_inline("one\ntwo\tthree") == "one⏎two three"
    assert clean_inline("one\r\ntwo") == "one⏎two"


@pytest.mark.parametrize(
    "char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069", "\u200f"]
)
def test_clean_inline_shows_bidi_controls(char: str) -> None:
    out = clean_inline(f"name{char}gnp.exe")
    assert out == f"name<U+{ord(char):04X}>gnp.exe"


def test_rtl_override_in_a_name_renders_visibly() -> None:
    console, buf = terminal_console()
    console.print(safe_text("invoice\u202egnp.exe", inline=True))
    output = SGR.sub("", buf.getvalue())
    assert "invoice<U+202E>gnp.exe" in output
    assert "\u202e" not in output


def test_clean_keeps_bidi_in_multiline_content() -> None:
    assert clean("abc\u202edef") == "abc\u202edef"


def test_safe_text_returns_text_with_style() -> None:
    text = safe_text("[b]x[/b]", "red")
    assert isinstance(text, Text)
    assert text.plain == "[b]x[/b]"
    assert str(text.style) == "red"


@given(st.text())
def test_clean_never_leaves_control_characters(text: str) -> None:
    out = clean(text)
    assert FORBIDDEN.search(out) is None
    assert re.search("[\ud800-\udfff]", out) is None


@given(st.text())
def test_clean_inline_is_one_line(text: str) -> None:
    out = clean_inline(text)
    assert "\n" not in out
    assert "\t" not in out
    assert FORBIDDEN.search(out) is None


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"))))
def test_clean_is_identity_on_text_without_controls(text: str) -> None:
    assert clean(text) == text
