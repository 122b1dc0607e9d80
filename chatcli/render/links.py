"""Links in model replies: where they lead is always visible, and OSC 8 only where it works.

A terminal that understands OSC 8 hyperlinks makes link text clickable; one that does not (tmux
and GNU screen by default, many others) shows only the underlined text, or garbage. Whether a
terminal does cannot be asked, only guessed from the environment, so :func:`osc8_supported`
answers True only for terminals known to support it and never inside a multiplexer;
``FORCE_HYPERLINK=1`` / ``=0`` overrides the guess (the convention of the ``supports-hyperlinks``
packages).

:func:`prepare_links` rewrites a reply's parsed Markdown the same way in both cases: a link whose
text is not its target is followed by `` (target)`` in plain text, so what a link reads can never
pass for where it leads, and where OSC 8 is off the link carries no target at all (rich then
writes no OSC 8 sequence). Every target is passed through :func:`safe_link_target` first: it
comes from the model, and a control character inside an OSC 8 sequence would end it early.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it.token import Token

__all__ = ["osc8_supported", "prepare_links", "safe_link_target"]

#: ``TERM_PROGRAM`` values of terminals that support OSC 8 hyperlinks.
_OSC8_PROGRAMS = frozenset({"iTerm.app", "WezTerm", "vscode", "ghostty", "Hyper"})
#: ``TERM`` values of terminals that support OSC 8 hyperlinks.
_OSC8_TERMS = frozenset({"xterm-kitty", "xterm-ghostty", "wezterm", "foot", "foot-extra", "contour"})
#: VTE (GNOME Terminal, Tilix, …) supports OSC 8 from 0.50.
_VTE_OSC8 = 5000


def osc8_supported(env: Mapping[str, str]) -> bool:
    """Whether the terminal described by ``env`` is known to support OSC 8 hyperlinks.

    False when unsure: inside tmux or GNU screen, or for a terminal not known to support them.
    """
    forced = env.get("FORCE_HYPERLINK")
    if forced is not None and forced.strip() != "":
        return forced.strip() not in {"0", "false", "no"}
    term = env.get("TERM", "").strip().lower()
    if env.get("TMUX") or env.get("STY") or term.startswith(("screen", "tmux")):
        return False
    if env.get("TERM_PROGRAM", "") in _OSC8_PROGRAMS or term in _OSC8_TERMS:
        return True
    if env.get("KITTY_WINDOW_ID") or env.get("WT_SESSION"):
        return True
    vte = env.get("VTE_VERSION", "")
    return vte.isdigit() and int(vte) >= _VTE_OSC8


def safe_link_target(href: str) -> str:
    """``href`` with every control, format (bidi), separator or blank character percent-encoded.

    What is left is printable and cannot end or extend an OSC 8 sequence, nor reorder the text
    shown after it.
    """
    out = []
    for char in href:
        if char.isspace() or unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}:
            data = char.encode("utf-8", "surrogatepass")
            out.append("".join(f"%{byte:02X}" for byte in data))
        else:
            out.append(char)
    return "".join(out)


def _same_place(label: str, href: str) -> bool:
    """True when a link's text already says where it leads (``<https://x>``, ``<me@example.com>``)."""
    text = label.strip()
    return text in (href, href.removeprefix("mailto:")) or text.rstrip("/") == href.rstrip("/")


def prepare_links(tokens: list[Token], *, osc8: bool) -> None:
    """Make targets safe, reveal each one its text does not show, and drop them when not ``osc8``."""
    from markdown_it.token import Token

    for block in tokens:
        children = block.children
        if not children:
            continue
        revealed: list[Token] = []
        href = ""
        label: list[str] = []
        for token in children:
            revealed.append(token)
            if token.type == "link_open":
                href, label = safe_link_target(str(token.attrs.get("href", ""))), []
                token.attrs["href"] = href if osc8 else ""
            elif token.type == "image":
                token.attrs["src"] = safe_link_target(str(token.attrs.get("src", ""))) if osc8 else ""
            elif token.type in ("text", "code_inline"):
                label.append(token.content)
            elif token.type == "link_close" and not _same_place("".join(label), href):
                revealed.append(Token("text", "", 0, content=f" ({href})"))
        block.children = revealed
