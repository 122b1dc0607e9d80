"""Readers of other assistants' histories and the writer that imports them into chatcli sessions."""
