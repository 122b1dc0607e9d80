"""Build the configured chat backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.chat.backend import ChatBackend
from chatcli.chat.offline import OfflineBackend

if TYPE_CHECKING:
    from chatcli.config import Settings

__all__ = ["create_backend"]


def create_backend(settings: Settings, *, offline_delay: float = 0.0) -> ChatBackend:
    """The backend ``settings`` select: :class:`OfflineBackend` or :class:`OpenAIBackend`.

    ``offline_delay`` is the pause between streamed tokens of the offline backend (the REPL uses a
    small one so the stand-in reply visibly streams). Raises
    :class:`~chatcli.chat.backend.BackendConfigurationError` for settings the backend cannot use.
    """
    if settings.backend == "offline":
        return OfflineBackend(delay=offline_delay)
    from chatcli.chat.openai import OpenAIBackend

    return OpenAIBackend(
        model=settings.model,
        base_url=settings.base_url,
        api_key=settings.api_key,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.request_timeout,
    )
