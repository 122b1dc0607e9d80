"""Model replies rendered as Markdown: a link never hides where it leads."""

from __future__ import annotations

import pytest
from rich.console import Console

from chatcli.render.reply import render_reply_markdown


def _shown(text: str, *, terminal: bool = True) -> tuple[str, str]:
    """(plain text, text with escape sequences) of a reply printed on a recording console."""
    console = Console(record=True, width=120, force_terminal=terminal, color_system="truecolor")
    console.print(render_reply_markdown(text))
    styled = console.export_text(styles=True, clear=False)
    return console.export_text(), styled


@pytest.mark.parametrize(
    "reply",
    [
        "Log in at [https://github.com/login](https://evil.example/phish) now.",
        "Log in at [github.com](https://evil.example/phish) now.",
        "See [the docs](https://evil.example/phish).",
    ],
)
def test_a_link_shows_its_real_target(reply: str) -> None:
    plain, _ = _shown(reply)
    assert "https://evil.example/phish" in plain, plain


def test_a_link_whose_text_is_its_target_is_shown_once() -> None:
    plain, _ = _shown("Go to <https://example.com/page> or [https://example.com/x](https://example.com/x).")
    assert plain.count("https://example.com/page") == 1, plain
    assert plain.count("https://example.com/x") == 1, plain
