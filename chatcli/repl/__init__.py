"""The interactive chat REPL."""
