"""How a command names a session: the ``ID`` arguments and ``.`` (or nothing, in the chat) for the
session in use. Shared by the ``sessions`` family, pins and tags, and ``/resume``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.commands.spec import Arg, UsageError

if TYPE_CHECKING:
    from chatcli.commands.context import CommandContext

__all__ = ["CURRENT", "CURRENT_SESSION", "SESSION", "NoCurrentSession", "session_ref"]

SESSION = Arg("id", "session", "session id, unique id prefix (4+ characters) or name ('.': this session)")
#: A session argument that, in the chat, may be left out (or given as ``.``) for the session in use.
CURRENT_SESSION = Arg(
    "id",
    "session",
    "session id, unique id prefix (4+ characters) or name ('.' or none in the chat: this session)",
    current=True,
)
#: How the session in use is spelled wherever an ID is taken (in the chat only).
CURRENT = "."


class NoCurrentSession(UsageError):
    """``.`` or a left-out ID names the session in use, and there is none (yet, or here)."""

    kind = "no_current_session"
    title = "No session in use"


def session_ref(ctx: CommandContext, value: str | None, usage: str) -> str:
    """The session ``value`` names: itself, or the session in use for ``.`` or nothing (chat only).

    On the command line there is no session in use: ``.`` is a usage error saying so (a missing
    ID is refused by the parser already).
    """
    if value is not None and value != CURRENT:
        return value
    if not ctx.in_chat:
        raise NoCurrentSession(
            "'.' means the session you are in, which exists only inside the chat: "
            "give a session id, unique id prefix or name (see: chatcli sessions list)",
            usage,
        )
    if ctx.current_session_id is None:
        raise NoCurrentSession(
            "there is no session in use yet: a new session is saved with its first message. "
            "Send a message first, or give a session ID (see: /sessions list)",
            usage,
        )
    return ctx.current_session_id
