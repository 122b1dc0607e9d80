"""Rendering: typed results and errors to terminal output (rich) or JSON.

Importing this package is cheap: nothing here imports rich (or the session layer) until one of
the names below is first used, so ``chatcli --version`` stays fast.

* :mod:`chatcli.render.sanitize`: :func:`clean`, :func:`clean_inline`, :func:`clean_lines`,
  :func:`escape_markup`, :func:`safe_text`; neutralise untrusted text.
* :mod:`chatcli.render.console`: :func:`make_console`; a console configured for its stream.
* :mod:`chatcli.render.results`: :func:`render`, :func:`render_error`,
  :func:`render_reply_markdown`; results to the terminal.
* :mod:`chatcli.render.jsonout`: :func:`to_json`, :func:`error_to_json`, :func:`dump_json`;
  results to JSON (the documented ``--json`` format).
* :mod:`chatcli.render.timefmt`: :func:`relative_age`, :func:`short_id`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatcli.render.console import make_console
    from chatcli.render.jsonout import dump_json, error_to_json, to_json
    from chatcli.render.results import render, render_error, render_reply_markdown
    from chatcli.render.sanitize import clean, clean_inline, clean_lines, escape_markup, safe_text
    from chatcli.render.timefmt import relative_age, short_id

__all__ = [
    "clean",
    "clean_inline",
    "clean_lines",
    "dump_json",
    "error_to_json",
    "escape_markup",
    "make_console",
    "relative_age",
    "render",
    "render_error",
    "render_reply_markdown",
    "safe_text",
    "short_id",
    "to_json",
]

_HOMES = {
    "make_console": "console",
    "dump_json": "jsonout",
    "error_to_json": "jsonout",
    "to_json": "jsonout",
    "render": "results",
    "render_error": "results",
    "render_reply_markdown": "results",
    "clean": "sanitize",
    "clean_inline": "sanitize",
    "clean_lines": "sanitize",
    "escape_markup": "sanitize",
    "safe_text": "sanitize",
    "relative_age": "timefmt",
    "short_id": "timefmt",
}


def __getattr__(name: str) -> object:
    """Import the submodule that defines ``name`` on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
