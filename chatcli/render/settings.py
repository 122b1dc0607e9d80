"""Rendering of ``chatcli --print-config``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatcli.config import Settings
from chatcli.render.console import is_plain, table_box
from chatcli.sanitize import clean_inline

__all__ = ["render_settings"]


def render_settings(settings: Settings, sessions_where: str, console: Console) -> None:
    """The effective settings (secrets masked), where each came from, and the sessions folder."""
    table = Table(
        title="chatcli settings", box=table_box(console), pad_edge=not is_plain(console), title_justify="left"
    )
    table.add_column("setting")
    table.add_column("value")
    table.add_column("from", style="dim")
    for key, value, source in settings.describe():
        table.add_row(key, Text(clean_inline(value)), Text(clean_inline(source)))
    table.add_row("sessions_dir", Text(clean_inline(sessions_where)), "discovery")
    console.print(table)
