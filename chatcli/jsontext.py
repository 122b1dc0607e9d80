"""JSON text safe to show on a terminal: the one JSON writer of every JSON chatcli prints or saves.

:func:`dumps` keeps text readable (UTF-8, not ``\\uXXXX`` for every accent) but writes the
characters that could drive or deceive a terminal as ``\\uXXXX`` escapes: C0 controls (ESC as
``\\u001b``, by :mod:`json` itself), DEL, C1 controls, U+2028/U+2029, bidi controls and lone
surrogates. Every JSON parser reads the escapes back as the same characters. Pure: no I/O, no
imports from the rest of chatcli, so the session layer (exports) and the renderers (``--json``)
both use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["dumps"]

_EXTRA_ESCAPES = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(obj: Any, *, indent: int | None = 2, default: Callable[[Any], Any] | None = None) -> str:
    """``obj`` as JSON text, control, bidi and invisible line-break characters escaped."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent, default=default)
    return _EXTRA_ESCAPES.sub(_escape, text)
