"""Key bindings of the chat prompt."""

from __future__ import annotations

from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

__all__ = ["chat_key_bindings"]


def chat_key_bindings() -> KeyBindings:
    """Enter sends; Esc+Enter or Alt+Enter (the same keys to a terminal) inserts a newline.

    Ctrl-C (cancel the input) and Ctrl-D (leave, on an empty line) are prompt_toolkit's defaults
    and are handled by the REPL loop.
    """
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings
