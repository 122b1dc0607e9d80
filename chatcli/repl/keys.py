"""Key bindings of the chat prompt, and how long a lone Esc waits for a key to combine with."""

from __future__ import annotations

from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent, Completion
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

__all__ = ["ESCAPE_TIMEOUT", "chat_key_bindings", "complete_on_tab", "quick_escape"]

#: Seconds a lone Esc waits for a following key (prompt_toolkit's defaults are 0.5 s + 1 s): after
#: that it is a plain Esc, so a key typed after it is typed, never read as Alt+key. Alt+Enter still
#: works: the terminal sends Esc and Enter together.
ESCAPE_TIMEOUT = 0.05


def quick_escape(app: Application[Any]) -> None:
    """Make a lone Esc count as Esc after :data:`ESCAPE_TIMEOUT` in ``app``."""
    app.ttimeoutlen = ESCAPE_TIMEOUT
    app.timeoutlen = ESCAPE_TIMEOUT


def chat_key_bindings() -> KeyBindings:
    """Enter sends; Alt+Enter (Esc then Enter at once) inserts a newline; Tab completes.

    Ctrl-C (cancel the input) and Ctrl-D (leave, on an empty line) are prompt_toolkit's defaults
    and are handled by the REPL loop.
    """
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @bindings.add("tab")
    def _tab(event: KeyPressEvent) -> None:
        complete_on_tab(event.current_buffer)

    return bindings


def complete_on_tab(buffer: Buffer) -> None:
    """Tab: a single candidate is inserted at once; several insert what they share and show the menu.

    With the menu open and nothing more in common, Tab moves through the menu. Candidates are
    computed now, from the completer's in-memory snapshot, so a Tab typed right after a word never
    waits for (or misses) the menu being computed in the background.
    """
    state = buffer.complete_state
    if state is not None and state.complete_index is not None:
        buffer.complete_next()
        return
    if buffer.completer is None:
        return
    event = CompleteEvent(completion_requested=True)
    completions = list(buffer.completer.get_completions(buffer.document, event))
    if len(completions) == 1:
        buffer.apply_completion(completions[0])
        return
    common = _common_text(buffer, completions)
    if common is not None:
        buffer.delete_before_cursor(-completions[0].start_position)
        buffer.insert_text(common)
        buffer.complete_state = None
        buffer.start_completion()
    elif state is not None and state.completions:
        buffer.complete_next()
    elif completions:
        buffer.start_completion()


def _common_text(buffer: Buffer, completions: list[Completion]) -> str | None:
    """What every candidate starts with, if it extends the typed word (else None)."""
    if not completions or len({c.start_position for c in completions}) != 1:
        return None
    typed = buffer.document.text_before_cursor[
        len(buffer.document.text_before_cursor) + completions[0].start_position :
    ]
    common = _shared_start([c.text for c in completions])
    if len(common) > len(typed) and common.lower().startswith(typed.lower()):
        return common
    return None


def _shared_start(texts: list[str]) -> str:
    """The longest text every one of ``texts`` starts with."""
    first, last = min(texts), max(texts)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]
