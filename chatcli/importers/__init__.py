"""Readers of other assistants' histories and the writer that imports them into chatcli sessions."""

from __future__ import annotations

__all__ = ["TOOLS"]

#: Every tool ``--from`` names (the usage error lists them; one reader each in
#: :mod:`chatcli.importers.run`). Here, in the package's light root, for the command's spec.
TOOLS = ("amazon-q", "claude-code", "codex", "gemini", "goose", "opencode", "llm")
