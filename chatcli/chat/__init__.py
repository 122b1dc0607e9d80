"""Model backends: the streaming protocol, the offline stand-in and OpenAI-compatible APIs.

Nothing here imports ``httpx`` until an OpenAI-compatible request is actually made.
"""

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
