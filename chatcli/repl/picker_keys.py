"""The session browser's keys: moving, choosing, leaving, the preview, and the action keys with
their prompts (the new name; the y/N question before a delete).

Every binding acts on the browser's state (:class:`~chatcli.repl.picker._Picker`); an action key
writes through the browser's :class:`~chatcli.repl.picker_actions.BrowserActions` at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_toolkit.filters import Condition
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from chatcli.repl.picker_projects import toggle_projects

if TYPE_CHECKING:
    from chatcli.repl.picker import _Picker

__all__ = ["browser_keys"]


def browser_keys(self: _Picker) -> KeyBindings:
    """Up/Down move, Enter chooses the highlighted row, Esc or Ctrl-C cancels; Tab toggles the
    preview; Ctrl-O lists every project's sessions or this project's again; the action keys (see
    :data:`KEYS_HELP`) and their prompts."""
    keys = KeyBindings()
    browsing = Condition(lambda: self.mode == "browse")

    @keys.add("up", filter=browsing)
    def _up(event: KeyPressEvent) -> None:
        self.index = max(0, min(self.index, len(self.matches())) - 1)
        self.moved = True

    @keys.add("down", filter=browsing)
    def _down(event: KeyPressEvent) -> None:
        self.index = min(len(self.matches()), self.index + 1)
        self.moved = True

    @keys.add("enter", filter=browsing)
    def _enter(event: KeyPressEvent) -> None:
        self.finish_filter()
        chosen = self.chosen()
        if chosen is not None:  # with no row highlighted, Enter does nothing
            event.app.exit(result=chosen)

    @keys.add("escape", eager=True, filter=browsing)
    @keys.add("c-c", filter=browsing)
    def _cancel(event: KeyPressEvent) -> None:
        event.app.exit(result=None)

    @keys.add("tab", filter=browsing)
    def _preview(event: KeyPressEvent) -> None:
        self.preview_on = not self.preview_on

    @keys.add("c-o", filter=browsing & Condition(lambda: self.browse is not None))
    def _projects(event: KeyPressEvent) -> None:
        toggle_projects(self)

    _action_keys(self, keys, browsing)
    return keys


def _action_keys(self: _Picker, keys: KeyBindings, browsing: Condition) -> None:
    """Ctrl-R, Ctrl-P, Ctrl-A, Ctrl-D and the rename and delete prompts."""
    can_act = browsing & Condition(lambda: self.actions is not None and self.highlighted() is not None)
    renaming = Condition(lambda: self.mode == "rename")
    confirming = Condition(lambda: self.mode == "delete")

    def act(event: KeyPressEvent, how: str) -> None:
        entry, actions = self.highlighted(), self.actions
        if entry is not None and actions is not None:
            self.apply(actions.toggle_pin(entry) if how == "pin" else actions.toggle_archive(entry))

    keys.add("c-p", filter=can_act)(lambda event: act(event, "pin"))
    keys.add("c-a", filter=can_act)(lambda event: act(event, "archive"))

    @keys.add("c-d", filter=can_act)
    def _delete(event: KeyPressEvent) -> None:
        # The question and the answer are about this session, whatever the list does meanwhile.
        self.mode, self.message, self.target = "delete", "", self.highlighted()

    @keys.add("<any>", filter=confirming)
    @keys.add("escape", eager=True, filter=confirming)
    def _answer(event: KeyPressEvent) -> None:
        entry, actions = self.target, self.actions
        self.mode = "browse"
        if event.data in ("y", "Y") and entry is not None and actions is not None:
            self.apply(actions.delete(entry))
        else:
            self.message = "Nothing deleted."

    @keys.add("c-r", filter=can_act)
    def _rename(event: KeyPressEvent) -> None:
        entry = self.target = self.highlighted()
        self.mode, self.message = "rename", ""
        self.answer.text = (entry.name or "") if entry is not None else ""
        self.answer.cursor_position = len(self.answer.text)
        event.app.layout.focus(self.answer)

    @keys.add("enter", filter=renaming)
    def _save_name(event: KeyPressEvent) -> None:
        entry, actions = self.target, self.actions
        if entry is None or actions is None:
            return
        done = actions.rename(entry, self.answer.text)
        self.apply(done)
        if done.ok:
            self.mode = "browse"
            event.app.layout.focus(self.query)

    @keys.add("escape", eager=True, filter=renaming)
    @keys.add("c-c", filter=renaming)
    def _keep_name(event: KeyPressEvent) -> None:
        self.mode, self.message = "browse", "Name kept."
        event.app.layout.focus(self.query)
