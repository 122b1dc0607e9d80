"""Commands: one registry drives slash-command dispatch, the command line, help and completion."""
