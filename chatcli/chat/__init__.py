"""Model backends: the streaming protocol, the offline stand-in and OpenAI-compatible APIs.

Nothing here imports ``httpx`` until an OpenAI-compatible request is actually made, and the names
below are loaded when first used (PEP 562): the REPL's start, which imports ``chatcli.chat.backend``
and the offline backend, never loads the openai backend's modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatcli.chat.backend import (
        DEFAULT_HISTORY_BUDGET,
        BackendConfigurationError,
        BackendConnectionError,
        BackendError,
        BackendTimeout,
        ChatBackend,
        ChatMessage,
        EmptyReply,
        MalformedStream,
        StreamInterrupted,
        StreamReport,
        TokenUsage,
        open_stream,
    )
    from chatcli.chat.context import build_context, normalize, to_chat_messages, trim_history
    from chatcli.chat.factory import create_backend
    from chatcli.chat.offline import OfflineBackend
    from chatcli.chat.server_errors import ModelServerError, server_error

__all__ = [
    "DEFAULT_HISTORY_BUDGET",
    "BackendConfigurationError",
    "BackendConnectionError",
    "BackendError",
    "BackendTimeout",
    "ChatBackend",
    "ChatMessage",
    "EmptyReply",
    "MalformedStream",
    "ModelServerError",
    "OfflineBackend",
    "StreamInterrupted",
    "StreamReport",
    "TokenUsage",
    "build_context",
    "create_backend",
    "normalize",
    "open_stream",
    "server_error",
    "to_chat_messages",
    "trim_history",
]

#: The module of each name above.
_HOMES = {
    "build_context": "context",
    "normalize": "context",
    "to_chat_messages": "context",
    "trim_history": "context",
    "create_backend": "factory",
    "OfflineBackend": "offline",
    "ModelServerError": "server_errors",
    "server_error": "server_errors",
}


def __getattr__(name: str) -> Any:
    """A name of ``__all__``, imported from its module on first use."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_HOMES.get(name, 'backend')}")
    return getattr(module, name)
