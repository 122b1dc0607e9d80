"""Re-export of :mod:`chatcli.sanitize` for the rendering layer (where it is mostly used)."""

from chatcli.sanitize import clean, clean_inline, clean_lines, escape_markup, safe_text

__all__ = ["clean", "clean_inline", "clean_lines", "escape_markup", "safe_text"]
