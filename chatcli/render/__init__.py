"""Rendering: typed results and errors to terminal output (rich) or JSON.

Importing this package is cheap: nothing here imports rich (or the session layer) until one of
the names below is first used, so ``chatcli --version`` stays fast. Untrusted text is cleaned
with :mod:`chatcli.sanitize` before it is shown.

* :mod:`chatcli.render.console`: :func:`make_console`; a console configured for its stream.
* :mod:`chatcli.render.terminal`: :func:`render`, :func:`render_error`; command results and
  errors to the terminal (dispatching to :mod:`~chatcli.render.tables`,
  :mod:`~chatcli.render.reports` and :mod:`~chatcli.render.help`).
* :mod:`chatcli.render.transcript`: the one transcript renderer (``sessions show``, resume and
  the Markdown export).
* :mod:`chatcli.render.markdown`: :func:`render_reply_markdown` (a reply as rich Markdown);
  :mod:`chatcli.render.reply`: the live ``ReplyView``, which
  prints finished blocks (:mod:`~chatcli.render.blocks`) to the scrollback as a reply streams;
  :mod:`chatcli.render.links`: link targets shown, OSC 8 only where known to work.
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
    from chatcli.render.markdown import render_reply_markdown
    from chatcli.render.terminal import render, render_error
    from chatcli.render.timefmt import relative_age, short_id

__all__ = [
    "dump_json",
    "error_to_json",
    "make_console",
    "relative_age",
    "render",
    "render_error",
    "render_reply_markdown",
    "short_id",
    "to_json",
]

_HOMES = {
    "make_console": "console",
    "dump_json": "jsonout",
    "error_to_json": "jsonout",
    "to_json": "jsonout",
    "render": "terminal",
    "render_error": "terminal",
    "render_reply_markdown": "markdown",
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
