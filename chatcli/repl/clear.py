"""``/clear``: an empty screen with the prompt at the top, without leaving blanks, a stale bottom
bar or an open menu in the terminal's scrollback."""

from __future__ import annotations

from typing import Any

from prompt_toolkit import PromptSession
from rich.console import Console

__all__ = ["clear_prompt_screen"]


def clear_prompt_screen(prompt: PromptSession[Any], console: Console, where: str) -> None:
    """Clear the screen through the prompt's own output, then say which session goes on (``where``).

    What the last prompt left below its line (the bottom bar, a completion menu) is erased
    first, from the cursor down: a terminal that keeps a cleared screen in its scrollback
    (tmux, many emulators) then keeps only what was written, not a screenful of blanks above a
    stale bar. The completion state is dropped so the next prompt opens with no menu. A first
    line then says which session goes on: a prompt drawn at the very top would be erased from
    there when it is answered, which such a terminal takes for another clear.
    """
    prompt.default_buffer.complete_state = None
    console.file.flush()
    output = prompt.app.output
    output.write_raw("\r")
    output.erase_down()
    output.erase_screen()
    output.cursor_goto(0, 0)
    output.flush()
    console.print(f"(screen cleared; you are in {where})", style="dim", markup=False, highlight=False)
