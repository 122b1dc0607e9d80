"""chatcli: a terminal chat REPL with real session management."""

__version__ = "0.1.0"
