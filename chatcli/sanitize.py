"""Neutralise untrusted text before it reaches the terminal.

Session names, first messages, transcripts, search snippets, file names and error details can all
come from somewhere hostile (an imported corpus, a model reply, a cloned repository). Printed
as-is, a terminal would *execute* the escape sequences inside them: clear the screen
(``ESC [2J``), write the clipboard (``ESC ]52;c;…``), plant a hyperlink to an arbitrary URL
(``ESC ]8;;url ESC \\``), or hide text behind a carriage return. Printed through rich as a markup
string, ``[link=…]`` or ``[bold red]`` would be interpreted as well.

Every terminal control sequence starts with a control character: ESC (U+001B) for the 7-bit forms
(CSI, OSC, DCS, APC, PM, SOS and two-character escapes) or a C1 control (U+0080-U+009F, e.g. the
8-bit CSI U+009B and OSC U+009D). :func:`clean` therefore replaces *every* control character
except newline and tab with a visible placeholder; what is left of a sequence (``[2J``,
``]52;c;aGk=``) is ordinary printable text, shown literally and never executed:

* C0 controls U+0000-U+001F become the matching Unicode "control picture" U+2400 + code
  (ESC -> ``␛``, NUL -> ``␀``, CR -> ``␍``, BS -> ``␈``, BEL -> ``␇``);
* DEL U+007F becomes ``␡``;
* C1 controls U+0080-U+009F become the four characters ``\\x9b`` (lowercase hex);
* lone surrogates (which cannot be encoded for output) become U+FFFD ``�``.

A ``\\r\\n`` pair is a Windows line end, not an overwrite trick, and becomes ``\\n``; any other
carriage return is shown as ``␍``.

:func:`clean_inline` is for single-line fields (names, ids, table cells, file names): on top of
:func:`clean` it shows newlines as ``⏎``, tabs as a space, and the invisible characters that
reorder or hide text (bidi embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069,
the marks U+200E, U+200F and U+061C, the separators U+2028 and U+2029) as ``<U+202E>``.
:func:`clean_lines` does the same line by line for multi-line messages that are not prose (error
messages, warnings, notices), keeping their newlines. Message content and model replies (through
:func:`clean`) keep bidi characters, which right-to-left prose legitimately uses.

This module imports rich only inside :func:`escape_markup` and :func:`safe_text`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.style import Style
    from rich.text import Text

__all__ = [
    "NEWLINE_MARK",
    "clean",
    "clean_inline",
    "clean_lines",
    "escape_markup",
    "mask_secret",
    "redact",
    "safe_text",
    "shorten",
]

#: Shown in place of a newline inside a single-line field.
NEWLINE_MARK = "⏎"

_PLACEHOLDERS: dict[str, str] = {chr(code): chr(0x2400 + code) for code in range(0x20)}
_PLACEHOLDERS["\x7f"] = "␡"
_PLACEHOLDERS.update({chr(code): f"\\x{code:02x}" for code in range(0x80, 0xA0)})

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_INLINE_UNSAFE = re.compile("[\n\t\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _placeholder(match: re.Match[str]) -> str:
    char = match.group()
    return _PLACEHOLDERS.get(char, "\ufffd")


def _inline_placeholder(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\n":
        return NEWLINE_MARK
    if char == "\t":
        return " "
    return f"<U+{ord(char):04X}>"


def clean(text: str) -> str:
    """``text`` with every control character except newline and tab replaced by a visible mark.

    Escape sequences lose their introducer (ESC or a C1 control) and so are shown, not run.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _UNSAFE.sub(_placeholder, text)


def clean_inline(text: str) -> str:
    """:func:`clean` for one-line fields: newlines shown as ``⏎``, tabs as spaces, bidi controls
    and line separators as ``<U+XXXX>``."""
    return _INLINE_UNSAFE.sub(_inline_placeholder, clean(text))


def clean_lines(text: str) -> str:
    """:func:`clean_inline` applied to each line of ``text``: newlines kept, tabs as spaces, bidi
    controls and line separators shown as ``<U+XXXX>``."""
    return "\n".join(clean_inline(line) for line in clean(text).split("\n"))


def escape_markup(text: str) -> str:
    """``text`` cleaned and escaped so rich markup shows it literally (``[bold]`` stays visible)."""
    from rich.markup import escape

    return escape(clean(text))


def safe_text(text: str, style: str | Style = "", *, inline: bool = False) -> Text:
    """A rich ``Text`` of the cleaned ``text``: never interpreted as markup, emoji or highlighting.

    ``inline`` cleans with :func:`clean_inline` for single-line fields.
    """
    from rich.text import Text

    return Text(clean_inline(text) if inline else clean(text), style=style)


def shorten(text: str, limit: int = 60) -> str:
    """Cut ``text`` to ``limit`` characters (with an ellipsis) so hostile input stays readable."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mask_secret(value: str | None) -> str:
    """Show a secret safely: ``(not set)``, or a recognisable prefix and the last 4 characters."""
    if not value:
        return "(not set)"
    if len(value) < 12:
        return "(set, hidden)"
    dash = value.find("-", 0, 8)
    prefix = value[: dash + 1] if dash > 0 else ""
    return f"{prefix}…{value[-4:]}"


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by :func:`mask_secret`'s form of it."""
    if not secret or secret not in text:
        return text
    return text.replace(secret, mask_secret(secret))
