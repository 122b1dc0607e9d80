"""Tab completion in the REPL: the sessions snapshot, its ranking index and the completer."""
