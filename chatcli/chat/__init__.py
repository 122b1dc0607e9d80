"""Model backends: the streaming protocol, the offline stand-in and OpenAI-compatible APIs.

Nothing here imports ``httpx`` until an OpenAI-compatible request is actually made.
"""

from chatcli.chat.backend import (
    DEFAULT_HISTORY_BUDGET,
    BackendConfigurationError,
    BackendConnectionError,
    BackendError,
    BackendHTTPError,
    BackendRemoteError,
    BackendTimeout,
    ChatBackend,
    ChatMessage,
    MalformedStream,
    StreamInterrupted,
    open_stream,
    to_chat_messages,
    trim_history,
)
from chatcli.chat.factory import create_backend
from chatcli.chat.offline import OfflineBackend

__all__ = [
    "DEFAULT_HISTORY_BUDGET",
    "BackendConfigurationError",
    "BackendConnectionError",
    "BackendError",
    "BackendHTTPError",
    "BackendRemoteError",
    "BackendTimeout",
    "ChatBackend",
    "ChatMessage",
    "MalformedStream",
    "OfflineBackend",
    "StreamInterrupted",
    "create_backend",
    "open_stream",
    "to_chat_messages",
    "trim_history",
]
