"""The interactive chat REPL.

* :mod:`~chatcli.repl.startup`: from the command line's options to a running REPL (first session,
  input history file);
* :mod:`~chatcli.repl.app`: :class:`~chatcli.repl.app.ChatApp`, the prompt loop, slash commands
  and the session in use;
* :mod:`~chatcli.repl.turn`: a reply streaming on screen (the turn itself: :mod:`chatcli.chat.turn`);
* :mod:`~chatcli.repl.boundary`: the one place where errors become what the user sees;
* :mod:`~chatcli.repl.completion`: tab completion over an in-memory snapshot of the sessions;
* :mod:`~chatcli.repl.picker` (with ``picker_filter``, ``picker_rows``, ``picker_keys``,
  ``picker_actions``): the session browser of ``--resume`` and ``/resume``;
* :mod:`~chatcli.repl.toolbar`, :mod:`~chatcli.repl.keys`: the bottom toolbar, key bindings
  (Ctrl-C: :mod:`chatcli.sigint`).
"""
